"""`/mcp` in `reelforge serve`: the MCP server over streamable HTTP, behind the same API keys.

Stateless mode: every POST is self-contained (progress streams back on that POST's SSE response), so
N API servers behind a load balancer need no sticky sessions. The SDK's DNS-rebinding check (Host/Origin
allow-lists) is off because every request must carry an API key a browser page cannot know, and the
server's public host names are the operator's to choose.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from mcp.server import ServerRequestContext
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecuritySettings
from starlette.requests import Request
from starlette.types import Receive, Scope, Send

from reelforge.domain.errors import ErrorCode, ReelforgeError
from reelforge.edge.create import CreatePath
from reelforge.edge.credentials import key_from_headers
from reelforge.edge.ratelimit import ReadLimits
from reelforge.mcp.server import build_server
from reelforge.mcp.tools import Caller, VideoTools
from reelforge.services import Services

PATH = "/mcp"


def session_manager(services: Services, create_path: CreatePath) -> StreamableHTTPSessionManager:
    tools = VideoTools(services, create_path, embed_max_bytes=services.settings.mcp_embed_max_bytes)

    def resolve_caller(ctx: ServerRequestContext[Any]) -> Caller:
        request = ctx.request
        if not isinstance(request, Request):
            raise ReelforgeError(ErrorCode.AUTH_FAILED, "the MCP request carried no HTTP headers to authenticate")
        key = request.state.api_key  # authenticated by `MCPEndpoint` for this very HTTP request
        base_url = services.settings.public_url or str(request.base_url)
        return Caller(key_id=key.id, base_url=base_url)

    return StreamableHTTPSessionManager(
        app=build_server(tools, resolve_caller),
        stateless=True,
        security_settings=TransportSecuritySettings(enable_dns_rebinding_protection=False),
    )


class MCPEndpoint:
    """ASGI app for `/mcp`: refuses a request without a valid key (401) before the MCP layer sees it.

    With `limits`, every request counts against the read limits (per client IP before authentication, per
    key after it), as the dialects' read routes do; past one it is answered 429 with Retry-After.
    """

    def __init__(
        self, services: Services, manager: StreamableHTTPSessionManager, limits: ReadLimits | None = None
    ) -> None:
        self.services = services
        self.manager = manager
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope)
        client = scope.get("client")
        if self.limits is not None:
            retry_after = await self.limits.ip_retry_after(client[0] if client else "unknown")
            if retry_after is not None:
                await _limited(send, self.limits.error(retry_after, per_key=False), retry_after)
                return
        try:
            # Kept in the scope's state, which the SDK's Request for this message shares: tools read it there.
            # The lookup is a database read: off the event loop (docs/design.md, "Database calls").
            request.state.api_key = await asyncio.to_thread(
                self.services.keys.authenticate,
                key_from_headers(request),
            )
        except ReelforgeError as exc:
            await _unauthorized(send, exc)
            return
        if self.limits is not None:
            retry_after = await self.limits.key_retry_after(request.state.api_key.id)
            if retry_after is not None:
                await _limited(send, self.limits.error(retry_after, per_key=True), retry_after)
                return
        await self.manager.handle_request(scope, receive, send)


async def _limited(send: Send, exc: ReelforgeError, retry_after: int) -> None:
    body = json.dumps({"error": {"code": str(exc.code), "message": exc.message}}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 429,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"retry-after", str(retry_after).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def _unauthorized(send: Send, exc: ReelforgeError) -> None:
    body = json.dumps(
        {
            "error": {
                "code": str(exc.code),
                "message": f"{exc.message} (send `Authorization: Bearer <API key>` or a `key` header)",
            }
        }
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 401,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"www-authenticate", b'Bearer realm="reelforge"'),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
