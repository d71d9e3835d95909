"""Resolving the caller's API key from a request (where the secret is found: `edge/credentials.py`)."""

from __future__ import annotations

from fastapi import Request

from reelforge.accounts.keys import ApiKey
from reelforge.edge.credentials import key_from_headers

__all__ = ["key_from_headers", "require_key"]


def require_key(request: Request) -> ApiKey:
    """FastAPI dependency: the active key, or AUTH_FAILED (rendered as 401 by the dialect).

    A plain `def`, so FastAPI runs the lookup on its thread pool: no database call on the event loop, not
    even one indexed read (docs/design.md, "Database and storage calls from async code").
    """
    key = request.app.state.services.keys.authenticate(key_from_headers(request))
    request.state.api_key = key
    return key
