"""`Idempotency-Key` on creates: every dialect hashes what the caller sent, the task service does the rest.

The digest covers the dialect, the model and the payload as parsed (JSON with sorted keys, uploads by
the SHA-256 of their bytes), not the raw body: a multipart boundary changes on every retry, the request
does not.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from fastapi import Request

from reelforge.domain.errors import invalid

HEADER = "Idempotency-Key"
MAX_KEY_CHARS = 200


def idempotency_of(request: Request, *parts: Any) -> tuple[str | None, str | None]:
    """(key, request digest) for this create, or (None, None) when the caller sent no key."""
    key = request.headers.get(HEADER)
    if key is None:
        return None, None
    key = key.strip()
    if not key or len(key) > MAX_KEY_CHARS:
        raise invalid(f"{HEADER} must be 1 to {MAX_KEY_CHARS} characters", HEADER)
    canonical = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    return key, hashlib.sha256(canonical.encode()).hexdigest()


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
