"""`UpstreamSettings`: a model's `[models.<name>.settings]` table for the upstream engine.

Checked once, when the engine is created, like the diffusion engine's: a wrong setting is an operator's
mistake, so it raises `ValueError` naming the key (never a value that could be a secret). The API key
itself is never in the table: the table names the environment variable that holds it, and the key is
read from the environment only when a request is validated or run.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from reelforge.domain.errors import ErrorCode, ReelforgeError
from reelforge.domain.request import Kind

PROVIDERS: tuple[str, ...] = ("aivideomaker", "openai-videos")
ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")
"""Upper case on purpose: provider keys are mixed or lower case, so a key pasted here by mistake is refused."""

_KNOWN_KEYS = {
    "provider",
    "base_url",
    "api_key_env",
    "model",
    "kinds",
    "durations",
    "sizes",
    "extensions",
    "poll_interval",
    "max_poll_interval",
    "timeout",
    "request_timeout",
    "max_retries",
    "max_download_bytes",
}


@dataclass(frozen=True)
class UpstreamSettings:
    """What one upstream model entry configures; docs/providers.md explains every key."""

    provider: str  # aivideomaker | openai-videos
    base_url: str  # the provider's root URL, without a trailing slash (and without /v1)
    api_key_env: str  # NAME of the environment variable holding the provider's API key
    model: str  # the provider's model name (AIVideoMaker path segment, OpenAI `model` field)
    kinds: frozenset[Kind] = frozenset()  # empty: what the provider kind and model do
    durations: tuple[float, ...] = ()  # empty: the provider model's own list (AIVideoMaker), else any
    sizes: tuple[str, ...] = ()  # "WxH" the provider accepts; empty: any
    extensions: bool = True  # openai-videos: send Agnes/vLLM/SGLang fields (seed, frame_rate, images ...)
    poll_interval: float = 2.0  # seconds before the first status poll; grows by half each poll
    max_poll_interval: float = 15.0
    timeout: float = 3600.0  # seconds from create to a finished upstream task before giving up
    request_timeout: float = 30.0  # seconds per HTTP request (connect, read)
    max_retries: int = 8  # retries of one request after 429, 5xx or a network error
    max_download_bytes: int = 2 * 1024**3

    @classmethod
    def from_table(cls, table: dict[str, Any]) -> UpstreamSettings:
        unknown = set(table) - _KNOWN_KEYS
        if "api_key" in unknown:
            raise ValueError(
                "upstream engine: never put the provider's key in models.toml; put it in an "
                "environment variable and name that variable in 'api_key_env'"
            )
        if unknown:
            raise ValueError(
                f"unknown upstream engine settings: {', '.join(sorted(unknown))}; "
                f"known: {', '.join(sorted(_KNOWN_KEYS))}"
            )
        provider = str(table.get("provider", ""))
        if provider not in PROVIDERS:
            raise ValueError(
                f"upstream engine setting 'provider' must be one of {', '.join(PROVIDERS)}, "
                f"got {table.get('provider')!r}"
            )
        env_name = str(table.get("api_key_env", ""))
        if not ENV_NAME.match(env_name):
            # The value is not echoed: an operator may have pasted the key itself here.
            raise ValueError(
                "upstream engine setting 'api_key_env' must be the upper-case NAME of the environment "
                "variable that holds the provider's key (e.g. AIVIDEO_API_KEY), not the key itself"
            )
        model = str(table.get("model", "")).strip()
        if not model:
            raise ValueError(
                "upstream engine setting 'model' is required: the provider's model name "
                "(e.g. t2v for AIVideoMaker, agnes-video-v2.0 for Agnes)"
            )
        settings = cls(
            provider=provider,
            base_url=_base_url(table.get("base_url")),
            api_key_env=env_name,
            model=model,
            kinds=frozenset(Kind(k) for k in table.get("kinds", ())),
            durations=tuple(float(d) for d in table.get("durations", ())),
            sizes=tuple(_size(s) for s in table.get("sizes", ())),
            extensions=bool(table.get("extensions", True)),
            poll_interval=float(table.get("poll_interval", 2.0)),
            max_poll_interval=float(table.get("max_poll_interval", 15.0)),
            timeout=float(table.get("timeout", 3600.0)),
            request_timeout=float(table.get("request_timeout", 30.0)),
            max_retries=int(table.get("max_retries", 8)),
            max_download_bytes=int(table.get("max_download_bytes", 2 * 1024**3)),
        )
        if not 0 < settings.poll_interval <= settings.max_poll_interval:
            raise ValueError("upstream engine settings need 0 < poll_interval <= max_poll_interval")
        if settings.timeout <= 0 or settings.request_timeout <= 0 or settings.max_retries < 0:
            raise ValueError(
                "upstream engine settings 'timeout' and 'request_timeout' must be positive and 'max_retries' at least 0"
            )
        return settings

    def api_key(self) -> str:
        """The provider's key from the environment, or UPSTREAM_NOT_CONFIGURED naming the variable (never a value).

        Read on every use rather than kept on the engine, so the key sits in no long-lived object that a
        repr, a log line or a pickled task could carry.
        """
        value = os.environ.get(self.api_key_env, "").strip()
        if not value:
            raise ReelforgeError(
                ErrorCode.UPSTREAM_NOT_CONFIGURED,
                f"this model's hosted provider is not configured on the server: the environment variable "
                f"{self.api_key_env}, which must hold the provider's API key, is not set; ask the operator to "
                f"set it and restart reelforge",
            )
        return value


def _base_url(value: Any) -> str:
    """`https://host[/prefix]` without a trailing slash; a trailing `/v1` (OpenAI SDK style) is dropped."""
    text = str(value or "").strip().rstrip("/")
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(
            "upstream engine setting 'base_url' must be an http(s) URL such as "
            "https://aivideomaker.ai or https://apihub.agnes-ai.com"
        )
    if parts.username or parts.password:
        raise ValueError("upstream engine setting 'base_url' must not carry credentials; use api_key_env")
    return text.removesuffix("/v1")


def _size(value: Any) -> str:
    text = str(value).lower().replace(" ", "")
    width, _, height = text.partition("x")
    if not (width.isdigit() and height.isdigit()):
        raise ValueError(f"upstream engine setting 'sizes' holds WIDTHxHEIGHT strings such as 1280x720, got {value!r}")
    return f"{int(width)}x{int(height)}"
