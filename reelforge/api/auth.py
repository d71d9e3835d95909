"""Resolving the caller's API key from a request (where the secret is found: `edge/credentials.py`)."""

from __future__ import annotations

from fastapi import Request

from reelforge.accounts.keys import ApiKey
from reelforge.api.dialect import DEFAULT_AUTH_HINT
from reelforge.domain.errors import ErrorCode, ReelforgeError
from reelforge.edge.credentials import key_from_headers

__all__ = ["key_from_headers", "require_key"]


def require_key(request: Request) -> ApiKey:
    """FastAPI dependency: the active key, or AUTH_FAILED (rendered as 401 by the dialect).

    Every surface accepts the key in every header (`edge/credentials.py`); the 401's message names the scheme
    of the route's own dialect (`DialectRoute.auth_hint`: the `key` header for AIVideoMaker, a Bearer header
    for the OpenAI-style APIs), so a client is told what its contract says. A plain `def`, so FastAPI runs
    the lookup on its thread pool: no database call on the event loop, not even one indexed read
    (docs/design.md, "Database and storage calls from async code").
    """
    secret = key_from_headers(request)
    hint = getattr(request.scope.get("route"), "auth_hint", DEFAULT_AUTH_HINT)
    if not secret:
        raise ReelforgeError(ErrorCode.AUTH_FAILED, f"Missing API key: send it as {hint}")
    try:
        key = request.app.state.services.keys.authenticate(secret)
    except ReelforgeError as exc:
        if exc.code != ErrorCode.AUTH_FAILED:
            raise
        raise ReelforgeError(ErrorCode.AUTH_FAILED, f"Invalid or revoked API key (send it as {hint})") from None
    request.state.api_key = key
    return key
