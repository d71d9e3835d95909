"""Turning failures into responses, each dialect in its own error shape.

Dialect modules register an error renderer for their path prefix; anything else gets the generic
`{"error": {"code", "message"}}` body. Unexpected exceptions become INTERNAL_ERROR without leaking details.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from reelforge.domain.errors import ErrorCode, ReelforgeError

log = logging.getLogger(__name__)

ErrorRenderer = Callable[[ReelforgeError], dict]
_HTTP_CODES = {
    401: ErrorCode.AUTH_FAILED,
    404: ErrorCode.NOT_FOUND,
    405: ErrorCode.METHOD_NOT_ALLOWED,
    413: ErrorCode.PAYLOAD_TOO_LARGE,
}
_RENDERERS: list[tuple[str, ErrorRenderer]] = []


def register_error_renderer(prefix: str, renderer: ErrorRenderer) -> None:
    _RENDERERS.append((prefix, renderer))
    _RENDERERS.sort(key=lambda item: len(item[0]), reverse=True)


def generic_body(exc: ReelforgeError) -> dict:
    error: dict = {"code": exc.code.value, "message": exc.message}
    if exc.field:
        error["field"] = exc.field
    return {"error": error}


def error_response(request: Request, exc: ReelforgeError) -> JSONResponse:
    renderer = next((r for prefix, r in _RENDERERS if request.url.path.startswith(prefix)), generic_body)
    headers = {}
    if exc.retry_after is not None:
        headers["Retry-After"] = str(int(exc.retry_after))
    return JSONResponse(renderer(exc), status_code=exc.http_status, headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ReelforgeError)
    async def _reelforge(request: Request, exc: ReelforgeError) -> JSONResponse:
        return error_response(request, exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
        loc = [str(part) for part in first.get("loc", ()) if part not in ("body", "query", "path", "header")]
        field = "/" + "/".join(loc) if loc else None
        message = f"{field or 'request'}: {first.get('msg')}"
        return error_response(request, ReelforgeError(ErrorCode.INVALID_PAYLOAD, message, field=field))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        """Framework errors (no such route, wrong method) in the dialect's own error shape too."""
        code = _HTTP_CODES.get(
            exc.status_code, ErrorCode.INVALID_PAYLOAD if exc.status_code < 500 else ErrorCode.INTERNAL_ERROR
        )
        messages = {
            404: f"No endpoint {request.url.path}; see /docs for the API",
            405: f"{request.method} is not allowed on {request.url.path}",
        }
        return error_response(request, ReelforgeError(code, messages.get(exc.status_code, str(exc.detail))))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return error_response(
            request, ReelforgeError(ErrorCode.INTERNAL_ERROR, "Internal server error; the failure was logged")
        )
