"""The playground's catalog: each model with the request that creates it (the dialect route and its body's
JSON Schema, narrowed to the model's own rules) and a price quote from `ModelSpec.price`, the code that debits.

A model is offered through the route that takes it natively: OpenAI's `/v1/videos` for its own (Agnes) model
(multi-image and keyframes), the AIVideoMaker create for the other text, image and long-video models, the
AVS creates (with an AVS token) for the template and prompt compositor, and the actions API for
video-to-video and ad-video. The body schemas are the dialects' own pydantic models, the same
that validate the create, so a form built from them sends exactly what the API checks.
"""

from __future__ import annotations

import copy
import math
from typing import Any

from fastapi import Depends
from pydantic import BaseModel, ConfigDict, Field

from reelforge.accounts.keys import ApiKey
from reelforge.api.auth import require_key
from reelforge.api.console.common import console_router, errors
from reelforge.api.deps import get_services
from reelforge.api.dialects.actions import GenerateInput
from reelforge.api.dialects.aivideomaker.protocol import ImageToVideoBody, LongVideoBody, TextToVideoBody
from reelforge.api.dialects.avs.protocol import FromJsonRequest, FromPromptRequest
from reelforge.api.dialects.avs.translate import JSON_MODEL, PROMPT_MODEL
from reelforge.api.dialects.openai_videos.protocol import CreateVideo
from reelforge.api.openapi import inline_schema
from reelforge.domain.catalog import ModelSpec
from reelforge.domain.errors import invalid
from reelforge.domain.request import Asset, GenerationRequest, Kind
from reelforge.domain.scenes import template_request
from reelforge.services import Services

router = console_router(tags=["console"])

AIVIDEOMAKER_BODIES: dict[Kind, type[BaseModel]] = {
    Kind.TEXT_TO_VIDEO: TextToVideoBody,
    Kind.IMAGE_TO_VIDEO: ImageToVideoBody,
    Kind.LONG_VIDEO: LongVideoBody,
}
ASSET_TYPES = ("image", "video", "audio")


class CreateRoute(BaseModel):
    dialect: str
    method: str
    path: str
    auth: str = Field(description="`key`: the API key; `avs_token`: an AVS public_api token (`avs.<id>.<secret>`)")
    bodySchema: dict[str, Any] = Field(description="JSON Schema of the body, the model's rules applied")
    fixed: dict[str, Any] = Field(default_factory=dict, description="Body fields the route needs set to these values")


class ConsoleModel(BaseModel):
    name: str
    engine: str
    kind: str
    description: str
    creditsPerSecond: float
    creditsPerJob: int
    creditsPerAsset: dict[str, int]
    durations: list[int]
    aspectRatios: list[str]
    maxPrompts: int
    segmentSeconds: int
    height: int
    fps: int
    create: CreateRoute
    mcpTool: str | None = Field(description="The MCP tool that creates this model's videos (null: none does)")
    openai: bool = Field(description="Also offered by OpenAI's `/v1/videos` (`client.videos.create(model=...)`)")


class ModelList(BaseModel):
    models: list[ConsoleModel]


class PriceQuery(BaseModel):
    """What the price depends on: the seconds of output and the input assets by type."""

    model_config = ConfigDict(extra="forbid")

    model: str
    duration: float | None = Field(None, ge=0, le=3600, description="Seconds; the model's first duration if omitted")
    prompts: int | None = Field(None, ge=1, le=100, description="Long-video segments (each `segmentSeconds` long)")
    assets: dict[str, int] = Field(default_factory=dict, description="Input assets by type: image, video, audio")
    template: dict[str, Any] | None = Field(None, description="A template JSON: its length and media set the price")


class Price(BaseModel):
    model: str
    credits: int
    duration: float
    formula: str = Field(description="How the credits add up, in words")


def narrowed(schema: dict[str, Any], spec: ModelSpec) -> dict[str, Any]:
    """`schema` with the model's own rules: its durations and aspect ratios as enums, its prompt limit."""
    schema = copy.deepcopy(schema)

    def visit(node: Any) -> None:
        if not isinstance(node, dict):
            return
        properties = node.get("properties")
        if isinstance(properties, dict):
            if "duration" in properties and spec.durations:
                properties["duration"] = {
                    "type": "integer",
                    "enum": list(spec.durations),
                    "default": spec.durations[0],
                    "description": "Seconds",
                }
            if "aspectRatio" in properties and spec.aspect_ratios:
                properties["aspectRatio"] = {
                    **properties["aspectRatio"],
                    "enum": list(spec.aspect_ratios),
                    "default": spec.aspect_ratios[0],
                }
                properties["aspectRatio"].pop("anyOf", None)
                properties["aspectRatio"]["type"] = "string"
            prompt = properties.get("prompt")
            if isinstance(prompt, dict) and prompt.get("type") == "array":
                prompt["maxItems"] = spec.max_prompts
        for value in node.values():
            for item in value if isinstance(value, list) else [value]:
                visit(item)

    visit(schema)
    return schema


