"""The wire contract of `/v1/videos`: request and response bodies as pydantic models.

One create body takes both vocabularies: OpenAI's `seconds` (a string such as "4", or a number), `size`
(`WIDTHxHEIGHT`) and `input_reference` (an image URL, a data URL or `{"image_url": ...}`; a file part in
multipart), and Agnes-Video-V2.0's `width`/`height`, `num_frames` (8n+1, at most 441), `frame_rate` (1-60),
`image` (one or many), `mode`, `num_inference_steps`, `seed`, `negative_prompt` and `extra_body.image` /
`extra_body.mode`. Multipart sends every field as text, so numbers are accepted as digit strings too.

The validators carry the contract's rules and wording (`InvalidValue`: shown verbatim, with the field's JSON
pointer). What needs the catalog or storage (the default model, size standardisation, image URLs and data
URIs, how many images a mode needs) is checked in `translate.py`. Unknown fields are ignored, as OpenAI's
SDK sends some (`extra_body` keys merged into the body) that this contract does not define.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, WithJsonSchema, field_validator

from reelforge.domain.errors import InvalidValue

DEFAULT_WIDTH, DEFAULT_HEIGHT = 1152, 768
DEFAULT_FRAMES, DEFAULT_FRAME_RATE = 121, 24
MAX_FRAMES = 441
MAX_SECONDS = 60
MODES = ("ti2vid", "keyframes")
MAX_PROMPT_CHARS = 4000
"""Prompts (and negative prompts) longer than this are refused; the same limit as AVS' `prompt`. OpenAI
publishes none; without one a megabyte prompt was stored and echoed in every list."""

_IMAGES_SCHEMA = {
    "anyOf": [
        {"type": "string", "description": "an https image URL or a data:image/...;base64,... URI"},
        {"type": "array", "items": {"type": "string"}},
        {"type": "null"},
    ]
}
Images = Annotated[Any, WithJsonSchema(_IMAGES_SCHEMA)]
"""An image URL or a list of them; each value is checked (URL rules, data URI decoding) when it is stored."""

_REFERENCE_SCHEMA = {
    "anyOf": [
        {"type": "string", "description": "an https image URL or a data URL"},
        {
            "type": "object",
            "properties": {"image_url": {"type": "string"}},
            "required": ["image_url"],
            "description": "OpenAI's image reference (file_id references are not supported)",
        },
        {"type": "null"},
    ]
}
Reference = Annotated[Any, WithJsonSchema(_REFERENCE_SCHEMA)]


def _blank(value: Any) -> bool:
    return value is None or value == ""


def _integer(name: str, value: Any, low: int, high: int) -> int | None:
    """An integer given as a number or as digits (multipart), within [low, high]; blank is None."""
    if _blank(value):
        return None
    try:
        number = int(str(value))
    except ValueError:
        raise InvalidValue(f"{name} must be an integer") from None
    if not low <= number <= high:
        raise InvalidValue(f"{name} must be between {low} and {high}, got {number}")
    return number


class ExtraBody(BaseModel):
    """Agnes' `extra_body`: the images of a multi-image or keyframes video, and the mode."""

    model_config = ConfigDict(extra="ignore")

    image: Images = Field(None, description="Input image URLs for multi-image video or keyframe mode")
    mode: Literal["ti2vid", "keyframes"] | None = Field(None, description="Additional mode setting, such as keyframes")

    @field_validator("mode", mode="before")
    @classmethod
    def _mode(cls, value: Any) -> Any:
        return _check_mode(value)


def _check_mode(value: Any) -> Any:
    if _blank(value):
        return None
    if value not in MODES:
        raise InvalidValue(f"mode must be ti2vid or keyframes, got {value!r}")
    return value


def _limited(name: str, text: str) -> str:
    if len(text) > MAX_PROMPT_CHARS:
        raise InvalidValue(f"{name} is {len(text)} characters; at most {MAX_PROMPT_CHARS} are accepted")
    return text


def _require_prompt(schema: dict[str, Any]) -> None:
    """`prompt` is required by the contract; it is validated (with the contract's message) rather than
    declared required, so that a missing prompt reads "prompt is required: describe the video"."""
    schema.setdefault("required", []).append("prompt")


