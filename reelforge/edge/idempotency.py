"""`Idempotency-Key` on creates: every surface hashes what the caller sent, the task service does the rest.

The digest covers the dialect, the model and the payload as parsed (JSON with sorted keys, uploads by
the SHA-256 of their bytes), not the raw body: a multipart boundary changes on every retry, the request
does not.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from reelforge.domain.errors import invalid

HEADER = "Idempotency-Key"
MAX_KEY_CHARS = 200


@dataclass(frozen=True)
class Idempotency:
    """The caller's key and a digest of their request; both None when they sent no key."""

    key: str | None = None
    digest: str | None = None

    @classmethod
    def of(cls, key: str | None, *parts: Any, field: str = HEADER) -> Idempotency:
        """Check the caller's key (`field` names where it came from) and digest `parts`, what they sent."""
        if key is None:
            return NO_KEY
        key = key.strip()
        if not key or len(key) > MAX_KEY_CHARS:
            raise invalid(f"{field} must be 1 to {MAX_KEY_CHARS} characters", field)
        canonical = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
        return cls(key, hashlib.sha256(canonical.encode()).hexdigest())


NO_KEY = Idempotency()


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
