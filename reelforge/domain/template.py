"""AVS Template JSON v1: the pydantic models, `parse_template` and the helpers the API needs.

A template is `{"version": "1", "name"?: str, "blocks": [...]}`; every block has a `type` (`video`,
`image`, `text`, `audio`), a `start` and a `duration` in seconds on one timeline. Later blocks layer over
earlier ones; where no block shows, the frame is black and silent. Everything beyond that (fit, position,
scale, opacity, fades, transitions, Ken Burns, text style, volume, loop) is optional, so every plain v1
template stays valid. The field reference is `docs/compose.md`.

Two forms of `source` are accepted by the same models: the user's (`{"url": ...}` or
`{"uploadName": ...}`, exactly one) and the API's normalised form, which adds `"ref"` (the input ref the
engine reads with `ctx.read_input`) and keeps the original field for messages.

Every error is `INVALID_PAYLOAD` with `field` a JSON pointer into the request
(`/template/blocks/2/duration`), so a caller can point at the exact value to change. Models are strict
(no `"5"` for 5, no unknown fields): a typo such as `durration` is reported rather than silently ignored.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

from PIL import ImageColor
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic.alias_generators import to_camel

from reelforge.domain.errors import ReelforgeError, invalid

# Limits. The engine settings `max_duration` and `max_blocks` may lower the first two per model.
MAX_DURATION = 600.0  # seconds: the end of the last block
MAX_BLOCKS = 100
MAX_TEXT_CHARS = 1000
MAX_NAME_CHARS = 200
MAX_INPUT_BYTES = 512 * 1024 * 1024  # one media input; the engine setting `max_input_bytes` may lower it

BLOCK_TYPES = ("video", "image", "text", "audio", "captions", "voice")
MEDIA_TYPES = ("video", "image", "audio")
VISUAL_TYPES = ("video", "image")

Fit = Literal["cover", "contain", "fill"]
Anchor = Literal["center", "top", "bottom", "left", "right", "topLeft", "topRight", "bottomLeft", "bottomRight"]
FontFamily = Literal["sans", "serif", "mono"]
TextAlign = Literal["left", "center", "right"]
TransitionType = Literal[
    "fade",
    "fadeBlack",
    "fadeWhite",
    "dissolve",
    "wipeLeft",
    "wipeRight",
    "wipeUp",
    "wipeDown",
    "slideLeft",
    "slideRight",
    "slideUp",
    "slideDown",
    "smoothLeft",
    "smoothRight",
    "smoothUp",
    "smoothDown",
    "circleOpen",
    "circleClose",
    "radial",
    "zoomIn",
]

ANCHORS: dict[str, tuple[float, float]] = {
    "center": (0.5, 0.5),
    "top": (0.5, 0.0),
    "bottom": (0.5, 1.0),
    "left": (0.0, 0.5),
    "right": (1.0, 0.5),
    "topLeft": (0.0, 0.0),
    "topRight": (1.0, 0.0),
    "bottomLeft": (0.0, 1.0),
    "bottomRight": (1.0, 1.0),
}
"""Anchor name -> (x, y) as fractions: where in the frame the element's matching point sits."""

_EPSILON = 1e-6
Seconds = Annotated[float, Field(ge=0)]
Volume = Annotated[float, Field(ge=0, le=4)]
Fraction01 = Annotated[float, Field(ge=0, le=1)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, alias_generator=to_camel, allow_inf_nan=False)


def parse_color(value: str) -> tuple[int, int, int, int]:
    """RGBA for a CSS colour: `#fff`, `#ffffff`, `#ffffff80`, `white`, `rgb(255,0,0)`, ..."""
    rgba = ImageColor.getrgb(value)
    return (*rgba[:3], rgba[3] if len(rgba) == 4 else 255)  # type: ignore[return-value]


def _checked_color(value: str) -> str:
    try:
        parse_color(value)
    except ValueError:
        raise ValueError(f"{value!r} is not a colour; use #RRGGBB, #RRGGBBAA or a CSS name such as white") from None
    return value


