"""A cap on request body size, enforced before the body is read into memory.

An ASGI middleware rather than a check in the handlers: a handler calling `request.json()` would
already have buffered the whole body. A declared `Content-Length` over the cap is refused at once; a
chunked body is counted as it streams and cut off when it passes the cap.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from reelforge.api.errors import error_response
from reelforge.domain.errors import ErrorCode, ReelforgeError


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    def _too_large(self) -> ReelforgeError:
        return ReelforgeError(
            ErrorCode.PAYLOAD_TOO_LARGE,
            f"Request body larger than {self.max_bytes} bytes; send large images as https URLs",
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await error_response(Request(scope), self._too_large())(scope, receive, send)
            return
        seen = 0

        async def counting_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise self._too_large()
            return message

        await self.app(scope, counting_receive, send)