class CreateVideo(BaseModel):
    """`POST /v1/videos`, in OpenAI's and Agnes' vocabularies (either, or both: Agnes' fields win)."""

    model_config = ConfigDict(extra="ignore", json_schema_extra=_require_prompt)

    # Field order is the order of checks: the first bad field is the one an error names.
    prompt: str = Field(  # type: ignore[assignment]
        None, validate_default=True, description=f"What the video shows, at most {MAX_PROMPT_CHARS} characters"
    )
    model: str | None = Field(None, description="A catalog model; default agnes-video-v2.0")
    frame_rate: float | None = Field(None, ge=1, le=60, description=f"Agnes: fps, 1-60 (default {DEFAULT_FRAME_RATE})")
    num_frames: int | None = Field(
        None,
        ge=1,
        le=MAX_FRAMES,
        description=f"Agnes: 8n+1 and at most {MAX_FRAMES} (81, 121, 241, 441); default {DEFAULT_FRAMES}",
    )
    seconds: Annotated[float | None, WithJsonSchema({"anyOf": [{"type": "string"}, {"type": "number"}]})] = Field(
        None, description=f'OpenAI: duration, e.g. "4" (more than 0, at most {MAX_SECONDS}); num_frames wins'
    )
    width: int | None = Field(None, ge=64, le=4096, description=f"Agnes: default {DEFAULT_WIDTH}; standardised")
    height: int | None = Field(None, ge=64, le=4096, description=f"Agnes: default {DEFAULT_HEIGHT}; standardised")
    size: str | None = Field(None, description="OpenAI: WIDTHxHEIGHT, e.g. 1280x720; width/height win; standardised")
    image: Images = Field(None, description="Agnes: an image URL or a list of them")
    input_reference: Reference = Field(None, description="OpenAI: the first-frame image (multipart: a file part)")
    mode: Literal["ti2vid", "keyframes"] | None = Field(None, description="ti2vid (default) or keyframes")
    extra_body: ExtraBody | None = None
    num_inference_steps: int | None = Field(None, ge=1, le=1000, description="1-1000, passed to the engine")
    seed: int | None = Field(None, ge=0, le=2**63 - 1, description="Random seed for reproducible results")
    negative_prompt: str | None = Field(None, description="What the video should avoid")

    @field_validator("prompt", mode="before")
    @classmethod
    def _prompt(cls, value: Any) -> str:
        if not isinstance(value, str) or not value.strip():
            raise InvalidValue("prompt is required: describe the video")
        return _limited("prompt", value.strip())

    @field_validator("model", mode="before")
    @classmethod
    def _model(cls, value: Any) -> Any:
        if _blank(value):
            return None
        if not isinstance(value, str):
            raise InvalidValue("model must be a string")
        return value

    @field_validator("frame_rate", mode="before")
    @classmethod
    def _frame_rate(cls, value: Any) -> float | None:
        if _blank(value):
            return None
        try:
            rate = float(value)
        except (TypeError, ValueError):
            raise InvalidValue("frame_rate must be a number from 1 to 60") from None
        if not 1 <= rate <= 60:
            raise InvalidValue(f"frame_rate must be from 1 to 60, got {value}")
        return rate

    @field_validator("num_frames", mode="before")
    @classmethod
    def _num_frames(cls, value: Any) -> int | None:
        frames = _integer("num_frames", value, 1, 10**6)
        if frames is None:
            return None
        if frames > MAX_FRAMES:
            raise InvalidValue(f"num_frames must be at most {MAX_FRAMES}, got {frames}")
        if (frames - 1) % 8:
            below = (frames - 1) // 8 * 8 + 1
            raise InvalidValue(
                f"num_frames must follow the 8n+1 rule (e.g. 81, 121, 241, 441); "
                f"{frames} is not, the nearest are {below} and {below + 8}"
            )
        return frames

    @field_validator("seconds", mode="before")
    @classmethod
    def _seconds(cls, value: Any) -> float | None:
        if _blank(value):
            return None
        try:
            seconds = float(str(value))
        except ValueError:
            raise InvalidValue('seconds must be a number of seconds, such as "4" or "8"') from None
        if not 0 < seconds <= MAX_SECONDS:
            raise InvalidValue(f"seconds must be more than 0 and at most {MAX_SECONDS}")
        return seconds

    @field_validator("width", "height", mode="before")
    @classmethod
    def _side(cls, value: Any, info: ValidationInfo) -> int | None:
        return _integer(str(info.field_name), value, 64, 4096)

    @field_validator("size", mode="before")
    @classmethod
    def _size(cls, value: Any, info: ValidationInfo) -> str | None:
        if _blank(value):
            return None
        if info.data.get("width") is not None or info.data.get("height") is not None:
            return str(value)  # Agnes' width/height win; size is not used (nor checked)
        parts = str(value).lower().split("x")
        if len(parts) != 2 or not all(p.strip().isdigit() for p in parts):
            raise InvalidValue("size must be WIDTHxHEIGHT, such as 1280x720")
        if min(int(p) for p in parts) < 64:
            raise InvalidValue("size must be at least 64 pixels on each side")
        return f"{int(parts[0])}x{int(parts[1])}"

    @field_validator("input_reference", mode="before")
    @classmethod
    def _reference(cls, value: Any) -> Any:
        if isinstance(value, dict):
            value = value.get("image_url")
            if value is None:
                raise InvalidValue("input_reference needs image_url (file_id references are not supported)")
        return None if _blank(value) else value

    @field_validator("mode", mode="before")
    @classmethod
    def _mode(cls, value: Any) -> Any:
        return _check_mode(value)

    @field_validator("extra_body", mode="before")
    @classmethod
    def _extra_body(cls, value: Any) -> Any:
        return value if isinstance(value, dict) else None  # anything else is ignored, as it always was

    @field_validator("num_inference_steps", mode="before")
    @classmethod
    def _steps(cls, value: Any) -> int | None:
        return _integer("num_inference_steps", value, 1, 1000)

    @field_validator("seed", mode="before")
    @classmethod
    def _seed(cls, value: Any) -> int | None:
        return _integer("seed", value, 0, 2**63 - 1)

    @field_validator("negative_prompt", mode="before")
    @classmethod
    def _negative(cls, value: Any) -> Any:
        if value is not None and not isinstance(value, str):
            raise InvalidValue("negative_prompt must be a string")
        return None if value is None else _limited("negative_prompt", value)

    # ------------------------------------------------------------ derived values

    def frames_and_rate(
        self, default_rate: float = DEFAULT_FRAME_RATE, default_seconds: float | None = None
    ) -> tuple[int, float]:
        """Frame count and rate: Agnes' num_frames/frame_rate, else OpenAI's seconds at the rate, else the
        model's default duration (OpenAI's models: 4 s), else Agnes' 121 frames."""
        rate = self.frame_rate if self.frame_rate is not None else float(default_rate)
        if self.num_frames is not None:
            return self.num_frames, rate
        seconds = self.seconds if self.seconds is not None else default_seconds
        if seconds is None:
            return DEFAULT_FRAMES, rate
        return max(1, round(seconds * rate)), rate

    def dimensions(self) -> tuple[int, int]:
        """The size asked for (before standardisation): width/height, else size, else the defaults."""
        if self.size is not None and self.width is None and self.height is None:
            width, height = self.size.split("x")
            return int(width), int(height)
        return self.width or DEFAULT_WIDTH, self.height or DEFAULT_HEIGHT

    def asked_size(self) -> str | None:
        """The size asked for as `WIDTHxHEIGHT` (width/height win over size), None when none was."""
        if self.width is not None or self.height is not None:
            return f"{self.width or DEFAULT_WIDTH}x{self.height or DEFAULT_HEIGHT}"
        return self.size

    def effective_mode(self) -> str:
        extra = self.extra_body.mode if self.extra_body else None
        return extra or self.mode or "ti2vid"

    def image_values(self) -> list[tuple[str, Any]]:
        """(JSON pointer, value) of every image given: `image`, `extra_body.image`, `input_reference`."""
        found: list[tuple[str, Any]] = []
        extra = self.extra_body.image if self.extra_body else None
        for pointer, value in (("/image", self.image), ("/extra_body/image", extra)):
            if isinstance(value, list):
                found += [(f"{pointer}/{i}", item) for i, item in enumerate(value)]
            elif not _blank(value):
                found.append((pointer, value))
        if self.input_reference is not None:
            found.append(("/input_reference", self.input_reference))
        return found