class Source(_Model):
    """Where a media block's bytes come from: `url` or `uploadName` (the user's form), plus `ref`
    (the API's normalised form). `name` is a display label some planners add; it is only used in messages."""

    url: Annotated[str, Field(max_length=4096)] | None = None
    upload_name: Annotated[str, Field(max_length=1024)] | None = None
    ref: Annotated[str, Field(max_length=4096)] | None = None
    name: Annotated[str, Field(max_length=1024)] | None = None

    @model_validator(mode="after")
    def _one_origin(self) -> Source:
        if self.ref is None and (self.url is None) == (self.upload_name is None):
            raise ValueError("source needs exactly one of url or uploadName")
        if self.url is not None and self.upload_name is not None:
            raise ValueError("source needs exactly one of url or uploadName, not both")
        for field in ("url", "upload_name", "ref"):
            if getattr(self, field) == "":
                raise ValueError(f"source.{to_camel(field)} is empty")
        return self

    @property
    def label(self) -> str:
        """What to call this input in a message: the user's name for it, never a storage key."""
        return self.upload_name or self.name or self.url or "the input"


class Point(_Model):
    """A point in the element, as fractions of its width and height (0.5, 0.5 is the middle)."""

    x: Fraction01 = 0.5
    y: Fraction01 = 0.5


class Offset(_Model):
    """A shift from the anchored position, as fractions of the frame: x right, y down."""

    x: Annotated[float, Field(ge=-1, le=1)] = 0.0
    y: Annotated[float, Field(ge=-1, le=1)] = 0.0


class Transition(_Model):
    """How a visual block replaces the visual block before it (an ffmpeg `xfade`)."""

    type: TransitionType = "fade"
    duration: Annotated[float, Field(ge=0.1, le=10)] = 0.5


class KenBurns(_Model):
    """A slow zoom and pan over a still: zoom factors (1 = fitted size) and the point kept in view."""

    zoom_start: Annotated[float, Field(ge=1, le=4)] = 1.0
    zoom_end: Annotated[float, Field(ge=1, le=4)] = 1.2
    focus_start: Point = Point()
    focus_end: Point = Point()


class _Block(_Model):
    start: Seconds = 0.0
    duration: Annotated[float, Field(gt=0)]
    id: Annotated[str, Field(max_length=100)] | None = None

    @property
    def end(self) -> float:
        return self.start + self.duration


class _Faded(_Block):
    opacity: Fraction01 = 1.0
    fade_in: Seconds = 0.0
    fade_out: Seconds = 0.0


class _Visual(_Faded):
    source: Source
    fit: Fit = "cover"
    position: Anchor = "center"
    offset: Offset = Offset()
    scale: Annotated[float, Field(gt=0, le=10)] = 1.0
    transition: Transition | None = None


class VideoBlock(_Visual):
    """A clip from `trim` seconds into the source, fitted into the frame; its sound mixed at `volume`.

    A source shorter than the block holds its last frame (or repeats, with `loop`)."""

    type: Literal["video"]
    trim: Seconds = 0.0
    volume: Volume = 1.0
    loop: bool = False


class ImageBlock(_Visual):
    """A still, fitted into the frame, optionally with a Ken Burns zoom and pan (`kenBurns: true` or an object)."""

    type: Literal["image"]
    ken_burns: KenBurns | None = None

    @field_validator("ken_burns", mode="before")
    @classmethod
    def _ken_burns_flag(cls, value: Any) -> Any:
        if value is True:
            return KenBurns()
        if value is False:
            return None
        return value


class TextBlock(_Faded):
    """Text drawn with a bundled font. Sizes are pixels at 1080p and scale with the output."""

    type: Literal["text"]
    text: Annotated[str, Field(min_length=1, max_length=MAX_TEXT_CHARS)]
    font: FontFamily = "sans"
    bold: bool = False
    italic: bool = False
    font_size: Annotated[float, Field(ge=4, le=400)] = 64.0
    color: str = "#FFFFFF"
    background: str | None = None
    background_padding: Annotated[float, Field(ge=0, le=200)] = 16.0
    outline_color: str = "#000000"
    outline_width: Annotated[float, Field(ge=0, le=50)] = 0.0
    align: TextAlign = "center"
    max_width: Annotated[float, Field(gt=0, le=1)] = 0.9
    position: Anchor = "center"
    offset: Offset = Offset()

    @field_validator("color", "background", "outline_color")
    @classmethod
    def _colors(cls, value: str | None) -> str | None:
        return value if value is None else _checked_color(value)

    @field_validator("text")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("text is blank")
        if "\x00" in value:
            raise ValueError("text contains a NUL character")
        return value


