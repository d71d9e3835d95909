"""`UpstreamSettings`: a model's `[models.<name>.settings]` table for the upstream engine.

Parsed once, like every engine's settings: a wrong setting is an operator's mistake, so parsing raises
`pydantic.ValidationError` (a `ValueError`) naming the key, never echoing a value that could be a secret,
and `reelforge serve` / `worker` / `mcp` refuse to start with it. The API key
itself is never in the table: the table names the environment variable that holds it, and the key is
read from the environment only when a request is validated or run.
"""

from __future__ import annotations

import os
import re
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator

from reelforge.domain.errors import ErrorCode, ReelforgeError
from reelforge.domain.request import Kind
from reelforge.engines.base import EngineSettings

PROVIDERS: tuple[str, ...] = ("aivideomaker", "openai-videos")
ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")
"""Upper case on purpose: provider keys are mixed or lower case, so a key pasted here by mistake is refused."""


class UpstreamSettings(EngineSettings):
    """What one upstream model entry configures; docs/providers.md explains every key."""

    provider: Literal["aivideomaker", "openai-videos"]
    base_url: str  # the provider's root URL, without a trailing slash (and without /v1)
    api_key_env: str  # NAME of the environment variable holding the provider's API key
    model: str  # the provider's model name (AIVideoMaker path segment, OpenAI `model` field)
    kinds: frozenset[Kind] = frozenset()  # empty: what the provider kind and model do
    durations: tuple[float, ...] = ()  # empty: the provider model's own list (AIVideoMaker), else any
    sizes: tuple[str, ...] = ()  # "WxH" the provider accepts; empty: any
    extensions: bool = True  # openai-videos: send Agnes/vLLM/SGLang fields (seed, frame_rate, images ...)
    poll_interval: float = 2.0  # seconds before the first status poll; grows by half each poll
    max_poll_interval: float = 15.0
    timeout: float = Field(3600.0, gt=0)  # seconds from create to a finished upstream task before giving up
    request_timeout: float = Field(30.0, gt=0)  # seconds per HTTP request (connect, read)
    max_retries: int = Field(8, ge=0)  # retries of one request after 429, 5xx or a network error
    max_download_bytes: int = Field(2 * 1024**3, ge=1)

    @model_validator(mode="before")
    @classmethod
    def _no_key_here(cls, data: Any) -> Any:
        if isinstance(data, dict) and "api_key" in data:
            raise ValueError(
                "never put the provider's key in models.toml; put it in an environment variable and name "
                "that variable in 'api_key_env'"
            )
        return data

    @field_validator("api_key_env")
    @classmethod
    def _env_name(cls, value: str) -> str:
        if not ENV_NAME.match(value):
            # The value is not echoed: an operator may have pasted the key itself here.
            raise ValueError(
                "must be the upper-case NAME of the environment variable that holds the provider's key "
                "(e.g. AIVIDEO_API_KEY), not the key itself"
            )
        return value

    @field_validator("model")
    @classmethod
    def _model_given(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError(
                "required: the provider's model name (e.g. t2v for AIVideoMaker, agnes-video-v2.0 for Agnes)"
            )
        return value

    @field_validator("base_url")
    @classmethod
    def _base(cls, value: str) -> str:
        return _base_url(value)

    @field_validator("sizes", mode="before")
    @classmethod
    def _sizes(cls, value: Any) -> Any:
        return tuple(_size(item) for item in value) if isinstance(value, list | tuple) else value

    @model_validator(mode="after")
    def _intervals(self) -> UpstreamSettings:
        if not 0 < self.poll_interval <= self.max_poll_interval:
            raise ValueError("poll_interval and max_poll_interval need 0 < poll_interval <= max_poll_interval")
        return self

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
        raise ValueError("must be an http(s) URL such as https://aivideomaker.ai or https://apihub.agnes-ai.com")
    if parts.username or parts.password:
        raise ValueError("must not carry credentials; use api_key_env")
    return text.removesuffix("/v1")


def _size(value: Any) -> str:
    text = str(value).lower().replace(" ", "")
    width, _, height = text.partition("x")
    if not (width.isdigit() and height.isdigit()):
        raise ValueError(f"holds WIDTHxHEIGHT strings such as 1280x720, got {str(value)[:20]!r}")
    return f"{int(width)}x{int(height)}"
