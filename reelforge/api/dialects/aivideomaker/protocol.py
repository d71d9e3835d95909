"""The AIVideoMaker v1 contract as pydantic models: the create bodies per model kind, the answers, the error.

The body of `POST /api/v1/generate/{model}` depends on the model named in the path, so there is one model
per kind (`TextToVideoBody` for t2v / t2v_v3, `ImageToVideoBody` for i2v / i2v_v3, `LongVideoBody` for lv).
What a model allows (durations, aspect ratios, the number of lv prompts) comes from its `models.toml`
table: the translation step validates a body with `context={"rules": Rules.of(spec)}`, so the validators
word their messages with the model's own values, exactly as the contract's error answers always read.

Validators raise `InvalidValue` (shown verbatim, with the field's JSON pointer). A field sent as `null` is
treated as missing, as it always was; unknown fields are ignored (the contract's clients send extras).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from reelforge.domain.catalog import ModelSpec
from reelforge.domain.errors import ErrorCode, InvalidValue

MAX_PROMPT_CHARS = 2000
DEFAULT_ASPECTS = ("16:9", "9:16", "1:1")
IMAGE_FORMS = "an http(s) image URL or data:image/...;base64,..."


@dataclass(frozen=True)
class Rules:
    """What one model allows: the validators' context, taken from its `[models.<name>]` table."""

    model: str = "t2v"
    durations: tuple[int, ...] = (5, 8)
    aspect_ratios: tuple[str, ...] = DEFAULT_ASPECTS
    max_prompts: int = 6

    @classmethod
    def of(cls, spec: ModelSpec) -> Rules:
        return cls(
            model=spec.name,
            durations=tuple(spec.durations),
            aspect_ratios=tuple(spec.aspect_ratios) or DEFAULT_ASPECTS,
            max_prompts=spec.max_prompts,
        )


CONTRACT_RULES = Rules()
"""Without a context (a body validated outside a request): the contract's t2v / i2v table."""


def rules_of(info: ValidationInfo) -> Rules:
    context = info.context if isinstance(info.context, dict) else {}
    rules = context.get("rules")
    return rules if isinstance(rules, Rules) else CONTRACT_RULES


# ------------------------------------------------------------- field rules


def _aspect_choices(rules: Rules) -> str:
    return " / ".join(rules.aspect_ratios)


def _check_aspect(value: object, rules: Rules) -> str:
    if value not in rules.aspect_ratios:
        raise InvalidValue(f"aspectRatio must be one of {_aspect_choices(rules)}, got {value!r}")
    return str(value)


ANY_DURATION = range(1, 601)
"""Seconds a model without a `durations` list of its own may be asked for here (the engine's limits follow)."""


def _check_duration(value: object, rules: Rules) -> int:
    """One of the model's durations, as a string of digits; a model that lists none (a non-contract catalog
    model) takes any whole number of seconds from 1 to 600, and its engine's own limits apply after."""
    if rules.durations:
        allowed = "one of " + " / ".join(str(d) for d in rules.durations)
    else:
        allowed = f"a whole number of seconds from {ANY_DURATION.start} to {ANY_DURATION.stop - 1}"
    if value is None:
        raise InvalidValue(f"duration is required: {allowed} (seconds, as a string)")
    text = str(value).strip()
    choices = rules.durations or ANY_DURATION
    if isinstance(value, bool) or not text.isdigit() or int(text) not in choices:
        raise InvalidValue(f"duration must be {allowed} for model {rules.model}, got {value!r}")
    return int(text)


def _check_image(value: object) -> str:
    """Present and a string; whether it is a usable URL or data URI is the upload session's check."""
    if value is None or value == "":
        raise InvalidValue(f"image is required: {IMAGE_FORMS}")
    if not isinstance(value, str) or not value.strip():
        raise InvalidValue("/image must be an http(s) image URL or a data:image/...;base64,... URI")
    return value.strip()