class AudioBlock(_Block):
    """Sound from `trim` seconds into the source, mixed at `volume`; silence after it ends (or `loop`)."""

    type: Literal["audio"]
    source: Source
    trim: Seconds = 0.0
    volume: Volume = 1.0
    loop: bool = False
    fade_in: Seconds = 0.0
    fade_out: Seconds = 0.0


CaptionStyleName = Literal["plain", "boxed", "highlight"]
MAX_CUES = 2000


class CueModel(_Model):
    """One inline caption: seconds from the captions block's start, and its text."""

    start: Seconds
    end: Annotated[float, Field(gt=0)]
    text: Annotated[str, Field(min_length=1, max_length=MAX_TEXT_CHARS)]

    @model_validator(mode="after")
    def _ordered(self) -> CueModel:
        if self.end <= self.start:
            raise ValueError("a cue's end must come after its start")
        return self


class CaptionsBlock(_Block):
    """Burned-in captions, from exactly one of: inline `cues`, an SRT/WebVTT file (`source`), or the
    speech of another block (`transcribe`: that block's index or `id`). Times are from this block's start."""

    type: Literal["captions"]
    cues: Annotated[list[CueModel], Field(max_length=MAX_CUES)] | None = None
    source: Source | None = None
    transcribe: int | str | None = None
    style: CaptionStyleName = "boxed"
    font: FontFamily = "sans"
    font_size: Annotated[float, Field(ge=4, le=400)] = 56.0
    color: str = "#FFFFFF"
    highlight_color: str = "#FFD400"
    background: str = "#000000A0"
    position: Anchor = "bottom"
    offset: Offset = Offset()
    max_width: Annotated[float, Field(gt=0, le=1)] = 0.9
    language: Annotated[str, Field(max_length=20)] | None = None  # a hint for the recognizer

    @field_validator("color", "highlight_color", "background")
    @classmethod
    def _colors(cls, value: str) -> str:
        return _checked_color(value)

    @model_validator(mode="after")
    def _one_origin(self) -> CaptionsBlock:
        given = [name for name in ("cues", "source", "transcribe") if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError("a captions block needs exactly one of cues, source (an SRT or VTT file) or transcribe")
        return self

    @property
    def fade_in(self) -> float:
        return 0.0

    @property
    def fade_out(self) -> float:
        return 0.0


class VoiceBlock(_Block):
    """Speech synthesized from `text` and placed like an audio block. Without `duration` the block lasts
    as long as the text takes to say (`reelforge.media.voice.estimate_seconds`); the speech is fitted
    into the block either way, so the timeline is known before any speech exists."""

    type: Literal["voice"]
    duration: Annotated[float, Field(gt=0)] = 0.0  # 0: estimated from the text when parsed
    text: Annotated[str, Field(min_length=1, max_length=MAX_TEXT_CHARS)]
    voice: Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_+\-.]+$")] = "en"
    speed: Annotated[float, Field(ge=0.5, le=2)] = 1.0
    volume: Volume = 1.0
    fade_in: Seconds = 0.0
    fade_out: Seconds = 0.0

    @field_validator("text")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("text is blank")
        return value


Block = VideoBlock | ImageBlock | TextBlock | AudioBlock | CaptionsBlock | VoiceBlock
MediaBlock = VideoBlock | ImageBlock | AudioBlock
VisualBlock = VideoBlock | ImageBlock
_MODELS: dict[str, type[Block]] = {
    "video": VideoBlock,
    "image": ImageBlock,
    "text": TextBlock,
    "audio": AudioBlock,
    "captions": CaptionsBlock,
    "voice": VoiceBlock,
}


class Template(_Model):
    version: Literal["1"]
    name: Annotated[str, Field(max_length=MAX_NAME_CHARS)] | None = None
    blocks: list[Block]


# ---------------------------------------------------------------- parsing


