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
    """`max_bytes` everywhere but for multipart bodies under `upload_prefixes`, where file uploads may take
    `upload_max_bytes`. Only multipart gets the larger cap: a JSON body there (a template) is parsed in memory,
    so it keeps the JSON cap (a 20 MB JSON template was buffered, parsed and accepted)."""

    def __init__(
        self, app: ASGIApp, max_bytes: int, upload_max_bytes: int = 0, upload_prefixes: tuple[str, ...] = ()
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.upload_max_bytes = upload_max_bytes
        self.upload_prefixes = upload_prefixes

    def _too_large(self, limit: int) -> ReelforgeError:
        return ReelforgeError(
            ErrorCode.PAYLOAD_TOO_LARGE,
            f"Request body larger than {limit} bytes; send large media as https URLs",
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        uploading = scope["path"].startswith(self.upload_prefixes or ("\0",)) and headers.get(
            b"content-type", b""
        ).lower().startswith(b"multipart/form-data")
        limit = self.upload_max_bytes if uploading else self.max_bytes
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await error_response(Request(scope), self._too_large(limit))(scope, receive, send)
            return
        seen = 0

        async def counting_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise self._too_large(limit)
            return message

        await self.app(scope, counting_receive, send)
