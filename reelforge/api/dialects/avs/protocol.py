"""The AVS contract's bodies as pydantic models: what `/openapi.json` shows and what a request is checked against.

The models carry the contract's field names (camelCase) and today's rules and messages; the template itself
is `reelforge.domain.template.Template`, checked by `parse_template` so every error points at the exact value
(`/template/blocks/2/fadeIn`). Unknown top-level and `output` fields are ignored, as the contract implies.
Rules that need the server's settings (which URLs are allowed) or the uploads (which `uploadName`s exist)
are in `translate`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypeVar

from fastapi.exceptions import RequestValidationError
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from reelforge.api.errors import validation_error
from reelforge.api.openapi import Responses, error_responses, inline_schema
from reelforge.domain.errors import InvalidValue, invalid
from reelforge.domain.formats import ASPECT_RATIOS, DEFAULT_ASPECT_RATIO, DEFAULT_QUALITY, OUTPUT_FORMATS, QUALITIES
from reelforge.domain.template import Template, parse_template

MAX_PROMPT_CHARS = 4000
MAX_ASSET_URLS = 20
MAX_FILES = 50
"""The most `files` parts one multipart create may carry."""


class _Body(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="ignore")


# ---------------------------------------------------------------- requests


class OutputRange(_Body):
    """Extension: render only `length` seconds of the template from `start` (all of the rest by default)."""

    start: float = Field(default=0, ge=0)
    length: float | None = Field(default=None, gt=0)


class Output(_Body):
    """What to render: the frame's aspect ratio and a quality preset (the table in docs/compose.md)."""

    aspect_ratio: str = Field(
        default=DEFAULT_ASPECT_RATIO, alias="aspectRatio", json_schema_extra={"enum": list(ASPECT_RATIOS)}
    )
    quality: str = Field(default=DEFAULT_QUALITY, json_schema_extra={"enum": list(QUALITIES)})
    format: str = Field(
        default="mp4",
        description="mp4 (the contract's V1 output); extension: webm (VP9 + Opus) or gif (no sound, at most 60 s)",
        json_schema_extra={"enum": list(OUTPUT_FORMATS)},
    )
    poster: float | None = Field(
        default=None, ge=0, description="extension: seconds into the video for a full-size poster JPEG (posterUrl)"
    )
    thumbnail: float | None = Field(
        default=None, ge=0, description="extension: seconds into the video for the thumbnail (default 1 s)"
    )
    range: OutputRange | None = Field(default=None, description="extension: render only this part of the template")

    @field_validator("aspect_ratio", mode="before")
    @classmethod
    def _aspect(cls, value: Any) -> Any:
        if not isinstance(value, str) or value not in ASPECT_RATIOS:
            raise InvalidValue(f"output.aspectRatio must be one of {', '.join(ASPECT_RATIOS)}")
        return value

    @field_validator("quality", mode="before")
    @classmethod
    def _quality(cls, value: Any) -> Any:
        if not isinstance(value, str) or value not in QUALITIES:
            raise InvalidValue(f"output.quality must be one of {', '.join(QUALITIES)}")
        return value

    @field_validator("format", mode="before")
    @classmethod
    def _format(cls, value: Any) -> Any:
        if value not in OUTPUT_FORMATS:
            raise InvalidValue(f"output.format must be one of {', '.join(OUTPUT_FORMATS)} (mp4 is the V1 contract's)")
        return value

    def echoed(self) -> dict[str, Any]:
        echoed: dict[str, Any] = {"aspectRatio": self.aspect_ratio, "quality": self.quality}
        return {**echoed, **self.extension()}

    def extension(self) -> dict[str, Any]:
        """The extension options the caller set (for the engine's `extra` and the echoed input)."""
        options: dict[str, Any] = {}
        if self.format != "mp4":
            options["format"] = self.format
        for name in ("poster", "thumbnail"):
            if getattr(self, name) is not None:
                options[name] = getattr(self, name)
        if self.range is not None:
            options["range"] = self.range.model_dump(exclude_none=True)
        return options


class Webhook(_Body):
    """Where to POST the job when it ends, and the secret to sign it with (else the account key's secret)."""

    url: str = Field(description="http(s) URL that receives the terminal event")
    secret: str | None = Field(default=None, description="HMAC-SHA256 key for X-AVS-Signature")

    @field_validator("secret", mode="before")
    @classmethod
    def _secret(cls, value: Any) -> Any:
        if value is not None and (not isinstance(value, str) or not value):
            raise InvalidValue("webhook.secret must be a non-empty string")
        return value


