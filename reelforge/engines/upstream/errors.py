"""Mapping a hosted provider's failures onto reelforge's stable codes, without ever echoing the key.

A caller of reelforge should branch on reelforge's codes whatever runs behind a model, so:

- what the caller's own input caused and the provider names with a code reelforge also has
  (`INVALID_PAYLOAD`, `INPUT_FETCH_FAILED`, `PAYLOAD_TOO_LARGE`) keeps that code;
- everything else the provider refuses (its auth, its credits, an unknown model) is `UPSTREAM_ERROR` (502)
  with reelforge's own words and the provider's status and code, not its text: that text is about the
  operator's account and configuration (a provider's "unknown model; available models: ..." listed the
  operator's upstream catalog to every caller), so it goes to the server log instead;
- a generation the provider failed is `UPSTREAM_ERROR` with its reason (about the caller's content);
- a provider that does not answer, stays busy or keeps rate-limiting past the retries is
  `UPSTREAM_UNAVAILABLE` (503).

The provider's own credit errors never become `INSUFFICIENT_CREDITS`: that code means the caller's
reelforge balance, which is not what ran out. Every provider text is scrubbed of the key and shortened
before it reaches a task record, because a provider could quote the header it rejected.
"""

from __future__ import annotations

import logging
from typing import Any

import httpx

from reelforge.domain.errors import ErrorCode, ReelforgeError

log = logging.getLogger(__name__)

PASSED_THROUGH = frozenset({ErrorCode.INVALID_PAYLOAD, ErrorCode.INPUT_FETCH_FAILED, ErrorCode.PAYLOAD_TOO_LARGE})
MAX_MESSAGE = 500
REDACTED = "[redacted]"


def scrub(text: str, secret: str | None) -> str:
    """`text` without `secret`, cut to MAX_MESSAGE characters."""
    if secret:
        text = text.replace(secret, REDACTED)
    text = " ".join(text.split())
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 1] + "…"


def error_fields(body: Any) -> tuple[str | None, str | None]:
    """(code, message) from either dialect's error body: AIVideoMaker's `{status, message, code}`,
    OpenAI's `{error: {message, code, type}}`, or a task's `error: {code, message}`."""
    if not isinstance(body, dict):
        return None, body if isinstance(body, str) and body else None
    error = body.get("error")
    if isinstance(error, dict):
        code = error.get("code") or error.get("type")
        return (str(code) if code else None), (str(error["message"]) if error.get("message") else None)
    if isinstance(error, str) and error:
        return None, error
    code = body.get("code") or body.get("errorCode")
    message = body.get("message") or body.get("errorMessage") or body.get("detail")
    return (str(code) if code else None), (str(message) if message else None)


def _mapped(code: str | None) -> ErrorCode:
    try:
        known = ErrorCode(code) if code else None
    except ValueError:
        known = None
    return known if known in PASSED_THROUGH else ErrorCode.UPSTREAM_ERROR


def _body(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return response.text[:MAX_MESSAGE]


def from_response(response: httpx.Response, secret: str | None, action: str) -> ReelforgeError:
    """The error for a final non-success answer to `action` (e.g. "creating the task")."""
    status = response.status_code
    code, message = error_fields(_body(response))
    detail = f": {scrub(message, secret)}" if message else ""
    if _mapped(code) not in PASSED_THROUGH:  # not about the caller's input: the operator's to read
        if message:
            log.warning(
                "hosted provider answered HTTP %s (%s) while %s: %s", status, code, action, scrub(message, secret)
            )
        detail = ""
    if status in (401, 403):
        return ReelforgeError(
            ErrorCode.UPSTREAM_ERROR,
            f"the hosted provider refused this server's credentials while {action} (HTTP {status}); "
            "the operator must check the provider key",
        )
    if status == 402:
        return ReelforgeError(
            ErrorCode.UPSTREAM_ERROR,
            f"the hosted provider's account has no credits left (HTTP 402 while {action}); "
            "the operator must top it up" + detail,
        )
    if status == 429:
        return unavailable(response, None, action)
    if status >= 500:
        return unavailable(response, None, action)
    named = f", {code}" if code and len(code) <= 64 and code.replace("_", "").isalnum() else ""
    return ReelforgeError(_mapped(code), f"the hosted provider refused {action} (HTTP {status}{named}){detail}")


def from_task(code: str | None, message: str | None, secret: str | None) -> ReelforgeError:
    """The error for a task the provider ended as failed."""
    detail = scrub(message, secret) if message else "it gave no reason"
    return ReelforgeError(_mapped(code), f"the hosted provider failed the task: {detail}")


def unavailable(response: httpx.Response | None, exc: Exception | None, action: str) -> ReelforgeError:
    """The error once retries of `action` are used up (network errors, 429, 5xx)."""
    if response is None:
        reason = f"no answer ({type(exc).__name__})" if exc is not None else "no answer"
    elif response.status_code == 429:
        reason = "it kept rate-limiting (HTTP 429)"
    else:
        reason = f"HTTP {response.status_code}"
    retry_after = None
    if response is not None:
        value = response.headers.get("retry-after", "")
        retry_after = float(value) if value.replace(".", "", 1).isdigit() else None
    return ReelforgeError(
        ErrorCode.UPSTREAM_UNAVAILABLE,
        f"the hosted provider is unavailable while {action}: {reason}; try again later",
        retry_after=retry_after,
    )