def parse_template(data: Any, prefix: str = "/template") -> Template:
    """Validate a template (the user's form or the normalised one); raise `invalid(message, pointer)`.

    Blocks are validated one at a time against the model their `type` names, so the pointer in an error
    is exactly the offending value (`/template/blocks/2/fadeIn`), whatever pydantic's union locations are.
    """
    if not isinstance(data, dict):
        raise invalid("template must be a JSON object with version and blocks", prefix)
    unknown = sorted(set(data) - {"version", "name", "blocks"})
    if unknown:
        raise invalid(
            f"unknown template field {unknown[0]!r}; a template has version, name and blocks",
            f"{prefix}/{_escape(unknown[0])}",
        )
    if data.get("version") != "1":
        raise invalid(f'version must be "1" (AVS Template JSON v1), got {data.get("version")!r}', f"{prefix}/version")
    name = data.get("name")
    if name is not None and (not isinstance(name, str) or len(name) > MAX_NAME_CHARS):
        raise invalid(f"name must be a string of at most {MAX_NAME_CHARS} characters", f"{prefix}/name")
    raw_blocks = data.get("blocks")
    if not isinstance(raw_blocks, list) or not raw_blocks:
        raise invalid("blocks must be a non-empty list of video, image, text and audio blocks", f"{prefix}/blocks")
    if len(raw_blocks) > MAX_BLOCKS:
        raise invalid(f"a template has at most {MAX_BLOCKS} blocks, this one has {len(raw_blocks)}", f"{prefix}/blocks")
    blocks = [_parse_block(raw, f"{prefix}/blocks/{i}") for i, raw in enumerate(raw_blocks)]
    template = Template(version="1", name=name, blocks=blocks)
    check_timeline(template, prefix)
    return template


def _parse_block(raw: Any, pointer: str) -> Block:
    if not isinstance(raw, dict):
        raise invalid("each block must be a JSON object with a type", pointer)
    kind = raw.get("type")
    if kind not in _MODELS:
        raise invalid(f"block type must be one of {', '.join(BLOCK_TYPES)}, got {kind!r}", f"{pointer}/type")
    if kind == "voice" and "duration" not in raw and isinstance(raw.get("text"), str):
        raw = {**raw, "duration": estimate_speech_seconds(raw["text"])}
    try:
        block = _MODELS[kind].model_validate(raw)
    except ValidationError as exc:
        raise _to_invalid(exc, pointer, kind) from None
    if block.fade_in + block.fade_out > block.duration + _EPSILON:  # every block type has fades
        raise invalid(
            f"{kind} block: fadeIn + fadeOut ({block.fade_in:g} + {block.fade_out:g} s) is longer than "
            f"the block ({block.duration:g} s); shorten the fades",
            f"{pointer}/fadeOut",
        )
    return block


def _to_invalid(exc: ValidationError, pointer: str, kind: str) -> ReelforgeError:
    """The first pydantic error as `invalid`, its location turned into a JSON pointer under `pointer`."""
    error = exc.errors(include_url=False)[0]
    loc = [str(part) for part in error["loc"]]
    field = pointer + "".join(f"/{_escape(part)}" for part in loc)
    where = "".join(f"{part}: " for part in [".".join(loc)] if part)
    message = error["msg"]
    if error["type"] == "extra_forbidden":
        message = f"unknown field for a {kind} block (see docs/compose.md for the fields)"
    elif error["type"] == "missing":
        message = "is required"
    elif message.startswith("Value error, "):
        message = message[len("Value error, ") :]
    if "input" in error and error["type"] not in ("missing", "extra_forbidden", "model_type", "value_error"):
        message += f" (got {_short(error['input'])})"
    return invalid(f"{kind} block: {where}{message}", field)


def estimate_speech_seconds(text: str) -> float:
    """How long `text` takes to say at an ordinary pace (2.6 words a second, CJK 5 characters a second):
    the length of a voice block that gives none."""
    words = len(text.split())
    wide = sum(1 for char in text if "\u2e80" <= char <= "\u9fff" or "\uac00" <= char <= "\ud7af")
    return round(max(0.5, max(0, words - (1 if wide else 0)) / 2.6 + wide / 5.0 + 0.3), 2)


