"""Where a caller's secret is found in HTTP headers, for every dialect and for MCP over HTTP.

Dialects differ in where the key goes (`key` header for AIVideoMaker, `Authorization: Bearer` for the
OpenAI-style APIs and MCP); every surface accepts all of them, so a key works wherever it is sent.
"""

from __future__ import annotations

from collections.abc import Mapping


def key_from_headers(request: object) -> str | None:
    """The secret in `request.headers` (`key`, `x-api-key` or `Authorization: Bearer`), or None."""
    headers: Mapping[str, str] = request.headers  # type: ignore[attr-defined]
    value = headers.get("key") or headers.get("x-api-key")
    if value:
        return value.strip()
    scheme, _, token = headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return None
