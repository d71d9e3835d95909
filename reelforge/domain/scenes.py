"""Scenes and templates as `GenerationRequest`s: the translation the actions API and MCP share.

Two surfaces take the same arguments: `POST /api/actions/ai.video.generate` and MCP's `generate_video` take
`SceneArgs` (prompt, scene or model, image/video inputs, options); MCP's `render_template` takes an AVS
Template JSON v1 and an output (aspect ratio, quality). Both translate here, so the two cannot drift apart.

Which model runs is `resolve_model`: `provider` and `model` resolve through the catalog (a catalog name, or a
provider/model pair an operator mapped with `provider_names` in models.toml); an unknown pair is INVALID_MODEL
listing what exists. `options` is open: each key is checked against the chosen model's own parameters
(`model_options`), so a model that takes `negativePrompt` accepts it and one that does not says what it takes.

Pure: nothing here stores or fetches. What needs the outside world is passed in by the caller, which runs
inside the create path's upload session: `accept_image(value, pointer) -> source` (an https URL checked, a
data URI decoded and stored, answering its `stored:` source) and `check_url(value, pointer)` (raises unless
the URL may be fetched). They are called only after every rule that needs neither has passed, so a request
refused by a rule here has stored nothing.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from reelforge.domain.catalog import Catalog, ModelSpec
from reelforge.domain.errors import ErrorCode, ReelforgeError, invalid
from reelforge.domain.formats import output_format, size_for_aspect
from reelforge.domain.request import Asset, GenerationRequest, ImageInput, Kind
from reelforge.domain.template import media_sources, parse_template, template_duration, with_refs

SCENE_MODELS = {"text-to-video": "t2v", "image-to-video": "i2v", "video-to-video": "v2v", "ad-video": "ad-video"}
"""Each scene's catalog model, used when the caller names no `model`."""
TEMPLATE_MODEL = "avs-json"
"""The catalog model that renders an AVS Template JSON v1 with the compositor."""
MAX_WAIT_MS = 3_600_000
AD_VIDEO_SECONDS = 10
PROVIDER = "reelforge"
"""The provider whose model names are the catalog's own."""
SCENE_ASPECTS = ("16:9", "9:16", "1:1")
PROMPT_ENGINES = frozenset({"diffusion", "upstream"})
"""Engines that read `negative_prompt` and `steps` (the draft and compose engines ignore them)."""

AcceptImage = Callable[[str, str], str]
"""`(value, pointer) -> source`: an image URL checked, or a data URI stored (its `stored:` source)."""
CheckUrl = Callable[[str, str], None]
"""`(url, pointer)`: raises INVALID_PAYLOAD (naming `pointer`) unless the URL may be fetched."""


class Options(BaseModel):
    """A scene's parameters. Open: which keys a request may send is the chosen model's (`model_options`)."""

    model_config = ConfigDict(extra="allow", title="SceneOptions")

    aspectRatio: str | None = Field(None, description="16:9, 9:16 or 1:1 (or the model's own list)")
    duration: int | None = Field(None, ge=1, le=600, description="Seconds (the model's allowed values apply)")
    seed: int | None = Field(None, ge=0)
    negativePrompt: str | None = Field(
        None, max_length=2000, description="What to avoid (models whose engine reads it)"
    )
    steps: int | None = Field(None, ge=1, le=200, description="Denoising steps (models whose engine reads it)")

    def sent(self) -> list[str]:
        """The keys the caller sent, in order (declared and extra)."""
        return [*sorted(self.model_fields_set), *(self.model_extra or {})]


class SceneArgs(BaseModel):
    """What a scene generation takes (the Modkie CLI contract's API fields); unknown fields are refused."""

    model_config = ConfigDict(extra="forbid")

    prompt: str = Field(min_length=1, max_length=4000)
    scene: Literal["text-to-video", "image-to-video", "video-to-video", "ad-video"] = "text-to-video"
    provider: str | None = Field(
        None,
        min_length=1,
        max_length=200,
        description="Whose model name `model` is: reelforge (the catalog's names, the default) or a provider "
        "the server's catalog maps (models.toml `provider_names`)",
    )
    model: str | None = Field(
        None, min_length=1, max_length=200, description="A catalog model (or the provider's) instead of the scene's"
    )
    imageInput: str | list[str] | None = Field(
        None, description="Image URLs or data URIs: a list, or one comma-separated string"
    )
    videoInput: str | list[str] | None = Field(None, description="Video URLs: a list, or one comma-separated string")
    options: Options = Field(default_factory=Options)
    workspaceId: str | None = None

    def scene_fields(self) -> dict[str, Any]:
        """The generation's own fields as sent (without a subclass's extras such as wait options)."""
        return self.model_dump(include=set(SceneArgs.model_fields), exclude_none=True)


