"""Local-directory artifact store with expiring, HMAC-signed download URLs.

Keys are relative paths such as `tasks/<task id>/video.mp4`. A URL carries `expires` and `signature`
(HMAC-SHA256 over key and expiry with a per-deployment secret), so links can be handed to anyone and stop
working on their own, with no session or database lookup to check them.
"""

from __future__ import annotations

import hashlib
import hmac
import shutil
import time
from pathlib import Path
from urllib.parse import quote, urlencode

from reelforge.domain.errors import ErrorCode, ReelforgeError


class LocalStorage:
    def __init__(self, root: Path, signing_secret: bytes) -> None:
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)
        self._secret = signing_secret

    def path(self, key: str) -> Path:
        """The file behind `key`; refuses keys that would leave the storage root."""
        candidate = (self.root / key).resolve()
        if not candidate.is_relative_to(self.root.resolve()):
            raise ReelforgeError(ErrorCode.TASK_NOT_FOUND, "no such file")
        return candidate

    def put_file(self, key: str, source: Path) -> str:
        target = self.path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + ".partial")
        shutil.copyfile(source, tmp)
        tmp.replace(target)  # atomic: a reader sees the whole file or none
        return key

    def put_bytes(self, key: str, data: bytes) -> str:
        target = self.path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + ".partial")
        tmp.write_bytes(data)
        tmp.replace(target)
        return key

    def read_bytes(self, key: str) -> bytes:
        return self.path(key).read_bytes()

    def exists(self, key: str) -> bool:
        return self.path(key).is_file()

    def delete(self, key: str) -> None:
        self.path(key).unlink(missing_ok=True)

    def delete_prefix(self, prefix: str) -> None:
        shutil.rmtree(self.path(prefix), ignore_errors=True)

    # ------------------------------------------------------------ signed URLs

    def _signature(self, key: str, expires: int) -> str:
        return hmac.new(self._secret, f"{key}\n{expires}".encode(), hashlib.sha256).hexdigest()

    def signed_url(self, base_url: str, key: str, ttl_seconds: int, *, now: float | None = None) -> str:
        """An absolute download URL for `key`, valid `ttl_seconds` from `now`."""
        expires = int((now if now is not None else time.time()) + ttl_seconds)
        query = urlencode({"expires": expires, "signature": self._signature(key, expires)})
        return f"{base_url.rstrip('/')}/files/{quote(key)}?{query}"

    def verify(self, key: str, expires: int, signature: str) -> None:
        """Raise unless the URL was signed by us for this key and has not expired."""
        if not hmac.compare_digest(self._signature(key, expires), signature):
            raise ReelforgeError(ErrorCode.FORBIDDEN, "invalid download signature")
        if expires < time.time():
            raise ReelforgeError(
                ErrorCode.LINK_EXPIRED, "this download link has expired; fetch the task again for a fresh link"
            )
