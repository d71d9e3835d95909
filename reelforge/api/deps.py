"""FastAPI dependencies every dialect uses: the wiring the composition root put on `app.state`.

Reading these from the app instead of importing globals keeps dialect modules free of state: the same
module serves every app a test builds.
"""

from __future__ import annotations

from fastapi import Request

from reelforge.api.ratelimit import limit_ip
from reelforge.edge.create import CreatePath
from reelforge.services import Services


async def get_services(request: Request) -> Services:
    """Async on purpose: an attribute read, not worth a thread-pool hop (FastAPI runs sync dependencies there)."""
    return request.app.state.services


async def get_create_path(request: Request) -> CreatePath:
    return request.app.state.create_path


query_limit = limit_ip
"""The per-IP read limit (`REELFORGE_QUERY_RATE_LIMIT`), 429 with Retry-After past it (`api/ratelimit.py`)."""