def create_route(spec: ModelSpec, openai_model: str | None = None) -> CreateRoute:
    """The route that takes `spec` natively; `openai_model` is `/v1/videos`' own (Agnes) model, offered there
    with its multi-image and keyframes fields."""
    if spec.name == openai_model:
        schema = inline_schema(CreateVideo)
        schema.get("properties", {}).pop("model", None)
        return CreateRoute(
            dialect="openai_videos",
            method="POST",
            path="/v1/videos",
            auth="key",
            bodySchema=narrowed(schema, spec),
            fixed={"model": spec.name},
        )
    if spec.name == JSON_MODEL:
        return CreateRoute(
            dialect="avs",
            method="POST",
            path="/api/v1/videos/from-json",
            auth="avs_token",
            bodySchema=inline_schema(FromJsonRequest),
        )
    if spec.name == PROMPT_MODEL:
        return CreateRoute(
            dialect="avs",
            method="POST",
            path="/api/v1/videos/from-prompt",
            auth="avs_token",
            bodySchema=inline_schema(FromPromptRequest),
        )
    body = AIVIDEOMAKER_BODIES.get(spec.kind)
    if body is not None:
        return CreateRoute(
            dialect="aivideomaker",
            method="POST",
            path=f"/api/v1/generate/{spec.name}",
            auth="key",
            bodySchema=narrowed(inline_schema(body), spec),
        )
    scene = "video-to-video" if spec.kind == Kind.VIDEO_TO_VIDEO else "ad-video"
    schema = inline_schema(GenerateInput)
    for fixed in ("scene", "model", "provider", "workspaceId"):
        schema.get("properties", {}).pop(fixed, None)
    return CreateRoute(
        dialect="actions",
        method="POST",
        path="/api/actions/ai.video.generate",
        auth="key",
        bodySchema=narrowed(schema, spec),
        fixed={"scene": scene, "model": spec.name},
    )


def describe(spec: ModelSpec, openai_model: str | None = None) -> ConsoleModel:
    return ConsoleModel(
        name=spec.name,
        engine=spec.engine,
        kind=spec.kind.value,
        description=spec.description,
        creditsPerSecond=spec.credits_per_second,
        creditsPerJob=spec.credits_per_job,
        creditsPerAsset=dict(spec.credits_per_asset),
        durations=list(spec.durations),
        aspectRatios=list(spec.aspect_ratios),
        maxPrompts=spec.max_prompts,
        segmentSeconds=spec.segment_seconds,
        height=spec.height,
        fps=spec.fps,
        create=create_route(spec, openai_model),
        mcpTool={JSON_MODEL: "render_template", PROMPT_MODEL: None}.get(spec.name, "generate_video"),
        openai=spec.kind in (Kind.TEXT_TO_VIDEO, Kind.IMAGE_TO_VIDEO),
    )


@router.get(
    "/models",
    summary="The catalog for the playground: each model's create route, body schema and pricing",
    response_model=ModelList,
    responses=errors(401),
)
def models(key: ApiKey = Depends(require_key), services: Services = Depends(get_services)) -> ModelList:
    catalog = services.tasks.catalog
    openai_model = services.settings.default_video_model
    return ModelList(models=[describe(catalog.models[name], openai_model) for name in catalog.names])


def quote(spec: ModelSpec, query: PriceQuery) -> Price:
    """The price `ModelSpec.price` gives a request of this length and these inputs."""
    assets: list[Asset] = []
    if query.template is not None:
        request, _ = template_request(query.template, "16:9", "1080p", check_url=lambda url, pointer: None)
        duration = request.duration
        assets = list(request.assets)
    else:
        if query.prompts is not None and spec.kind == Kind.LONG_VIDEO:
            duration = float(query.prompts * spec.segment_seconds)
        elif query.duration is not None:
            duration = query.duration
        else:
            duration = float(spec.durations[0] if spec.durations else spec.segment_seconds)
        for kind, count in query.assets.items():
            if kind not in ASSET_TYPES:
                raise invalid(f"asset type must be one of {', '.join(ASSET_TYPES)}", f"/assets/{kind}")
            assets += [Asset(source=f"quote:{kind}:{i}", type=kind) for i in range(max(0, min(count, 100)))]
    request = GenerationRequest(
        kind=spec.kind, width=16, height=16, fps=float(spec.fps), duration=duration, assets=assets
    )
    credits = spec.price(request)
    parts = [
        f"{round(duration)} s x {spec.credits_per_second:g} = {math.ceil(round(duration) * spec.credits_per_second)}"
    ]
    if spec.credits_per_job:
        parts.append(f"{spec.credits_per_job} per job")
    for kind in ASSET_TYPES:
        count = sum(1 for a in assets if a.type == kind)
        if count and spec.credits_per_asset.get(kind):
            parts.append(f"{count} {kind} x {spec.credits_per_asset[kind]}")
    return Price(model=spec.name, credits=credits, duration=duration, formula=" + ".join(parts))


@router.post(
    "/price",
    summary="The credits a create would cost (the catalog's price, the same code that debits)",
    response_model=Price,
    responses=errors(400, 401),
)
def price(query: PriceQuery, key: ApiKey = Depends(require_key), services: Services = Depends(get_services)) -> Price:
    return quote(services.tasks.model(query.model), query)
