"""The fast read path: polling reads (status, details) answered before FastAPI's routing and dependencies.

Why: measured on this machine, a bare FastAPI endpoint answers at about a third of a bare Starlette
endpoint; its routing, dependency solving and exception layers cost more than the whole poll (two indexed
reads). A poll is the hottest request of every dialect (agents poll), so the declared polling reads
(`Dialect.reads`) are served by this ASGI middleware, which sits inside the app's outer middleware (so
whatever wraps the app still sees every request) and does exactly what the route does on success:

1. the per-IP read limit, then the credential from the headers (`edge/credentials.py`);
2. the task and the credential read together (`tasks/reads.py`: batched, off the event loop, never cached,
   so a completion or a revocation shows in the next poll);
3. the per-key read limit; then the dialect's own renderer answers.

Anything else (no credential, an unknown key or task, another key's task, a failure) goes on to the
declared FastAPI route, which answers it in the dialect's shape; what this path already counted against
the limits travels in the scope, so nothing is counted twice. A request over a limit is answered here
with 429 and Retry-After in the dialect's error shape.
"""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from reelforge.api.dialect import FastRead
from reelforge.api.ratelimit import COUNTED, client_ip
from reelforge.edge.credentials import key_from_headers
from reelforge.edge.ratelimit import ReadLimits
from reelforge.tasks.reads import Credential, PollReads

log = logging.getLogger(__name__)


FAST_READ = "reelforge.fast_read"
"""Scope key naming the fast read that matched (`/api/v1/tasks/{}/status`): api/metrics.py labels by it."""


class _Matcher:
    """Matches `/prefix/{id}/suffix` paths by prefix and suffix (no regular expression per request)."""

    def __init__(self, reads: tuple[FastRead, ...]) -> None:
        self.routes: list[tuple[str, str, FastRead]] = []
        for read in reads:
            prefix, marker, suffix = read.path.partition("{}")
            if not marker:
                raise ValueError(f"a fast read's path needs one {{}} for the task id: {read.path!r}")
            self.routes.append((prefix, suffix, read))

    def match(self, path: str) -> tuple[FastRead, str] | None:
        for prefix, suffix, read in self.routes:
            if path.startswith(prefix) and path.endswith(suffix):
                task_id = path[len(prefix) : len(path) - len(suffix)]
                if task_id and "/" not in task_id:
                    return read, task_id
        return None


class FastReads:
    """ASGI middleware answering `reads` for the app whose `state` holds `read_limits` and `poll_reads`."""

    def __init__(self, app: ASGIApp, reads: tuple[FastRead, ...], limits: ReadLimits, polls: PollReads) -> None:
        self.app = app
        self.matcher = _Matcher(reads)
        self.limits = limits
        self.polls = polls

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "GET":
            await self.app(scope, receive, send)
            return
        found = self.matcher.match(scope["path"])
        if found is None:
            await self.app(scope, receive, send)
            return
        read, task_id = found
        scope[FAST_READ] = read.path  # for the HTTP latency metric: which declared route this answered for
        counted: set[str] = set()
        scope[COUNTED] = counted
        retry_after = await self.limits.ip_retry_after(client_ip(scope))
        counted.add("ip")
        if retry_after is not None:
            await self._limited(read, retry_after, per_key=False, scope=scope, receive=receive, send=send)
            return
        request = Request(scope, receive)
        secret = key_from_headers(request)
        credential = None
        if secret:
            credential = Credential.of_token(secret) if read.credential == "public_token" else Credential.of_key(secret)
        polled = await self.polls.read(task_id, credential, full=read.full) if credential else None
        if polled is None:  # not a clean success: the declared route says what is wrong
            await self.app(scope, receive, send)
            return
        retry_after = await self.limits.key_retry_after(polled.key_id)
        counted.add(f"key:{polled.key_id}")
        if retry_after is not None:
            await self._limited(read, retry_after, per_key=True, scope=scope, receive=receive, send=send)
            return
        try:
            response = read.respond(request, polled)
        except Exception:  # rendering failed: the declared route reports it in the dialect's shape
            log.exception("fast read of %s failed; answering through the route", scope["path"])
            await self.app(scope, receive, send)
            return
        await response(scope, receive, send)

    async def _limited(
        self, read: FastRead, retry_after: int, *, per_key: bool, scope: Scope, receive: Receive, send: Send
    ) -> None:
        exc = self.limits.error(retry_after, per_key=per_key)
        response = JSONResponse(
            read.render_error(exc), status_code=exc.http_status, headers={"Retry-After": str(retry_after)}
        )
        await response(scope, receive, send)
