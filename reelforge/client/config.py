"""Client configuration from arguments or the environment.

`REELFORGE_BASE_URL` / `REELFORGE_API_KEY`, and the executor contract's `AIVIDEO_API_KEY`,
`AIVIDEO_TIMEOUT_MS` (30000) and `AIVIDEO_MAX_RETRIES` (3). Arguments win over the environment. A value
that is not a whole number (or is out of range) raises `ValueError` naming the variable, so the CLI can
answer with an `INVALID_PAYLOAD` envelope instead of a traceback.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

DEFAULT_BASE_URL = "http://127.0.0.1:8000"


@dataclass(frozen=True)
class ClientConfig:
    base_url: str
    api_key: str | None
    timeout: float  # seconds, per HTTP request
    max_retries: int  # for idempotent reads only

    @classmethod
    def resolve(
        cls,
        base_url: str | None = None,
        api_key: str | None = None,
        timeout: float | None = None,
        max_retries: int | None = None,
    ) -> ClientConfig:
        env = os.environ
        return cls(
            base_url=(base_url or env.get("REELFORGE_BASE_URL") or DEFAULT_BASE_URL).rstrip("/"),
            api_key=api_key or env.get("REELFORGE_API_KEY") or env.get("AIVIDEO_API_KEY"),
            timeout=timeout if timeout is not None else env_int("AIVIDEO_TIMEOUT_MS", 30000, minimum=1) / 1000,
            max_retries=max_retries if max_retries is not None else env_int("AIVIDEO_MAX_RETRIES", 3, minimum=0),
        )


def env_int(name: str, default: int, *, minimum: int) -> int:
    """A whole-number environment variable, or `default` when unset; `ValueError` naming `name` otherwise."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{name} must be a whole number (default {default}), got {raw!r}") from None
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value}")
    return value
