"""The read limits as FastAPI dependencies: per client IP before authentication, per API key after it.

Every read route of every dialect declares both (`dependencies=[Depends(query_limit), Depends(...)]`; route
dependencies run before the endpoint's own, so the IP is counted even when the key then fails). The
counters are the app's one `ReadLimits` (`edge/ratelimit.py`). A request the fast read path
(`api/fastread.py`) already counted and then handed on carries what it counted in its scope
(`COUNTED`), and is not counted again.
"""

from __future__ import annotations

from fastapi import Depends, Request
from starlette.types import Scope

from reelforge.accounts.keys import ApiKey
from reelforge.api.auth import require_key
from reelforge.edge.ratelimit import ReadLimits

COUNTED = "reelforge.read_limits.counted"
"""Scope key: the set of what the fast path already counted for this request ("ip", "key:<id>")."""


def client_ip(scope: Scope) -> str:
    client = scope.get("client")
    return client[0] if client else "unknown"


def _limits(request: Request) -> ReadLimits:
    return request.app.state.read_limits


async def limit_ip(request: Request) -> None:
    """429 (Retry-After) once this client IP is past `REELFORGE_QUERY_RATE_LIMIT`."""
    if "ip" in request.scope.get(COUNTED, ()):
        return
    limits = _limits(request)
    retry_after = await limits.ip_retry_after(client_ip(request.scope))
    if retry_after is not None:
        raise limits.error(retry_after, per_key=False)


async def limit_key_id(request: Request, key_id: str) -> None:
    """429 (Retry-After) once `key_id` is past `REELFORGE_KEY_QUERY_RATE_LIMIT`, wherever it calls from."""
    if f"key:{key_id}" in request.scope.get(COUNTED, ()):
        return
    limits = _limits(request)
    retry_after = await limits.key_retry_after(key_id)
    if retry_after is not None:
        raise limits.error(retry_after, per_key=True)


async def limit_key(request: Request, key: ApiKey = Depends(require_key)) -> None:
    """The per-key limit of routes authenticated by `require_key` (FastAPI reuses its answer)."""
    await limit_key_id(request, key.id)


READ_LIMITS = [Depends(limit_ip), Depends(limit_key)]
"""The `dependencies=` of a read route authenticated by an API key."""
