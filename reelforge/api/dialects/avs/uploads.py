"""Reading an AVS create: a JSON body, or multipart with a `request` JSON string and repeated `files` parts.

`read_body` (async) parses the JSON payload and checks each file part's name and type without storing
anything; `CreateBody.files` (blocking: call it off the event loop) reads the parts, checks their sizes and
hashes them for `Idempotency-Key`. The bytes are stored later, by the create's `UploadSession`, under their
file names (job-scoped: `source.uploadName` refers to them), so a refused create keeps none of them.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

from fastapi import Request
from starlette.datastructures import UploadFile

from reelforge.api.dialects.avs.protocol import MAX_FILES
from reelforge.api.dialects.avs.translate import SCREEN_RECORDING, media_type_of
from reelforge.domain import jsontext
from reelforge.domain.errors import invalid
from reelforge.media.sniff import readable_video

MAX_REQUEST_FIELD_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True)
class File:
    """One `files` part, read and checked: what the create stores as `<session prefix>/<name>`."""

    name: str
    type: str  # video | image | audio | screen_recording
    data: bytes
    digest: str  # SHA-256: what an Idempotency-Key compares


@dataclass
class CreateBody:
    payload: Any
    """The JSON payload as sent (the body, or the multipart `request` field)."""
    parts: list[tuple[str, str, UploadFile]] = field(default_factory=list)
    """(name, media type, part) of each `files` part, names unique; not read yet."""

    def files(self, max_file_bytes: int) -> list[File]:
        """Read every part (blocking), refusing empty and oversized files; nothing is stored here."""
        files = []
        for index, (name, kind, part) in enumerate(self.parts):
            pointer = f"files/{index}"
            part.file.seek(0)
            data = part.file.read(max_file_bytes + 1)
            if len(data) > max_file_bytes:
                raise invalid(f"{name} is larger than the {max_file_bytes}-byte upload limit", pointer)
            if not data:
                raise invalid(f"{name} is empty", pointer)
            if kind == SCREEN_RECORDING and not readable_video(data):
                raise invalid(
                    f"{name} is not a screen recording reelforge can read: ffprobe finds no video stream in it "
                    "(a .vidova must be a media container such as MP4, MOV or WebM)",
                    pointer,
                )
            files.append(File(name, kind, data, hashlib.sha256(data).hexdigest()))
        return files


@asynccontextmanager
async def read_body(request: Request) -> AsyncIterator[CreateBody]:
    """The create's payload and file parts; the multipart form (its spooled files) is closed on exit."""
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        try:
            payload = jsontext.loads(await request.body())
        except ValueError as exc:
            raise invalid(
                "the request body must be JSON, or multipart/form-data with a `request` field" + jsontext.why(exc)
            ) from None
        yield CreateBody(payload)
        return
    form = await request.form(max_files=MAX_FILES, max_part_size=MAX_REQUEST_FIELD_BYTES)
    try:
        raw = form.get("request")
        if not isinstance(raw, str):
            raise invalid("multipart requests need a `request` field holding the JSON payload", "request")
        try:
            payload = jsontext.loads(raw)
        except ValueError as exc:
            raise invalid("the `request` field is not valid JSON" + jsontext.why(exc), "request") from None
        if not isinstance(payload, dict):
            raise invalid("the `request` field must hold a JSON object", "request")
        body = CreateBody(payload)
        names: set[str] = set()
        for index, part in enumerate(form.getlist("files")):
            pointer = f"files/{index}"
            if not isinstance(part, UploadFile) or not part.filename:
                raise invalid("each `files` part must be a file with a file name", pointer)
            name = PurePosixPath(part.filename.replace("\\", "/")).name
            if not name or name in (".", ".."):
                raise invalid(f"unusable file name {part.filename!r}", pointer)
            if name in names:
                raise invalid(f"two files are named {name!r}; upload names must be unique", pointer)
            kind = media_type_of(name, part.content_type)
            if kind is None:
                raise invalid(f"{name}: only video, image, audio and subtitle (.srt, .vtt) files are accepted", pointer)
            names.add(name)
            body.parts.append((name, kind, part))
        yield body
    finally:
        await form.close()
