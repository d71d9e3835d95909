"""Resolving the caller's API key from a request.

Dialects differ in where the key goes (`key` header for AIVideoMaker, `Authorization: Bearer` for the
OpenAI-style APIs); every dialect accepts both, so a key works wherever it is sent.
"""

from __future__ import annotations

from fastapi import Request

from reelforge.accounts.keys import ApiKey


def key_from_headers(request: Request) -> str | None:
    value = request.headers.get("key") or request.headers.get("x-api-key")
    if value:
        return value.strip()
    authorization = request.headers.get("authorization", "")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return None


async def require_key(request: Request) -> ApiKey:
    """FastAPI dependency: the active key, or AUTH_FAILED (rendered as 401 by the dialect).

    Async on purpose: the lookup is one indexed read, far cheaper than a hop through the thread pool
    that FastAPI would use for a sync dependency.
    """
    key = request.app.state.services.keys.authenticate(key_from_headers(request))
    request.state.api_key = key
    return key
