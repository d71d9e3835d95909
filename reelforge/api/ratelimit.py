"""Per-client-IP rate limits with the `limits` library.

The sliding-window-counter strategy costs O(1) per hit whatever the limit (a moving window keeps one
entry per request, which grows slow under high limits); in-memory storage by default, Redis by URI.
"""

from __future__ import annotations

import math
import time

from fastapi import Request
from limits import parse
from limits.storage import storage_from_string
from limits.strategies import SlidingWindowCounterRateLimiter

from reelforge.domain.errors import ErrorCode, ReelforgeError


class QueryRateLimit:
    """A FastAPI dependency enforcing one limit (e.g. `60/minute`) per client IP on the routes using it."""

    def __init__(self, limit: str, storage_uri: str = "memory://") -> None:
        self.limit = parse(limit)
        self.limiter = SlidingWindowCounterRateLimiter(storage_from_string(storage_uri))

    async def __call__(self, request: Request) -> None:
        client_ip = request.client.host if request.client else "unknown"
        if self.limiter.hit(self.limit, "query", client_ip):
            return
        reset_at, _remaining = self.limiter.get_window_stats(self.limit, "query", client_ip)
        retry_after = max(1, math.ceil(reset_at - time.time()))
        raise ReelforgeError(
            ErrorCode.RATE_LIMITED,
            f"Too many requests: the limit is {self.limit}; retry after {retry_after} s",
            retry_after=retry_after,
        )