def _output_object(value: Any) -> Any:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidValue("output must be an object with aspectRatio and quality")
    return value


def _webhook_object(value: Any) -> Any:
    if value is not None and (not isinstance(value, dict) or not isinstance(value.get("url"), str)):
        raise InvalidValue("webhook must be an object with a url (and a secret to sign with)")
    return value


class _Create(_Body):
    output: Annotated[Output, BeforeValidator(_output_object)] = Field(default_factory=Output)
    webhook: Annotated[Webhook | None, BeforeValidator(_webhook_object)] = None


class FromJsonRequest(_Create):
    """`POST /api/v1/videos/from-json`: render an AVS Template JSON v1."""

    template: Template = Field(description="AVS Template JSON v1 (docs/compose.md); media by url or uploadName")
    _sent_template: dict[str, Any] = PrivateAttr(default_factory=dict)

    @property
    def sent_template(self) -> dict[str, Any]:
        """The template exactly as the caller sent it (what the task's `input` echoes)."""
        return self._sent_template

    @model_validator(mode="wrap")
    @classmethod
    def _keep_sent(cls, data: Any, handler: ModelWrapValidatorHandler[FromJsonRequest]) -> FromJsonRequest:
        body = handler(data)
        if isinstance(data, dict):
            body._sent_template = data["template"]
        return body

    @model_validator(mode="before")
    @classmethod
    def _has_template(cls, data: Any) -> Any:
        if isinstance(data, dict) and not isinstance(data.get("template"), dict):
            raise invalid("template is required: an AVS Template JSON v1 object", "/template")
        return data

    @field_validator("template", mode="before")
    @classmethod
    def _template(cls, value: Any) -> Any:
        return parse_template(value, prefix="/template")  # its errors name the exact pointer


def _url_string(value: Any) -> Any:
    if not isinstance(value, str):
        raise InvalidValue("must be an http(s) URL")
    return value


class FromPromptRequest(_Create):
    """`POST /api/v1/videos/from-prompt`: let the creator step plan a video from a prompt and assets."""

    prompt: str = Field(
        max_length=MAX_PROMPT_CHARS, description='what to make; a length such as "a 20 second teaser" is honoured'
    )
    asset_urls: list[Annotated[str, BeforeValidator(_url_string)]] = Field(
        default_factory=list, alias="assetUrls", max_length=MAX_ASSET_URLS, description="http(s) URLs of media"
    )
    voiceover: bool | None = Field(
        default=None, description='extension: read the prompt aloud over the video (default: when it says "voice-over")'
    )
    captions: bool | None = Field(
        default=None, description='extension: caption the prompt\'s script (default: when it says "captions")'
    )
    voice: str | None = Field(
        default=None, max_length=100, pattern=r"^[A-Za-z0-9_+\-.]+$", description="extension: the voice-over's voice"
    )

    @model_validator(mode="before")
    @classmethod
    def _has_prompt(cls, data: Any) -> Any:
        if isinstance(data, dict):
            prompt = data.get("prompt")
            if not isinstance(prompt, str) or not prompt.strip():
                raise invalid("prompt is required: describe the video to create", "/prompt")
        return data

    @field_validator("prompt", mode="before")
    @classmethod
    def _prompt(cls, value: Any) -> Any:
        if isinstance(value, str) and len(value) > MAX_PROMPT_CHARS:
            raise InvalidValue(f"prompt is longer than {MAX_PROMPT_CHARS} characters")
        return value

    @field_validator("asset_urls", mode="before")
    @classmethod
    def _asset_urls(cls, value: Any) -> Any:
        if value is None:
            return []
        if not isinstance(value, list) or len(value) > MAX_ASSET_URLS:
            raise InvalidValue(f"assetUrls must be a list of at most {MAX_ASSET_URLS} URLs")
        return value


Create = TypeVar("Create", FromJsonRequest, FromPromptRequest)


def parse_body(model: type[Create], payload: Any) -> Create:
    """`payload` (the JSON body or the multipart `request` field) as `model`; INVALID_PAYLOAD with a pointer."""
    if not isinstance(payload, dict):
        raise invalid("the request body must be a JSON object")
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        raise validation_error(RequestValidationError(exc.errors())) from None


