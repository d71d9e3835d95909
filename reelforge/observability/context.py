"""The id of the request being served, for every log line written while serving it.

A context variable rather than an argument: the access log, the task service and the store log from deep
inside a request without knowing about HTTP, and asyncio copies the context into every task it starts.
"""

from __future__ import annotations

import re
import uuid
from contextvars import ContextVar

REQUEST_ID_HEADER = "x-request-id"
NO_REQUEST = "-"
"""What a log line written outside any request (a worker, a background loop) carries as its request id."""

_ACCEPTED = re.compile(r"[A-Za-z0-9._:/+=-]{1,128}")
"""An id a client or proxy sent is kept when it looks like one (so one id follows a call through a load
balancer); anything else (too long, spaces, control characters) is replaced, so a log cannot be forged."""

current_request_id: ContextVar[str] = ContextVar("reelforge_request_id", default=NO_REQUEST)


def request_id_from(sent: str | None) -> str:
    """The id for a request: the one sent in `X-Request-Id` when it is well-formed, else a new one."""
    if sent and _ACCEPTED.fullmatch(sent):
        return sent
    return f"req_{uuid.uuid4().hex}"