@dataclass(frozen=True)
class ResolvedModel:
    """The catalog model a request runs on, and the provider/model pair its answers name."""

    spec: ModelSpec
    provider: str
    model: str


def resolve_model(args: SceneArgs, catalog: Catalog) -> ResolvedModel:
    """`provider` / `model` (or the scene's default) as a catalog model; INVALID_MODEL listing what exists."""
    provider = args.provider or PROVIDER
    default = SCENE_MODELS[args.scene]
    if provider == PROVIDER:
        name = args.model or default
        spec = catalog.get(name)
        if spec is None and args.provider is None:  # a provider's name sent alone: fine when only one maps it
            matches = [pair for pair in catalog.provider_pairs() if pair[1] == name]
            if len(matches) == 1:
                return ResolvedModel(catalog.models[matches[0][2]], matches[0][0], name)
        if spec is None:
            raise _unknown_model(f"Unknown model {name!r}", catalog, "/model")
        return ResolvedModel(spec, PROVIDER, name)
    if args.model is None:  # the provider's name for the scene's default model
        spec = catalog.get(default)
        aliases = spec.provider_names.get(provider, []) if spec is not None else []
        if spec is None or not aliases:
            raise _unknown_model(
                f"provider {provider!r} names no model for the {args.scene} scene here; send model",
                catalog,
                "/provider",
            )
        return ResolvedModel(spec, provider, aliases[0])
    spec = catalog.by_provider(provider, args.model)
    if spec is None:
        field = "/model" if any(pair[0] == provider for pair in catalog.provider_pairs()) else "/provider"
        raise _unknown_model(f"Unknown provider/model {provider!r} / {args.model!r}", catalog, field)
    return ResolvedModel(spec, provider, args.model)


def _unknown_model(what: str, catalog: Catalog, field: str) -> ReelforgeError:
    pairs = ", ".join(f"{p} / {alias} (runs {model})" for p, alias, model in catalog.provider_pairs())
    message = f"{what}; available models: {', '.join(catalog.names)} (provider {PROVIDER})"
    if pairs:
        message += f"; provider/model pairs: {pairs}"
    return ReelforgeError(ErrorCode.INVALID_MODEL, message, field=field)


def model_options(spec: ModelSpec) -> dict[str, str]:
    """The `options` keys model `spec` takes, each with what it accepts (the error lists them)."""
    durations = " / ".join(str(d) for d in spec.durations) if spec.durations else "1-600"
    params = {
        "aspectRatio": " / ".join(spec.aspect_ratios or SCENE_ASPECTS),
        "duration": f"{durations} seconds",
        "seed": "a whole number >= 0",
    }
    if spec.engine in PROMPT_ENGINES and spec.kind != Kind.COMPOSE:
        params.update(negativePrompt="text", steps="1-200")
    return params


def check_options(options: Options, spec: ModelSpec) -> str:
    """Refuse an option model `spec` does not take (naming `/options/<key>`); the aspect ratio to use."""
    params = model_options(spec)
    takes = ", ".join(f"{key} ({what})" for key, what in params.items())
    for key in options.sent():
        if key not in params:
            raise invalid(f"options.{key} is not a parameter of model {spec.name}; it takes {takes}", f"/options/{key}")
    aspects = list(spec.aspect_ratios or SCENE_ASPECTS)
    aspect = options.aspectRatio or ("16:9" if "16:9" in aspects else aspects[0])
    if aspect not in aspects:
        raise invalid(
            f"options.aspectRatio must be one of {', '.join(aspects)} for {spec.name}, got {aspect!r}",
            "/options/aspectRatio",
        )
    return aspect


def input_list(value: str | list[str] | None) -> list[str]:
    """A list as given, or a comma-separated string (the CLI's form) — except one data URI, which has a comma."""
    if value is None:
        return []
    if isinstance(value, list):
        return value
    return [value] if value.startswith("data:") else [v.strip() for v in value.split(",") if v.strip()]


