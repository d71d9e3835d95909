"""Upload sessions: the files one create stores before its task exists, and their cleanup.

A create stores its inputs (data: URIs, multipart files) before the task row is written, because the
worker on another host reads them from storage, not from the request. If anything then refuses the create
(a parse error, 402, 409, 503, an engine's 400) or a repeat is answered with an earlier task, those files
belong to no task. The session remembers every key it stored and, when the create ends, deletes each one
the new task does not reference. Dialects never delete uploads themselves.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass

from reelforge.config import Settings
from reelforge.domain.errors import ReelforgeError, invalid
from reelforge.domain.request import STORED_PREFIX
from reelforge.domain.task import Task
from reelforge.media.fetch import check_url, decode_data_uri, is_data_uri
from reelforge.media.images import check_image
from reelforge.storage.base import Storage

log = logging.getLogger(__name__)

IMAGE_EXTENSIONS = {
    "image/png": "png",
    "image/jpeg": "jpg",
    "image/jpg": "jpg",
    "image/webp": "webp",
    "image/gif": "gif",
}


@dataclass(frozen=True)
class StoredImage:
    """An image reference ready for a `GenerationRequest`, plus its size when known at submit time."""

    source: str
    size: tuple[int, int] | None
    stored_key: str | None


@dataclass(frozen=True)
class StoredFile:
    """One stored upload: its `stored:` source for a request, its storage key and the SHA-256 of its bytes."""

    source: str
    key: str
    digest: str
    size: int


class UploadSession:
    """Stores one create's uploads and, in `finish`, deletes those the created task does not reference."""

    def __init__(self, storage: Storage, settings: Settings) -> None:
        self.storage = storage
        self.settings = settings
        self._keys: list[str] = []
        self.prefix = f"uploads/{secrets.token_hex(10)}"
        """Every file of this session lives under this prefix (names stay the caller's, e.g. AVS uploadName)."""

    @property
    def keys(self) -> list[str]:
        return list(self._keys)

    def put(self, data: bytes, name: str) -> StoredFile:
        """Store `data` as `<prefix>/<name>` (a long name shortened: `storage_name`); the caller has checked the
        name and the size."""
        key = self.storage.put_bytes(f"{self.prefix}/{storage_name(name)}", data)
        self._keys.append(key)
        return StoredFile(STORED_PREFIX + key, key, hashlib.sha256(data).hexdigest(), len(data))

    def accept_image(self, value: object, field: str) -> StoredImage:
        """Validate one image given as an http(s) URL or a data URI; a data URI is decoded, checked and stored."""
        if not isinstance(value, str) or not value.strip():
            raise invalid(f"{field} must be an http(s) image URL or a data:image/...;base64,... URI", field)
        value = value.strip()
        if is_data_uri(value):
            decoded = decode_data_uri(value, max_bytes=self.settings.data_uri_max_bytes, field=field)
            size = image_size(decoded.data, field)
            extension = IMAGE_EXTENSIONS.get(decoded.content_type, "img")
            stored = self.put(decoded.data, f"{secrets.token_hex(6)}.{extension}")
            return StoredImage(stored.source, size, stored.key)
        try:
            check_url(value, allow_private=self.settings.private_input_urls_allowed, purpose=field)
        except ReelforgeError as exc:
            exc.field = field
            raise
        return StoredImage(value, None, None)

    def finish(self, task: Task | None) -> None:
        """Delete every stored file `task` does not reference (all of them when no task was created)."""
        kept = set(task.request.stored_keys()) if task is not None else set()
        for key in self._keys:
            if key in kept:
                continue
            try:
                self.storage.delete(key)
            except Exception:  # a leftover upload must not turn a refusal into a 500
                log.exception("could not delete the unused upload %s", key)
        self._keys.clear()


MAX_NAME_BYTES = 120
"""File systems take 255 bytes a name (with `.partial` while writing); S3 keys 1024 in all. Longer caller names
(an AVS upload of 300 characters was a 500) are stored shortened; callers keep referring to them by their own."""


def storage_name(name: str) -> str:
    """`name` when short enough, else its start, a digest of the whole (two long names stay apart) and its
    extension, within `MAX_NAME_BYTES` of UTF-8."""
    if len(name.encode()) <= MAX_NAME_BYTES:
        return name
    stem, dot, extension = name.rpartition(".")
    if not dot or len(extension.encode()) > 16:
        stem, extension = name, ""
    digest = hashlib.sha256(name.encode()).hexdigest()[:12]
    suffix = f"-{digest}" + (f".{extension}" if extension else "")
    budget = MAX_NAME_BYTES - len(suffix.encode())
    return stem.encode()[:budget].decode("utf-8", "ignore") + suffix


def image_size(data: bytes, field: str, what: str = "the data URI") -> tuple[int, int]:
    """The size of an image's bytes, or a 400 naming `field` when a worker could not use them.

    The worker's own rules (`media.images.check_image`: empty, not an image, truncated, over the pixel
    limit), applied before anything is stored or charged, so a bad image never becomes a failed task.
    """
    try:
        return check_image(data)
    except ReelforgeError as exc:
        reason = exc.message.replace("the input image ", "it ", 1).replace("the input ", "it ", 1)
        raise invalid(f"{field}: {what} does not hold a readable image: {reason}", field) from None


def elide_data_uri(value: object) -> object:
    """What `input` echoes back for an image: URLs as given, data URIs shortened to their header and size."""
    if isinstance(value, str) and is_data_uri(value):
        header, _, payload = value.partition(",")
        return f"{header},<{len(payload) * 3 // 4} bytes>"
    return value