class RemixVideo(BaseModel):
    """`POST /v1/videos/{id}/remix`: the same inputs and settings under a new prompt."""

    model_config = ConfigDict(extra="ignore", json_schema_extra=_require_prompt)

    prompt: str = Field(  # type: ignore[assignment]
        None, validate_default=True, description=f"The new prompt, at most {MAX_PROMPT_CHARS} characters"
    )

    @field_validator("prompt", mode="before")
    @classmethod
    def _prompt(cls, value: Any) -> str:
        if not isinstance(value, str) or not value.strip():
            raise InvalidValue("prompt is required: describe the remix")
        return _limited("prompt", value.strip())


# ------------------------------------------------------------------ responses


class OpenAIVideoError(BaseModel):
    code: str
    message: str | None = None


class OpenAIVideo(BaseModel):
    """OpenAI's video object, plus Agnes' `task_id`, `video_id` and `video_url`."""

    id: str
    object: Literal["video"] = "video"
    model: str
    status: Literal["queued", "in_progress", "completed", "failed"]
    progress: int
    created_at: int
    completed_at: int | None = None
    expires_at: int | None = Field(None, description="When the files are deleted; null: kept forever")
    prompt: str | None = None
    seconds: str = Field(description="The duration really produced, e.g. 5.04")
    size: str = Field(description="The size really produced (after standardisation), WIDTHxHEIGHT")
    remixed_from_video_id: str | None = Field(
        None, description="The source video's id for a remix; otherwise (Agnes) the finished video's URL"
    )
    error: OpenAIVideoError | None = None
    task_id: str
    video_id: str
    video_url: str | None = Field(None, description="A signed link to the MP4, once completed")
    timings: dict[str, Any] | None = Field(
        None, description="Addition: seconds per stage of the finished video (load, denoising, encode, store, total)"
    )


class OpenAIVideoList(BaseModel):
    object: Literal["list"] = "list"
    data: list[OpenAIVideo]
    first_id: str | None = None
    last_id: str | None = None
    has_more: bool


class OpenAIVideoDeleted(BaseModel):
    id: str
    deleted: bool = True
    object: Literal["video.deleted"] = "video.deleted"


class OpenAIErrorDetail(BaseModel):
    message: str
    type: str = Field(description="invalid_request_error, authentication_error, not_found_error, ...")
    param: str | None = Field(None, description="The JSON pointer of the offending field, when there is one")
    code: str = Field(description="reelforge's stable error code, e.g. INVALID_PAYLOAD")


class OpenAIError(BaseModel):
    """OpenAI's error shape: `{"error": {message, type, param, code}}`."""

    error: OpenAIErrorDetail