def check_timeline(template: Template, prefix: str = "/template", *, max_duration: float = MAX_DURATION) -> None:
    """Cross-block rules: the total length and where transitions can happen."""
    total = template_duration(template)
    if total > max_duration + _EPSILON:
        last = max(range(len(template.blocks)), key=lambda i: template.blocks[i].end)
        raise invalid(
            f"the template runs {total:g} s (block {last} ends last); the limit is {max_duration:g} s",
            f"{prefix}/blocks/{last}/duration",
        )
    for index, block in enumerate(template.blocks):
        if isinstance(block, VideoBlock | ImageBlock) and block.transition is not None:
            _check_transition(template, index, f"{prefix}/blocks/{index}/transition")
        if isinstance(block, CaptionsBlock) and block.transcribe is not None:
            transcribed_block(template, index, f"{prefix}/blocks/{index}/transcribe")


def transcribed_block(template: Template, index: int, pointer: str = "") -> int:
    """The index of the audio, video or voice block a captions block transcribes (by index or `id`)."""
    block = template.blocks[index]
    assert isinstance(block, CaptionsBlock)
    target = block.transcribe
    if isinstance(target, str):
        found = [i for i, b in enumerate(template.blocks) if b.id == target]
        if not found:
            raise invalid(f"no block has the id {target!r}", pointer)
        target = found[0]
    assert isinstance(target, int)
    if not 0 <= target < len(template.blocks) or template.blocks[target].type not in ("audio", "video", "voice"):
        raise invalid("transcribe names an audio, video or voice block of this template (its index or id)", pointer)
    return target


def _check_transition(template: Template, index: int, pointer: str) -> None:
    block = template.blocks[index]
    assert isinstance(block, VideoBlock | ImageBlock) and block.transition is not None
    previous = transition_source(template, index)
    length = block.transition.duration
    if previous is None:
        raise invalid(
            "a transition needs an earlier video or image block to transition from; remove it or use fadeIn", pointer
        )
    before = template.blocks[previous]
    if length > block.duration + _EPSILON:
        raise invalid(
            f"the transition ({length:g} s) is longer than the block ({block.duration:g} s)", f"{pointer}/duration"
        )
    if block.start < before.start - _EPSILON or block.start + length > before.end + _EPSILON:
        latest = before.end - length
        raise invalid(
            f"the transition from block {previous} needs both blocks showing for {length:g} s: block {previous} "
            f"shows {before.start:g}-{before.end:g} s, so start this block between {before.start:g} and "
            f"{latest:g} s (it starts at {block.start:g}) or shorten the transition",
            pointer,
        )


def transition_source(template: Template, index: int) -> int | None:
    """The block a transition on block `index` comes from: the nearest earlier video or image block."""
    for previous in range(index - 1, -1, -1):
        if template.blocks[previous].type in VISUAL_TYPES:
            return previous
    return None


# ---------------------------------------------------------------- helpers for the API


def template_duration(template: Template) -> float:
    """The length of the video: the end of the block that ends last."""
    return max(block.end for block in template.blocks)


def media_sources(template: Template, prefix: str = "/template") -> list[tuple[str, str, Source]]:
    """(pointer to `source`, block type, source) for every block with a file, in order: what to fetch and
    price. A captions block's subtitle file has the type `subtitles` (priced as nothing by default)."""
    found: list[tuple[str, str, Source]] = []
    for i, block in enumerate(template.blocks):
        if isinstance(block, VideoBlock | ImageBlock | AudioBlock):
            found.append((f"{prefix}/blocks/{i}/source", block.type, block.source))
        elif isinstance(block, CaptionsBlock) and block.source is not None:
            found.append((f"{prefix}/blocks/{i}/source", "subtitles", block.source))
    return found


def with_refs(template: Template, refs: Mapping[str, str], prefix: str = "/template") -> dict[str, Any]:
    """The template as JSON with each media source's `ref` set from `refs` (keyed by `media_sources` pointers).

    The original `url` / `uploadName` stay alongside for messages."""
    data = template.model_dump(by_alias=True, exclude_none=True, mode="json")
    for pointer, _, _ in media_sources(template, prefix):
        if pointer in refs:
            index = int(pointer.rsplit("/", 2)[-2])
            data["blocks"][index]["source"]["ref"] = refs[pointer]
    return data


def _escape(token: str) -> str:
    """A JSON pointer reference token (RFC 6901)."""
    return token.replace("~", "~0").replace("/", "~1")


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
