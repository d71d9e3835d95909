"""The `Storage` protocol: what the API, the workers and the expiry sweep need of an artifact store.

Two backends satisfy it: `LocalStorage` (a directory, the laptop default) and `S3Storage` (any S3-compatible
bucket, for API servers and workers on different hosts that share only the bucket). Callers type against
this protocol, never a backend, so switching `REELFORGE_STORAGE` changes no code.

Keys are relative, `/`-separated paths such as `tasks/<task id>/video.mp4` or `uploads/<random>.png`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Protocol, runtime_checkable

from reelforge.domain.errors import ErrorCode, ReelforgeError


@runtime_checkable
class Storage(Protocol):
    def put_file(self, key: str, source: Path) -> str:
        """Store the file at `source` under `key` (whole or not at all); returns the key."""
        ...

    def put_bytes(self, key: str, data: bytes) -> str:
        """Store `data` under `key` (whole or not at all); returns the key."""
        ...

    def read_bytes(self, key: str) -> bytes:
        """The stored bytes; FileNotFoundError when there is no such key."""
        ...

    def iter_bytes(self, key: str, chunk_size: int = 1024 * 1024) -> Iterator[bytes]:
        """The stored bytes in chunks, for streaming a large file without holding it whole."""
        ...

    def exists(self, key: str) -> bool: ...

    def size(self, key: str) -> int:
        """The stored file's size in bytes; FileNotFoundError when there is no such key."""
        ...

    def delete(self, key: str) -> None:
        """Remove `key`; a missing key is not an error (deletes are retried and may race)."""
        ...

    def delete_prefix(self, prefix: str) -> None:
        """Remove every key under the directory-like `prefix` (`tasks/x` removes `tasks/x/...` only)."""
        ...

    def signed_url(self, base_url: str, key: str, ttl_seconds: int, *, now: float | None = None) -> str:
        """An absolute download URL for `key` that stops working `ttl_seconds` after `now`."""
        ...

    def verify(self, key: str, expires: int, signature: str) -> None:
        """Raise FORBIDDEN for a `/files` link we did not sign, LINK_EXPIRED for one past its expiry."""
        ...

    def local_path(self, key: str) -> Path | None:
        """The file on this host holding `key`, for serving it directly; None when it lives elsewhere."""
        ...

    def direct_url(self, key: str, ttl_seconds: int) -> str | None:
        """A URL the bytes can be fetched from without going through reelforge (S3: presigned GET);
        None when reelforge serves the file itself."""
        ...


def check_key(key: str) -> str:
    """Refuse keys that could escape the store's root or prefix (absolute, `..`, empty segments)."""
    parts = key.split("/")
    if not key or key.startswith("/") or any(part in ("", ".", "..") for part in parts) or "\\" in key:
        raise ReelforgeError(ErrorCode.TASK_NOT_FOUND, "no such file")
    return key
