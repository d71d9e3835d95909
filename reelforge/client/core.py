"""What the sync and async clients share: paths, retry and backoff rules, answer checking.

Only idempotent reads are retried (network failures, 429 and 5xx, up to `max_retries`); a create is
never retried blindly — it carries an `Idempotency-Key` instead, so a caller may repeat it safely.
"""

from __future__ import annotations

import random
import uuid
from typing import Any

import httpx

from reelforge.client.envelope import ClientError, Envelope

RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})
TERMINAL = frozenset({"COMPLETED", "FAILED", "CANCEL"})
USER_AGENT = "reelforge-client/1"


class WaitTimeout(ClientError):
    """`wait` gave up before the task ended (the task itself goes on)."""


def headers(api_key: str | None) -> dict[str, str]:
    result = {"user-agent": USER_AGENT}
    if api_key:
        result["key"] = api_key
    return result


def create_headers(webhook_url: str | None, idempotency_key: str | None) -> dict[str, str]:
    result = {"Idempotency-Key": idempotency_key or uuid.uuid4().hex}
    if webhook_url:
        result["webhookUrl"] = webhook_url
    return result


def checked(response: httpx.Response, task_id: str | None = None) -> Any:
    if response.is_success:
        return response.json()
    raise ClientError(Envelope.from_response(response, task_id))


def retry_delay(attempt: int, response: httpx.Response | None, base: float = 0.5, cap: float = 20.0) -> float:
    """Exponential backoff with full jitter; a server's Retry-After is a floor."""
    delay = random.uniform(0, min(cap, base * 2**attempt))
    retry_after = response.headers.get("retry-after") if response is not None else None
    if retry_after and retry_after.replace(".", "", 1).isdigit():
        delay = max(delay, float(retry_after))
    return delay


POLL_HEADERS = ("openai-poll-after-ms", "poll-after-ms")
POLL_HINTS = ("poll_after_ms", "pollAfterMs")


def poll_advice(response: httpx.Response | None, body: Any = None) -> float | None:
    """Seconds the server asks a poller to wait before asking again, or None when it gave no advice.

    reelforge sends one figure for this everywhere (`reelforge.domain.polling`): the `openai-poll-after-ms`
    header of `/v1/videos`, and `poll_after_ms` in MCP answers. `wait` never polls sooner than it says.
    """
    values: list[Any] = []
    if response is not None:
        values += [response.headers.get(name) for name in POLL_HEADERS]
    if isinstance(body, dict):
        values += [body.get(name) for name in POLL_HINTS]
    for value in values:
        try:
            milliseconds = float(value)
        except (TypeError, ValueError):
            continue
        if milliseconds >= 0:
            return milliseconds / 1000
    return None


def next_poll(current: float, maximum: float) -> float:
    """Polls slow down by half each time (with a little jitter), up to `maximum`."""
    return min(maximum, current * 1.5) * random.uniform(0.9, 1.1)


def should_retry(response: httpx.Response | None, attempt: int, max_retries: int) -> bool:
    return attempt < max_retries and (response is None or response.status_code in RETRYABLE_STATUSES)
