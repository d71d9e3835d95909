"""Reading an AVS create request: a JSON body, or multipart with a `request` JSON string and `files` parts.

Uploaded files are job-scoped: each is stored under a fresh prefix and referred to by its file name
(`source.uploadName`). Nothing is kept if the request is refused: the caller deletes what `stored_keys`
lists.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import mimetypes
import secrets
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

from fastapi import Request
from starlette.datastructures import UploadFile

from reelforge.domain.errors import invalid
from reelforge.storage.base import Storage

MAX_FILES = 50
CHUNK = 1024 * 1024


@dataclass
class Upload:
    name: str
    key: str
    type: str  # video | image | audio
    size: int
    digest: str  # SHA-256 of the bytes: what an Idempotency-Key compares


@dataclass
class ParsedRequest:
    payload: dict[str, Any]
    uploads: dict[str, Upload] = field(default_factory=dict)

    @property
    def stored_keys(self) -> list[str]:
        return [upload.key for upload in self.uploads.values()]


def media_type_of(name: str, content_type: str | None) -> str | None:
    """`video`, `image` or `audio` from the declared content type, else from the file name."""
    for candidate in (content_type or "", mimetypes.guess_type(name)[0] or ""):
        major = candidate.split("/")[0].lower()
        if major in ("video", "image", "audio"):
            return major
    return None


async def parse_request(request: Request, storage: Storage, max_file_bytes: int) -> ParsedRequest:
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        return await _parse_multipart(request, storage, max_file_bytes)
    try:
        payload = await request.json()
    except ValueError:
        raise invalid("the request body must be JSON, or multipart/form-data with a `request` field") from None
    if not isinstance(payload, dict):
        raise invalid("the request body must be a JSON object")
    return ParsedRequest(payload)


async def _parse_multipart(request: Request, storage: Storage, max_file_bytes: int) -> ParsedRequest:
    form = await request.form(max_files=MAX_FILES, max_part_size=4 * 1024 * 1024)
    raw = form.get("request")
    if not isinstance(raw, str):
        raise invalid("multipart requests need a `request` field holding the JSON payload", "request")
    try:
        payload = json.loads(raw)
    except ValueError:
        raise invalid("the `request` field is not valid JSON", "request") from None
    if not isinstance(payload, dict):
        raise invalid("the `request` field must hold a JSON object", "request")
    parsed = ParsedRequest(payload)
    prefix = f"uploads/{secrets.token_hex(10)}"
    try:
        for index, part in enumerate(form.getlist("files")):
            pointer = f"files/{index}"
            if not isinstance(part, UploadFile) or not part.filename:
                raise invalid("each `files` part must be a file with a file name", pointer)
            name = PurePosixPath(part.filename.replace("\\", "/")).name
            if not name or name in (".", ".."):
                raise invalid(f"unusable file name {part.filename!r}", pointer)
            if name in parsed.uploads:
                raise invalid(f"two files are named {name!r}; upload names must be unique", pointer)
            kind = media_type_of(name, part.content_type)
            if kind is None:
                raise invalid(f"{name}: only video, image and audio files are accepted", pointer)
            data = await part.read()
            if len(data) > max_file_bytes:
                raise invalid(f"{name} is larger than the {max_file_bytes}-byte upload limit", pointer)
            if not data:
                raise invalid(f"{name} is empty", pointer)
            key = await asyncio.to_thread(storage.put_bytes, f"{prefix}/{name}", data)  # S3: off the loop
            parsed.uploads[name] = Upload(
                name=name, key=key, type=kind, size=len(data), digest=hashlib.sha256(data).hexdigest()
            )
    except Exception:
        for key in parsed.stored_keys:
            storage.delete(key)
        raise
    finally:
        await form.close()
    return parsed
