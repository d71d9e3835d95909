"""`Dialect`: what one API contract contributes to the server, as one value.

Each dialect module exports a `DIALECT` built from its router (whose routes carry the contract's error
renderer, so an error is shaped by the route that raised it, not by URL prefix), its task renderer (the
webhook body) and the path prefixes whose unmatched requests (404, 405) it answers. The composition root,
`reelforge.server`, assembles a list of them; adding a contract is one module and one entry in that list.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, Literal

from fastapi import APIRouter, Request, Response
from fastapi.routing import APIRoute

from reelforge.domain import jsontext
from reelforge.domain.errors import ReelforgeError
from reelforge.domain.task import Task
from reelforge.edge.links import Links
from reelforge.tasks.reads import Polled

ErrorRenderer = Callable[[ReelforgeError], dict[str, Any]]
TaskRenderer = Callable[[Task, Links], dict[str, Any]]


def generic_body(exc: ReelforgeError) -> dict[str, Any]:
    """`{"error": {"code", "message", "field"?}}`: the shape of routes with no contract of their own."""
    error: dict[str, Any] = {"code": exc.code.value, "message": exc.message}
    if exc.field:
        error["field"] = exc.field
    return {"error": error}


class StrictJsonRequest(Request):
    """A request whose `json()` is `jsontext.loads`: FastAPI's declared bodies refuse lone surrogates, deep
    nesting and overflowing numbers as invalid JSON (a 400) instead of storing them or raising a 500."""

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = jsontext.loads(await self.body())
        return self._json


DEFAULT_AUTH_HINT = "`Authorization: Bearer rf_...`"


class DialectRoute(APIRoute):
    """A route that knows its dialect's error shape (read by the error handlers from the matched route)
    and parses declared JSON bodies strictly (`StrictJsonRequest`). `auth_hint` is how its dialect's clients
    send the key, which `require_key`'s 401 names."""

    render_error: ErrorRenderer = staticmethod(generic_body)  # type: ignore[assignment]
    auth_hint: str = DEFAULT_AUTH_HINT

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def strict(request: Request) -> Response:
            return await handler(StrictJsonRequest(request.scope, request.receive))

        return strict


def dialect_router(render_error: ErrorRenderer, *, auth_hint: str | None = None, **kwargs: Any) -> APIRouter:
    """An `APIRouter` whose routes render their errors with `render_error`; a 401 tells the caller to send the
    key as `auth_hint` (default: a Bearer header)."""
    attributes = {"render_error": staticmethod(render_error), "auth_hint": auth_hint or DEFAULT_AUTH_HINT}
    route_class = type("DialectRoute", (DialectRoute,), attributes)
    return APIRouter(route_class=route_class, **kwargs)


@dataclass(frozen=True)
class FastRead:
    """A polling read the fast path answers (`api/fastread.py`) without the framework's per-request cost.

    The route stays declared in the router (OpenAPI, and every answer that is not a clean success: a bad
    credential, an unknown task, a limit); this only says how the success looks, with the same renderer.
    """

    path: str
    """The route's path with one `{}` where the task id goes, e.g. `/api/v1/tasks/{}/status`."""
    respond: Callable[[Request, Polled], Response]
    """The 200 answer for a polled task (`Polled.task` is set when `full`)."""
    render_error: ErrorRenderer
    full: bool = False
    """Whether the answer needs the whole task (details) or only its status and progress."""
    credential: Literal["key", "public_token"] = "key"
    """An API key (`key`, `x-api-key` or `Authorization: Bearer`), or an AVS `public_api` token."""


@dataclass(frozen=True)
class Dialect:
    name: str
    """The name tasks are stored under (`tasks.dialect`): it picks the webhook renderer for a task."""
    routers: tuple[APIRouter, ...]
    render_error: ErrorRenderer
    render_task: TaskRenderer | None = None
    """The webhook body for one of this dialect's tasks; None when the dialect sends no webhooks."""
    prefixes: tuple[str, ...] = field(default_factory=tuple)
    """Paths whose requests that match no route (404, 405) get this dialect's error shape."""
    reads: tuple[FastRead, ...] = field(default_factory=tuple)
    """The dialect's polling reads (status, details) that the fast read path answers."""
