"""Rate limits on reads, per client IP and per API key, for every dialect and for `/mcp`.

Built on the `limits` library's sliding-window counter (O(1) per hit whatever the limit). Counters live
where `rate_limit_storage` says: `memory://` counts in this process; `redis://` (or `rediss://`,
`redis+sentinel://`) is shared by every API server of a fleet and is reached through the async client
(redis-py's asyncio API), so a hit never blocks the event loop on a network round trip. Both the fast
read path (`api/fastread.py`) and the FastAPI dependencies (`api/ratelimit.py`) count through the one
`ReadLimits` of an app, so a request that the fast path hands on is never counted twice.

In-process counting is `LocalWindows`, not `limits`' own memory storage: that one starts a timer thread to
expire counters whenever the previous one ended (every 10 ms under load), and `Thread.start` waits on the
event loop until the new thread runs: measured, it cost the polling path more than its database reads.
The algorithm is the same sliding-window counter.
"""

from __future__ import annotations

import asyncio
import math
import time
from typing import Any

from limits import RateLimitItem, parse
from limits.aio.strategies import SlidingWindowCounterRateLimiter as AsyncSlidingWindowCounter
from limits.storage import storage_from_string

from reelforge.domain.errors import ErrorCode, ReelforgeError

_ASYNC_SCHEMES = ("redis", "rediss", "redis+sentinel", "redis+cluster", "memcached", "mongodb", "valkey")


class LocalWindows:
    """Sliding-window counters in this process: O(1) a hit, no threads, stale counters dropped as it goes.

    A counter holds the previous and the current fixed window's counts; a hit is allowed while the
    previous count weighted by how much of it still overlaps the sliding window, plus the current count,
    stays under the limit (`limits`' sliding-window-counter algorithm). Not thread-safe: used on the event
    loop only.
    """

    def __init__(self) -> None:
        self._counters: dict[tuple[str, ...], list[float]] = {}  # key -> [window start, previous, current]
        self._next_sweep = 0.0

    def hit(self, limit: RateLimitItem, *identifiers: str) -> int | None:
        now = time.time()
        period = float(limit.get_expiry())
        key = (limit.key_for(*identifiers),)
        start = now - now % period
        counter = self._counters.get(key)
        if counter is None:
            counter = self._counters[key] = [start, 0.0, 0.0]
        elif counter[0] != start:
            counter[1] = counter[2] if start - counter[0] == period else 0.0
            counter[0], counter[2] = start, 0.0
        weighted = counter[1] * (period - (now - start)) / period
        if now >= self._next_sweep:
            self._sweep(now, period)
        if weighted + counter[2] + 1 <= limit.amount:
            counter[2] += 1
            return None
        # Allowed again once the previous window's weight has decayed enough, or at the next window.
        if counter[1] > 0 and counter[2] < limit.amount:
            over = weighted + counter[2] + 1 - limit.amount
            wait = over * period / counter[1]
        else:
            wait = start + period - now
        return max(1, math.ceil(wait))

    def _sweep(self, now: float, period: float) -> None:
        stale = [key for key, counter in self._counters.items() if now - counter[0] >= 2 * period]
        for key in stale:
            del self._counters[key]
        self._next_sweep = now + max(period, 1.0)


class _Limiter:
    """One limiter over one storage: in this process for `memory://`, async for a networked store.

    An async client's connections belong to the event loop that opened them, so the networked limiter is
    made per running loop (one in a server; tests may drive one app from several): the counters are in
    the store, nothing is lost by a new client.
    """

    def __init__(self, storage_uri: str) -> None:
        scheme = storage_uri.split("://", 1)[0].lower()
        self._local: LocalWindows | None = None
        self._async: AsyncSlidingWindowCounter | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        if scheme == "memory":
            self._local = LocalWindows()
            return
        base = scheme.removeprefix("async+")
        if base not in _ASYNC_SCHEMES:
            raise ValueError(f"unsupported rate-limit storage {storage_uri!r}: use memory:// or redis://host:port/db")
        self._options: dict[str, Any] = {}
        if base.startswith("redis"):
            self._options["implementation"] = "redispy"  # the client the project already ships (not coredis)
        self._uri = storage_uri if scheme.startswith("async+") else f"async+{storage_uri}"
        storage_from_string(self._uri, **self._options)  # a wrong URI fails at start, not on the first read

    def _networked(self) -> AsyncSlidingWindowCounter:
        loop = asyncio.get_running_loop()
        if self._async is None or self._loop is not loop:
            storage = storage_from_string(self._uri, **self._options)
            self._async = AsyncSlidingWindowCounter(storage)  # type: ignore[arg-type]
            self._loop = loop
        return self._async

    async def hit(self, limit: RateLimitItem, *identifiers: str) -> int | None:
        """Count one hit; None when allowed, else the seconds until the window lets one through."""
        if self._local is not None:
            return self._local.hit(limit, *identifiers)
        limiter = self._networked()
        if await limiter.hit(limit, *identifiers):
            return None
        reset_at, _ = await limiter.get_window_stats(limit, *identifiers)
        return max(1, math.ceil(reset_at - time.time()))


class ReadLimits:
    """`per_ip` and `per_key` (`limits` notation, e.g. `60/minute`; empty: no limit) over one storage.

    A read counts once against its client IP (before authentication, so a flood of bad keys is limited
    too) and once against its API key (after it, wherever the key is sent from: a fleet of pollers
    behind many IPs is limited as one caller).
    """

    def __init__(self, per_ip: str, per_key: str = "", storage_uri: str = "memory://") -> None:
        self.per_ip = parse(per_ip) if per_ip else None
        self.per_key = parse(per_key) if per_key else None
        self._limiter = _Limiter(storage_uri)

    async def ip_retry_after(self, client_ip: str) -> int | None:
        if self.per_ip is None:
            return None
        return await self._limiter.hit(self.per_ip, "query", client_ip)

    async def key_retry_after(self, key_id: str) -> int | None:
        if self.per_key is None:
            return None
        return await self._limiter.hit(self.per_key, "query-key", key_id)

    def error(self, retry_after: int, *, per_key: bool) -> ReelforgeError:
        limit = self.per_key if per_key else self.per_ip
        scope = "API key" if per_key else "client IP"
        return ReelforgeError(
            ErrorCode.RATE_LIMITED,
            f"Too many requests: the limit is {limit} per {scope}; retry after {retry_after} s",
            retry_after=retry_after,
        )