class AvsTokenRequest(_Body):
    """`POST /api/v1/tokens`; an empty body makes a `public_api` token named `default`."""

    name: str = Field(default="default", max_length=200)
    kind: Literal["public_api", "cli"] = "public_api"

    @field_validator("name", mode="before")
    @classmethod
    def _name(cls, value: Any) -> Any:
        if not isinstance(value, str) or not value.strip() or len(value) > 200:
            raise InvalidValue("name must be a non-empty string of at most 200 characters")
        return value.strip()

    @field_validator("kind", mode="before")
    @classmethod
    def _kind(cls, value: Any) -> Any:
        if value not in ("public_api", "cli"):
            raise InvalidValue("kind must be one of public_api, cli")
        return value


# ---------------------------------------------------------------- responses


class AvsErrorDetail(BaseModel):
    code: str = Field(description="a stable reelforge error code, e.g. INVALID_PAYLOAD, INSUFFICIENT_CREDITS")
    message: str
    field: str | None = Field(None, description="JSON pointer into the request (/template/blocks/0), or files/N")


class AvsError(BaseModel):
    """Every AVS error: `{"error": {"code", "message", "field"?}}` with the HTTP status of the code."""

    error: AvsErrorDetail


class AvsJobError(BaseModel):
    code: str
    message: str | None


class AvsJobResult(BaseModel):
    downloadUrl: str | None = Field(description="signed MP4 URL; poll the job again for a fresh one")
    expiresAt: str | None = Field(description="when downloadUrl stops working (signed until the video is deleted)")
    thumbnailUrl: str | None
    durationSeconds: float
    width: int
    height: int
    expired: bool | None = Field(None, description="true once the files are deleted (the URLs are then null)")
    posterUrl: str | None = Field(None, description="extension: the full-size poster, when output.poster was set")
    message: str | None = None


class AvsJob(BaseModel):
    """A job as `POST /api/v1/videos/*` (202), `GET /api/v1/jobs/{jobId}` and the webhook show it."""

    jobId: str
    mode: str = Field(description="json or prompt")
    status: Literal["queued", "running", "completed", "failed", "cancelled"]
    phase: str | None = Field(description="queued, preparing_assets, generating, rendering, completed, failed")
    progress: int = Field(description="0-100")
    createdAt: str | None
    updatedAt: str | None
    error: AvsJobError | None
    result: AvsJobResult | None
    timings: dict[str, Any] | None = Field(
        None, description="Addition: seconds per stage of the finished job (load, denoising, encode, store, total)"
    )


class AvsToken(BaseModel):
    tokenId: str
    name: str
    kind: Literal["public_api", "cli"]
    active: bool
    createdAt: str
    rotatedAt: str | None
    revokedAt: str | None


class AvsIssuedToken(AvsToken):
    token: str = Field(description="avs.<tokenId>.<secret>: shown once, never stored")


class AvsTokenList(BaseModel):
    tokens: list[AvsToken]


# ---------------------------------------------------------------- OpenAPI


AVS_ERRORS = {
    400: "Invalid request (field: JSON pointer)",
    401: "Missing or wrong token",
    402: "Not enough credits",
    403: "Wrong kind of token",
    404: "No such job or token",
    409: "Idempotency-Key reused with a different request",
    413: "Request body too large",
    503: "Queue full; retry later",
}


def errors(*statuses: int) -> Responses:
    """`responses=` for a route: each status with the AVS error body."""
    return error_responses(AvsError, AVS_ERRORS, *statuses)


def request_body(model: type[BaseModel]) -> dict[str, Any]:
    """`openapi_extra` for a create that takes `model` as JSON, or as multipart with a `request` field and files."""
    schema = inline_schema(model)
    multipart = {
        "type": "object",
        "required": ["request"],
        "properties": {
            "request": {
                "type": "string",
                "description": f"the {model.__name__} JSON payload, as a string",
                "contentMediaType": "application/json",
                "contentSchema": schema,
            },
            "files": {
                "type": "array",
                "maxItems": MAX_FILES,
                "description": "job-scoped video, image or audio uploads, referred to by file name (uploadName)",
                "items": {"type": "string", "format": "binary"},
            },
        },
    }
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": schema}, "multipart/form-data": {"schema": multipart}},
        }
    }
