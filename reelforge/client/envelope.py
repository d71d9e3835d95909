"""The normalized result envelope of the executor contract (`shared/specs/001_*.txt`).

`{ok, status, taskId, data, errorCode, errorMessage, retryAfter}`: one stable shape for every answer and
every failure, so an agent branches on `errorCode` instead of parsing HTTP. The eight codes and how HTTP
answers and network failures map to them live here, in one table.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import httpx

CODES = (
    "INVALID_MODEL",
    "INVALID_PAYLOAD",
    "AUTH_FAILED",
    "RATE_LIMITED",
    "INSUFFICIENT_CREDITS",
    "TASK_NOT_FOUND",
    "NETWORK_ERROR",
    "UNKNOWN_ERROR",
)
BY_STATUS = {
    400: "INVALID_PAYLOAD",
    401: "AUTH_FAILED",
    402: "INSUFFICIENT_CREDITS",
    403: "AUTH_FAILED",
    404: "TASK_NOT_FOUND",
    422: "INVALID_PAYLOAD",
    429: "RATE_LIMITED",
}


@dataclass(frozen=True)
class Envelope:
    ok: bool
    status: str | None = None
    taskId: str | None = None
    data: Any = None
    errorCode: str | None = None
    errorMessage: str | None = None
    retryAfter: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def success(cls, data: Any, task_id: str | None = None, status: str | None = None) -> Envelope:
        return cls(ok=True, status=status, taskId=task_id, data=data)

    @classmethod
    def from_response(cls, response: httpx.Response, task_id: str | None = None) -> Envelope:
        """The failure envelope of a non-2xx answer, whatever shape its body has."""
        try:
            body = response.json()
        except ValueError:
            body = {}
        error = body.get("error") if isinstance(body, dict) and isinstance(body.get("error"), dict) else body
        message = (error.get("message") if isinstance(error, dict) else None) or response.reason_phrase
        server_code = error.get("code") if isinstance(error, dict) else None
        code = server_code if server_code in CODES else BY_STATUS.get(response.status_code, "UNKNOWN_ERROR")
        retry = response.headers.get("retry-after")
        return cls(
            ok=False,
            status=body.get("status") if isinstance(body, dict) else None,
            taskId=task_id,
            data=body or None,
            errorCode=code,
            errorMessage=str(message),
            retryAfter=float(retry) if retry and retry.replace(".", "", 1).isdigit() else None,
        )

    @classmethod
    def network_error(cls, exc: Exception, task_id: str | None = None) -> Envelope:
        return cls(ok=False, taskId=task_id, errorCode="NETWORK_ERROR", errorMessage=f"{type(exc).__name__}: {exc}")


class ClientError(Exception):
    """A failed call; `envelope` says what happened in the contract's terms."""

    def __init__(self, envelope: Envelope) -> None:
        super().__init__(f"{envelope.errorCode}: {envelope.errorMessage}")
        self.envelope = envelope
