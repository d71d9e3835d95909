"""The `Idempotency-Key` header of an HTTP create, as an `Idempotency` for the create path."""

from __future__ import annotations

from typing import Any

from fastapi import Request

from reelforge.edge.idempotency import HEADER, Idempotency


def idempotency_of(request: Request, *parts: Any) -> Idempotency:
    """The caller's key and the digest of `parts` (what they sent), or `NO_KEY` when they sent no key."""
    return Idempotency.of(request.headers.get(HEADER), *parts)
