"""Every answer carries `X-Request-Id`, and every log line written while serving it carries the same id.

A pure ASGI middleware (not `BaseHTTPMiddleware`): it must wrap streamed downloads and the MCP endpoint
without buffering them, and set the id before any other middleware logs.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from reelforge.observability.context import REQUEST_ID_HEADER, current_request_id, request_id_from

_HEADER = REQUEST_ID_HEADER.encode()


class RequestIdMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        sent = next((value for name, value in scope["headers"] if name == _HEADER), None)
        request_id = request_id_from(sent.decode("latin-1") if sent else None)
        # Not reset afterwards: uvicorn serves each request in its own task, whose context ends with it, and the
        # outermost error middleware still logs (and api/errors.py answers) with the id after this returns.
        current_request_id.set(request_id)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(n, v) for n, v in message.get("headers", []) if n.lower() != _HEADER]
                message["headers"] = [*headers, (_HEADER, request_id.encode())]
            await send(message)

        await self.app(scope, receive, send_with_id)