def _check_seed(value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**63:
        raise InvalidValue("seed must be a non-negative integer")
    return value


def _check_segment(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidValue("each segment prompt must be a non-empty string")
    if len(value) > MAX_PROMPT_CHARS:
        raise InvalidValue(f"segment prompt is longer than {MAX_PROMPT_CHARS} characters")
    return value.strip()


DURATION_SCHEMA = {
    "anyOf": [{"type": "string", "pattern": "^[0-9]+$"}, {"type": "integer"}],
    "description": "Seconds, as a string (as the contract shows) or a number; the model's `durations`.",
    "examples": ["5"],
}
Duration = Annotated[int, WithJsonSchema(DURATION_SCHEMA)]
Seed = Annotated[
    int | None,
    BeforeValidator(_check_seed),
    Field(description="Addition: the same seed gives the same video; a random one is chosen and kept otherwise."),
]
Image = Annotated[
    str,
    BeforeValidator(_check_image),
    Field(description="Public image URL or data:image/...;base64,...", examples=["https://example.com/first.png"]),
]
Segment = Annotated[str, BeforeValidator(_check_segment), Field(max_length=MAX_PROMPT_CHARS)]


class _Body(BaseModel):
    """Shared by the create bodies: the contract's camelCase names, extras ignored, `null` as missing."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore", frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _missing_is_null(cls, data: Any) -> Any:
        """A required field left out is checked like one sent as `null`, so it gets the contract's wording."""
        if not isinstance(data, dict):
            return data
        absent = [
            f.alias or name
            for name, f in cls.model_fields.items()
            if f.is_required() and name not in data and (f.alias or name) not in data
        ]
        return {**dict.fromkeys(absent), **data}


class TextToVideoBody(_Body):
    """`t2v`, `t2v_v3`: a video from a text prompt."""

    model_config = ConfigDict(title="AIVideoMakerTextToVideo")

    prompt: str = Field(description="Text prompt describing the video", max_length=MAX_PROMPT_CHARS)
    aspect_ratio: str = Field(alias="aspectRatio", description="16:9 / 9:16 / 1:1", examples=list(DEFAULT_ASPECTS))
    duration: Duration
    seed: Seed = None

    @field_validator("prompt", mode="before")
    @classmethod
    def _prompt(cls, value: object) -> str:
        if not isinstance(value, str) or not value.strip():
            raise InvalidValue("prompt is required: a text describing the video")
        if len(value) > MAX_PROMPT_CHARS:
            raise InvalidValue(f"prompt is longer than {MAX_PROMPT_CHARS} characters")
        return value.strip()

    @field_validator("aspect_ratio", mode="before")
    @classmethod
    def _aspect(cls, value: object, info: ValidationInfo) -> str:
        rules = rules_of(info)
        if value is None:
            raise InvalidValue(f"aspectRatio is required: one of {_aspect_choices(rules)}")
        return _check_aspect(value, rules)

    @field_validator("duration", mode="before")
    @classmethod
    def _duration(cls, value: object, info: ValidationInfo) -> int:
        return _check_duration(value, rules_of(info))


class _ImageBody(_Body):
    """An image first frame and an optional aspect ratio (by default the one nearest the image's)."""

    image: Image
    aspect_ratio: str | None = Field(
        None, alias="aspectRatio", description="Addition: 16:9 / 9:16 / 1:1; by default the nearest the image's"
    )

    @field_validator("aspect_ratio", mode="before")
    @classmethod
    def _aspect(cls, value: object, info: ValidationInfo) -> str | None:
        return None if value is None else _check_aspect(value, rules_of(info))


class ImageToVideoBody(_ImageBody):
    """`i2v`, `i2v_v3`: a video from an image, with an optional prompt."""

    model_config = ConfigDict(title="AIVideoMakerImageToVideo")

    prompt: str | None = Field(None, description="Optional text prompt (empty counts as none)")
    duration: Duration
    seed: Seed = None

    @field_validator("prompt", mode="before")
    @classmethod
    def _prompt(cls, value: object) -> str | None:
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        if not isinstance(value, str):
            raise InvalidValue("prompt must be a string or null")
        if len(value) > MAX_PROMPT_CHARS:
            raise InvalidValue(f"prompt is longer than {MAX_PROMPT_CHARS} characters")
        return value.strip()

    @field_validator("duration", mode="before")
    @classmethod
    def _duration(cls, value: object, info: ValidationInfo) -> int:
        return _check_duration(value, rules_of(info))


class LongVideoBody(_ImageBody):
    """`lv`: the first-frame image, then one segment (the model's `segment_seconds`, 5 s) per prompt."""

    model_config = ConfigDict(title="AIVideoMakerLongVideo")

    prompt: list[Segment] = Field(description="Array of segment prompts, max 6 items (the model's max_prompts)")
    seed: Seed = None

    @field_validator("prompt", mode="before")
    @classmethod
    def _prompts(cls, value: object, info: ValidationInfo) -> list[Any]:
        most = rules_of(info).max_prompts
        if not isinstance(value, list) or not value:
            raise InvalidValue(f"prompt must be an array of 1 to {most} segment prompts")
        if len(value) > most:
            raise InvalidValue(f"prompt has {len(value)} items; at most {most} are allowed")
        return value


CreateBody = TextToVideoBody | ImageToVideoBody | LongVideoBody


# ----------------------------------------------------------------- answers

ContractStatus = Literal["SUBMITTED", "PROGRESS", "COMPLETED", "FAILED", "CANCEL"]


class AIVideoMakerError(BaseModel):
    """Every error: `{status: "FAILED", message}` as the contract shows, plus a stable `code` and `field`."""

    status: Literal["FAILED"] = "FAILED"
    message: str = Field(examples=["Insufficient credits"])
    code: ErrorCode
    field: str | None = Field(None, description="JSON pointer of the bad field (`/prompt/2`), or `webhookUrl`")


class AIVideoMakerCreated(BaseModel):
    status: Literal["SUBMITTED"] = "SUBMITTED"
    taskId: str
    responseUrl: str
    statusUrl: str
    cancelUrl: str


class AIVideoMakerTaskOutput(BaseModel):
    videoUrl: str | None
    thumbnailUrl: str | None
    duration: float
    width: int
    height: int
    fps: float
    expiresAt: str | None = Field(
        None, description="Addition: when videoUrl and thumbnailUrl stop working (never after the files are deleted)"
    )
    expired: bool | None = Field(None, description="Addition: true once the files are gone")
    message: str | None = Field(None, description="Addition: when the files went and what to do")


class AIVideoMakerTaskError(BaseModel):
    code: str
    message: str | None


class AIVideoMakerTask(BaseModel):
    id: str
    createdAt: str | None
    model: str
    input: dict[str, Any] = Field(
        description="The request's contract fields; a data URI as its header and size. A task created through "
        "another API shows the same fields, read from the canonical request"
    )
    createdVia: str | None = Field(
        None, description="Addition: the API the task was created through (aivideomaker, avs, openai, actions, mcp)"
    )
    output: AIVideoMakerTaskOutput | None
    status: ContractStatus
    progress: int = Field(description="Addition: 0-100")
    completedAt: str | None
    error: AIVideoMakerTaskError | None = Field(None, description="Addition: why a FAILED task failed")
    timings: dict[str, Any] | None = Field(
        None, description="Addition: seconds per stage of the finished task (load, denoising, encode, store, total)"
    )


class AIVideoMakerTaskList(BaseModel):
    tasks: list[AIVideoMakerTask]


class AIVideoMakerStatus(BaseModel):
    status: ContractStatus
    progress: int = Field(description="Addition: 0-100")


class AIVideoMakerCancelled(BaseModel):
    status: ContractStatus
    taskId: str
