"""HMAC-signed, expiring `/files/<key>` links, shared by every backend that serves downloads through reelforge.

A link carries `expires` and `signature` (HMAC-SHA256 over key and expiry with a per-deployment secret kept
in the database), so it can be handed to anyone and stops working on its own, with no session or lookup
needed to check it. Every API server of a deployment shares the secret through the database.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from urllib.parse import quote, urlencode

from reelforge.domain.errors import ErrorCode, ReelforgeError


class UrlSigner:
    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def signature(self, key: str, expires: int) -> str:
        return hmac.new(self._secret, f"{key}\n{expires}".encode(), hashlib.sha256).hexdigest()

    def url(self, base_url: str, key: str, ttl_seconds: int, *, now: float | None = None) -> str:
        """An absolute `/files/<key>` URL valid `ttl_seconds` from `now` (default: the current time)."""
        expires = int((now if now is not None else time.time()) + ttl_seconds)
        query = urlencode({"expires": expires, "signature": self.signature(key, expires)})
        return f"{base_url.rstrip('/')}/files/{quote(key)}?{query}"

    def verify(self, key: str, expires: int, signature: str) -> None:
        """Raise unless the URL was signed by us for this key and has not expired."""
        # Bytes, not str: compare_digest refuses non-ASCII text with a TypeError (a fuzzed link was a 500).
        given = signature.encode("utf-8", "surrogatepass")
        if not hmac.compare_digest(self.signature(key, expires).encode(), given):
            raise ReelforgeError(ErrorCode.FORBIDDEN, "invalid download signature")
        if expires < time.time():
            raise ReelforgeError(
                ErrorCode.LINK_EXPIRED, "this download link has expired; fetch the task again for a fresh link"
            )
