"""Turning failures into responses, each in the error shape of the dialect that was asked.

The shape comes from the matched route (`DialectRoute.render_error`); a request that matched no route gets
the shape of the dialect whose prefix it falls under (the table the composition root passes in), else the
generic `{"error": {"code", "message"}}`. Unexpected exceptions become INTERNAL_ERROR without details.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from reelforge.api.dialect import ErrorRenderer, generic_body
from reelforge.domain import jsontext
from reelforge.domain.errors import ErrorCode, InvalidValue, ReelforgeError, storage_full
from reelforge.observability.context import REQUEST_ID_HEADER, current_request_id

log = logging.getLogger(__name__)

_HTTP_CODES = {
    401: ErrorCode.AUTH_FAILED,
    404: ErrorCode.NOT_FOUND,
    405: ErrorCode.METHOD_NOT_ALLOWED,
    413: ErrorCode.PAYLOAD_TOO_LARGE,
}


def validation_error(exc: RequestValidationError) -> ReelforgeError:
    """A request-model failure as INVALID_PAYLOAD with a JSON pointer to the first bad field."""
    errors = exc.errors()
    first: dict[str, Any] = dict(errors[0]) if errors else {"loc": (), "msg": "invalid request"}
    loc = [str(part) for part in first.get("loc", ()) if part not in ("body", "query", "path", "header")]
    field = "/" + "/".join(loc) if loc else None
    message = str(first.get("msg", "invalid request")).removeprefix("Value error, ")
    error = (first.get("ctx") or {}).get("error")
    if isinstance(error, InvalidValue):  # the contract's own wording, as the validator wrote it
        return ReelforgeError(ErrorCode.INVALID_PAYLOAD, str(error), field=field)
    if first.get("type") == "json_invalid":  # a declared JSON body that does not parse
        reason = (first.get("ctx") or {}).get("error")
        return ReelforgeError(
            ErrorCode.INVALID_PAYLOAD,
            "the request body must be valid JSON" + (f": {reason}" if jsontext.is_reason(reason) else ""),
        )
    if first.get("type") == "missing":
        message = "is required"
    return ReelforgeError(ErrorCode.INVALID_PAYLOAD, f"{field or 'request'}: {message}", field=field)


def renderer_for(request: Request) -> ErrorRenderer:
    """The matched route's renderer, else that of the longest dialect prefix the path falls under."""
    found = getattr(request.scope.get("route"), "render_error", None)
    if found is not None:
        return found
    path = request.url.path
    prefixes: Sequence[tuple[str, ErrorRenderer]] = getattr(request.app.state, "error_prefixes", ())
    return next((renderer for prefix, renderer in prefixes if path.startswith(prefix)), generic_body)


def error_response(request: Request, exc: ReelforgeError) -> JSONResponse:
    headers = {"Retry-After": str(int(exc.retry_after))} if exc.retry_after is not None else {}
    return JSONResponse(renderer_for(request)(exc), status_code=exc.http_status, headers=headers)


def install_error_handlers(app: FastAPI, prefixes: Sequence[tuple[str, ErrorRenderer]] = ()) -> None:
    """Handlers for every failure; `prefixes` maps unmatched paths to a dialect's renderer."""
    app.state.error_prefixes = sorted(prefixes, key=lambda item: len(item[0]), reverse=True)

    @app.exception_handler(ReelforgeError)
    async def _reelforge(request: Request, exc: ReelforgeError) -> JSONResponse:
        return error_response(request, exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(request, validation_error(exc))

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
        # Answered by Starlette's outermost middleware, past RequestIdMiddleware: the id is set here instead.
        response = _unexpected_response(request, exc)
        response.headers[REQUEST_ID_HEADER] = current_request_id.get()
        return response

    def _unexpected_response(request: Request, exc: Exception) -> JSONResponse:
        full = storage_full(exc)
        if full is not None:  # a full disk (the database's, the uploads'): 503, retry later
            log.error("storage full on %s %s: %s", request.method, request.url.path, exc)
            return error_response(request, full)
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return error_response(
            request,
            ReelforgeError(
                ErrorCode.INTERNAL_ERROR,
                f"Internal server error; the failure was logged with request id {current_request_id.get()}",
            ),
        )