def scene_request(
    args: SceneArgs,
    spec: ModelSpec,
    *,
    accept_image: AcceptImage,
    check_url: CheckUrl,
    seed: int | None = None,
) -> GenerationRequest:
    """The request for `args` on `spec` (the catalog entry of `args.model_name`); `invalid` naming the field."""
    images, videos = input_list(args.imageInput), input_list(args.videoInput)
    aspect = check_options(args.options, spec)
    if seed is None:
        seed = args.options.seed if args.options.seed is not None else secrets.randbelow(2**31)
    if spec.kind == Kind.COMPOSE:  # ad-video: the images in motion under the prompt's copy
        if not images:
            raise invalid("ad-video needs at least one product image in imageInput", "/imageInput")
        for index, url in enumerate(images):
            _checked(check_url, url, f"/imageInput/{index}")
        fmt = output_format(aspect, "draft")
        return GenerationRequest(
            kind=Kind.COMPOSE,
            prompt=args.prompt,
            width=fmt.width,
            height=fmt.height,
            fps=fmt.fps,
            duration=args.options.duration or AD_VIDEO_SECONDS,
            seed=seed,
            assets=[Asset(source=url, type="image", name=f"image-{i}") for i, url in enumerate(images)],
            extra={"aspectRatio": aspect, "quality": "draft", "mode": "ad-video"},
        )
    duration = args.options.duration or (spec.durations[0] if spec.durations else 5)
    if spec.durations and duration not in spec.durations:
        raise invalid(f"options.duration must be one of {spec.durations} for {spec.name}", "/options/duration")
    width, height = size_for_aspect(aspect, spec.height)
    common: dict[str, Any] = {
        "prompt": args.prompt,
        "width": width,
        "height": height,
        "fps": spec.fps,
        "duration": duration,
        "seed": seed,
        "negative_prompt": args.options.negativePrompt,
        "steps": args.options.steps,
    }
    if spec.kind == Kind.VIDEO_TO_VIDEO:
        if not videos:
            raise invalid("video-to-video needs a videoInput URL", "/videoInput")
        _checked(check_url, videos[0], "/videoInput/0")
        return GenerationRequest(kind=spec.kind, video=videos[0], **common)
    if spec.kind == Kind.IMAGE_TO_VIDEO:
        if not images:
            raise invalid("image-to-video needs an imageInput (URL or data URI)", "/imageInput")
        # Every image is used, never silently dropped: two or more make a multi-image video (each image an
        # equal share, as `/v1/videos` does); an engine without multi_image refuses it with a 400 that says so.
        sources = [accept_image(image, f"/imageInput/{index}") for index, image in enumerate(images)]
        kind = spec.kind if len(sources) == 1 else Kind.MULTI_IMAGE
        return GenerationRequest(kind=kind, images=[ImageInput(source=s) for s in sources], **common)
    return GenerationRequest(kind=Kind.TEXT_TO_VIDEO, **common)


def _checked(check_url: CheckUrl, url: str, pointer: str) -> None:
    """`check_url`, its refusal naming `pointer` as the field."""
    try:
        check_url(url, pointer)
    except ReelforgeError as exc:
        exc.field = pointer
        raise


def template_request(
    template: Any, aspect_ratio: str, quality: str, *, check_url: CheckUrl
) -> tuple[GenerationRequest, dict[str, Any]]:
    """An AVS Template JSON v1 (media by URL) and its output as a compose request, and the `input` to echo.

    The template is checked by `parse_template` (errors name the exact pointer under `/template`); media by
    `uploadName` needs uploads, which only the AVS HTTP API takes.
    """
    parsed = parse_template(template, prefix="/template")
    fmt = output_format(aspect_ratio, quality)
    assets: dict[str, Asset] = {}
    refs: dict[str, str] = {}
    for pointer, kind, source in media_sources(parsed):
        if source.upload_name is not None:
            raise invalid(
                f"no uploaded file is named {source.upload_name!r} (uploaded: none; uploads need the HTTP API)",
                f"{pointer}/uploadName",
            )
        if source.url is None:  # only a `ref`: the API's own form, never accepted from a caller
            raise invalid("must be an http(s) URL", f"{pointer}/url")
        _checked(check_url, source.url, f"{pointer}/url")
        refs[pointer] = source.url
        assets.setdefault(source.url, Asset(source=source.url, type=kind, name=source.url))
    request = GenerationRequest(
        kind=Kind.COMPOSE,
        template=with_refs(parsed, refs),
        width=fmt.width,
        height=fmt.height,
        fps=fmt.fps,
        duration=template_duration(parsed),
        assets=list(assets.values()),
        extra={"quality": quality, "aspectRatio": aspect_ratio, "mode": "json"},
    )
    echoed = {"template": template, "output": {"aspectRatio": aspect_ratio, "quality": quality}}
    return request, echoed
