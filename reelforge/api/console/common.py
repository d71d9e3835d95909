"""What every console route shares: the router (generic error shape), the key dependencies, error docs."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from reelforge.accounts.keys import ApiKey
from reelforge.api.auth import require_key
from reelforge.api.dialect import dialect_router, generic_body
from reelforge.api.openapi import Responses, error_responses
from reelforge.domain.errors import ErrorCode, ReelforgeError

PREFIX = "/api/console"


class ConsoleErrorDetail(BaseModel):
    code: ErrorCode
    message: str
    field: str | None = Field(None, description="JSON pointer of the bad field")


class ConsoleError(BaseModel):
    """Every console error: `{"error": {"code", "message", "field"?}}`."""

    error: ConsoleErrorDetail


ERRORS = {
    400: "Invalid input (INVALID_PAYLOAD, `field` names it) or an unknown model (INVALID_MODEL)",
    401: "Missing, unknown or revoked API key (AUTH_FAILED)",
    402: "Not enough credits (INSUFFICIENT_CREDITS)",
    403: "Not an admin key (FORBIDDEN)",
    404: "No such task, delivery or key, or another key's (NOT_FOUND / TASK_NOT_FOUND)",
    409: "Not possible in the current state (INVALID_STATE)",
    503: "Queue full; retry later (QUEUE_FULL)",
}


def errors(*statuses: int) -> Responses:
    """`responses=` for a console route: each status with the console error body, `default` for the rest."""
    return error_responses(ConsoleError, ERRORS, *statuses)


def console_router(**kwargs: Any) -> APIRouter:
    return dialect_router(generic_body, prefix=PREFIX, **kwargs)


def require_admin(key: ApiKey = Depends(require_key)) -> ApiKey:
    """An admin key, or 403 FORBIDDEN (the key itself is valid: it just may not see every account)."""
    if not key.admin:
        raise ReelforgeError(
            ErrorCode.FORBIDDEN, "This needs an admin key (`reelforge keys create --admin`, or the server's dev key)"
        )
    return key


def base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/")
