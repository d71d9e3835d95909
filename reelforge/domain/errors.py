"""Stable error codes.

Every failure a user can cause maps to one `ErrorCode`; dialects render the code, the HTTP status and the
message in their own shape, so clients can branch on the code rather than parse prose.
"""

from __future__ import annotations

from enum import StrEnum


class ErrorCode(StrEnum):
    INVALID_MODEL = "INVALID_MODEL"
    INVALID_PAYLOAD = "INVALID_PAYLOAD"
    AUTH_FAILED = "AUTH_FAILED"
    FORBIDDEN = "FORBIDDEN"
    INSUFFICIENT_CREDITS = "INSUFFICIENT_CREDITS"
    TASK_NOT_FOUND = "TASK_NOT_FOUND"
    NOT_FOUND = "NOT_FOUND"
    METHOD_NOT_ALLOWED = "METHOD_NOT_ALLOWED"
    PAYLOAD_TOO_LARGE = "PAYLOAD_TOO_LARGE"
    INVALID_STATE = "INVALID_STATE"
    IDEMPOTENCY_CONFLICT = "IDEMPOTENCY_CONFLICT"
    RATE_LIMITED = "RATE_LIMITED"
    QUEUE_FULL = "QUEUE_FULL"
    LINK_EXPIRED = "LINK_EXPIRED"
    OUTPUT_EXPIRED = "OUTPUT_EXPIRED"
    INPUT_FETCH_FAILED = "INPUT_FETCH_FAILED"
    ENGINE_ERROR = "ENGINE_ERROR"
    WORKER_LOST = "WORKER_LOST"
    INTERNAL_ERROR = "INTERNAL_ERROR"
    UPSTREAM_ERROR = "UPSTREAM_ERROR"
    """A hosted provider behind a model refused or failed the task (its message is passed on)."""
    UPSTREAM_UNAVAILABLE = "UPSTREAM_UNAVAILABLE"
    """A hosted provider did not answer, stayed busy or rate-limited past the retries, or ran out of time."""
    UPSTREAM_NOT_CONFIGURED = "UPSTREAM_NOT_CONFIGURED"
    WORK_DIR_UNWRITABLE = "WORK_DIR_UNWRITABLE"
    """A worker could not create the task's scratch folder in the work directory (a server fault; refunded)."""
    STORAGE_FULL = "STORAGE_FULL"
    """The server's disk (uploads, the database, the work directory) is full: retry later; nothing was taken."""
    """A model's hosted provider lacks its API key on this server (the named environment variable is unset)."""


HTTP_STATUS: dict[ErrorCode, int] = {
    ErrorCode.INVALID_MODEL: 400,
    ErrorCode.INVALID_PAYLOAD: 400,
    ErrorCode.AUTH_FAILED: 401,
    ErrorCode.FORBIDDEN: 403,
    ErrorCode.INSUFFICIENT_CREDITS: 402,
    ErrorCode.TASK_NOT_FOUND: 404,
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.METHOD_NOT_ALLOWED: 405,
    ErrorCode.PAYLOAD_TOO_LARGE: 413,
    ErrorCode.INVALID_STATE: 409,
    ErrorCode.IDEMPOTENCY_CONFLICT: 409,
    ErrorCode.LINK_EXPIRED: 410,
    ErrorCode.OUTPUT_EXPIRED: 410,  # the files were deleted after REELFORGE_OUTPUT_TTL; regenerate
    ErrorCode.RATE_LIMITED: 429,
    ErrorCode.QUEUE_FULL: 503,
    ErrorCode.INPUT_FETCH_FAILED: 400,
    ErrorCode.ENGINE_ERROR: 500,
    ErrorCode.WORKER_LOST: 500,
    ErrorCode.WORK_DIR_UNWRITABLE: 500,
    ErrorCode.INTERNAL_ERROR: 500,
    ErrorCode.UPSTREAM_ERROR: 502,
    ErrorCode.UPSTREAM_UNAVAILABLE: 503,
    ErrorCode.UPSTREAM_NOT_CONFIGURED: 503,
    ErrorCode.STORAGE_FULL: 503,
}


_FULL_ERRNOS = frozenset({28, 122})  # ENOSPC, EDQUOT
_FULL_MESSAGES = ("database or disk is full", "no space left on device", "could not extend file")


def storage_full(exc: BaseException) -> ReelforgeError | None:
    """STORAGE_FULL when `exc` (or what caused it: SQLite's "database or disk is full", PostgreSQL's "could not
    extend file", an OSError ENOSPC/EDQUOT) says the disk is full; None otherwise."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ReelforgeError) and current.code == ErrorCode.STORAGE_FULL:
            return current
        if (isinstance(current, OSError) and current.errno in _FULL_ERRNOS) or any(
            text in str(current).lower() for text in _FULL_MESSAGES
        ):
            return ReelforgeError(
                ErrorCode.STORAGE_FULL,
                "The server's storage is full; nothing was stored or charged. Try again later",
                retry_after=60,
            )
        current = current.__cause__ or current.__context__
    return None


class ReelforgeError(Exception):
    """A failure with a stable code and a message that tells the caller what to change.

    `field` names the offending input (a JSON pointer such as `/duration`) when there is one.
    """

    def __init__(
        self, code: ErrorCode, message: str, *, field: str | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field
        self.retry_after = retry_after

    @property
    def http_status(self) -> int:
        return HTTP_STATUS[self.code]


def invalid(message: str, field: str | None = None) -> ReelforgeError:
    return ReelforgeError(ErrorCode.INVALID_PAYLOAD, message, field=field)


class InvalidValue(ValueError):
    """Raised by a protocol model's validator: the API shows its message verbatim, with the field's pointer.

    A plain `ValueError` works too; its message is then prefixed with the pointer ("/duration: ...").
    """
