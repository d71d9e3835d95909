"""The AVS public video API (`shared/specs/003_*.txt`): JSON-to-video and prompt-to-video jobs.

- `POST /api/v1/videos/from-json` renders an AVS Template JSON v1 with the `compose` engine;
- `POST /api/v1/videos/from-prompt` lets the `creator` engine plan a template from a prompt and assets;
- `GET /api/v1/jobs/{jobId}` reports status and phase (queued, preparing_assets, generating, rendering,
  completed, failed) and, when done, a signed `downloadUrl` with its `expiresAt`.
Auth is `Authorization: Bearer avs.<tokenId>.<secret>` with a public-API token. Costs as the contract
lists: render 5, creator step 3, and uploads by type (video 5, image 0, audio 3), URLs included.
Webhooks: on the terminal state, signed `X-AVS-Signature: sha256=<hex>` with the job's secret.
"""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime
from typing import Any

from fastapi import Depends, Request
from fastapi.responses import JSONResponse

from reelforge.accounts.tokens import ApiToken
from reelforge.api.auth import key_from_headers
from reelforge.api.dialect import Dialect, dialect_router, generic_body
from reelforge.api.dialects.avs_tokens import router as tokens_router
from reelforge.api.dialects.avs_uploads import ParsedRequest, media_type_of, parse_request
from reelforge.api.idempotency import idempotency_of
from reelforge.api.links import links_for
from reelforge.domain.errors import ReelforgeError, invalid
from reelforge.domain.formats import ASPECT_RATIOS, QUALITIES, output_format
from reelforge.domain.request import STORED_PREFIX, Asset, GenerationRequest, Kind
from reelforge.domain.task import Task, TaskStatus
from reelforge.domain.template import parse_template, template_duration
from reelforge.edge.links import Links, expired_message
from reelforge.media.fetch import check_url
from reelforge.services import Services
from reelforge.tasks.service import Submission

DIALECT = "avs"
JSON_MODEL = "avs-json"
PROMPT_MODEL = "avs-prompt"
MEDIA_BLOCKS = ("video", "image", "audio")
MAX_ASSET_URLS = 20
DEFAULT_PROMPT_SECONDS = 15
MIN_PROMPT_SECONDS, MAX_PROMPT_SECONDS = 5, 120

STATUS_NAMES = {
    TaskStatus.QUEUED: "queued",
    TaskStatus.RUNNING: "running",
    TaskStatus.SUCCEEDED: "completed",
    TaskStatus.FAILED: "failed",
    TaskStatus.CANCELLED: "cancelled",
}
# Phases the contract names; "started" (claimed, engine not yet reporting) shows as preparing_assets.
PHASE_NAMES = {"started": "preparing_assets"}


# ------------------------------------------------------------------ auth


async def require_public_token(request: Request) -> ApiToken:
    tokens = request.app.state.services.tokens
    token = tokens.authenticate(key_from_headers(request), kind="public_api")
    request.state.api_token = token
    return token


# --------------------------------------------------------------- parsing


def _output(payload: dict[str, Any]) -> tuple[str, str]:
    output = payload.get("output") or {}
    if not isinstance(output, dict):
        raise invalid("output must be an object with aspectRatio and quality", "/output")
    aspect = output.get("aspectRatio", "16:9")
    quality = output.get("quality", "web")
    if aspect not in ASPECT_RATIOS:
        raise invalid(f"output.aspectRatio must be one of {', '.join(ASPECT_RATIOS)}", "/output/aspectRatio")
    if quality not in QUALITIES:
        raise invalid(f"output.quality must be one of {', '.join(QUALITIES)}", "/output/quality")
    fmt = output.get("format", "mp4")
    if fmt != "mp4":
        raise invalid("output.format: V1 output is MP4 only", "/output/format")
    return aspect, quality


def _webhook(payload: dict[str, Any], services: Services) -> tuple[str | None, str | None]:
    webhook = payload.get("webhook")
    if webhook is None:
        return None, None
    if not isinstance(webhook, dict) or not isinstance(webhook.get("url"), str):
        raise invalid("webhook must be an object with a url (and a secret to sign with)", "/webhook")
    secret = webhook.get("secret")
    if secret is not None and (not isinstance(secret, str) or not secret):
        raise invalid("webhook.secret must be a non-empty string", "/webhook/secret")
    try:
        check_url(webhook["url"], allow_private=services.settings.allow_private_urls, purpose="webhook.url")
    except ReelforgeError as exc:
        exc.field = "/webhook/url"
        raise
    return webhook["url"], secret


def _checked_url(url: Any, pointer: str, services: Services) -> str:
    if not isinstance(url, str):
        raise invalid("must be an https URL", pointer)
    try:
        check_url(url, allow_private=services.settings.allow_private_urls, purpose=pointer)
    except ReelforgeError as exc:
        exc.field = pointer
        raise
    return url


def normalise_template(
    template: dict[str, Any], parsed: ParsedRequest, services: Services
) -> tuple[dict[str, Any], list[Asset]]:
    """Point every media block at an input ref (a stored upload or a checked URL) and list the assets.

    Each distinct input is one asset, priced by the type of block that uses it; uploads no block uses
    are still inputs of the job and are priced by their own type.
    """
    assets: dict[str, Asset] = {}
    blocks = []
    for index, block in enumerate(template.get("blocks", [])):
        block = dict(block)
        if block.get("type") in MEDIA_BLOCKS:
            source = dict(block["source"])
            pointer = f"/template/blocks/{index}/source"
            if "uploadName" in source:
                upload = parsed.uploads.get(source["uploadName"])
                if upload is None:
                    known = ", ".join(sorted(parsed.uploads)) or "none"
                    raise invalid(
                        f"no uploaded file is named {source['uploadName']!r} (uploaded: {known})",
                        f"{pointer}/uploadName",
                    )
                source["ref"] = STORED_PREFIX + upload.key
            else:
                source["ref"] = _checked_url(source.get("url"), f"{pointer}/url", services)
            assets.setdefault(
                source["ref"],
                Asset(source=source["ref"], type=block["type"], name=source.get("uploadName") or source.get("url")),
            )
            block["source"] = source
        blocks.append(block)
    for upload in parsed.uploads.values():
        assets.setdefault(
            STORED_PREFIX + upload.key, Asset(source=STORED_PREFIX + upload.key, type=upload.type, name=upload.name)
        )
    return {**template, "blocks": blocks}, list(assets.values())


def parse_from_json(parsed: ParsedRequest, services: Services) -> tuple[GenerationRequest, dict[str, Any]]:
    payload = parsed.payload
    raw_template = payload.get("template")
    if not isinstance(raw_template, dict):
        raise invalid("template is required: an AVS Template JSON v1 object", "/template")
    template = parse_template(raw_template, prefix="/template")
    aspect, quality = _output(payload)
    normalised, assets = normalise_template(raw_template, parsed, services)
    fmt = output_format(aspect, quality)
    request = GenerationRequest(
        kind=Kind.COMPOSE,
        template=normalised,
        width=fmt.width,
        height=fmt.height,
        fps=fmt.fps,
        duration=template_duration(template),
        assets=assets,
        extra={"quality": quality, "aspectRatio": aspect, "mode": "json"},
    )
    return request, {"template": raw_template, "output": {"aspectRatio": aspect, "quality": quality}}


def requested_seconds(prompt: str) -> int:
    """The length a prompt asks for ("a 20 second teaser", "30s"), clamped; the default otherwise."""
    match = re.search(r"(\d{1,3})\s*-?\s*(?:seconds?|secs?|s)\b", prompt, re.IGNORECASE)
    seconds = int(match.group(1)) if match else DEFAULT_PROMPT_SECONDS
    return max(MIN_PROMPT_SECONDS, min(MAX_PROMPT_SECONDS, seconds))


def parse_from_prompt(parsed: ParsedRequest, services: Services) -> tuple[GenerationRequest, dict[str, Any]]:
    payload = parsed.payload
    prompt = payload.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        raise invalid("prompt is required: describe the video to create", "/prompt")
    if len(prompt) > 4000:
        raise invalid("prompt is longer than 4000 characters", "/prompt")
    urls = payload.get("assetUrls") or []
    if not isinstance(urls, list) or len(urls) > MAX_ASSET_URLS:
        raise invalid(f"assetUrls must be a list of at most {MAX_ASSET_URLS} URLs", "/assetUrls")
    assets = []
    for index, url in enumerate(urls):
        pointer = f"/assetUrls/{index}"
        checked = _checked_url(url, pointer, services)
        kind = media_type_of(checked.split("?")[0], None)
        if kind is None:
            raise invalid(
                "cannot tell the media type from the URL; use a .mp4/.mov/.webm, image or audio "
                "file name, or upload the file instead",
                pointer,
            )
        assets.append(Asset(source=checked, type=kind, name=checked))
    assets += [Asset(source=STORED_PREFIX + u.key, type=u.type, name=u.name) for u in parsed.uploads.values()]
    aspect, quality = _output(payload)
    fmt = output_format(aspect, quality)
    request = GenerationRequest(
        kind=Kind.COMPOSE,
        prompt=prompt.strip(),
        width=fmt.width,
        height=fmt.height,
        fps=fmt.fps,
        duration=requested_seconds(prompt),
        assets=assets,
        extra={"quality": quality, "aspectRatio": aspect, "mode": "prompt"},
    )
    echoed = {
        "prompt": prompt,
        "assetUrls": urls,
        "uploads": sorted(parsed.uploads),
        "output": {"aspectRatio": aspect, "quality": quality},
    }
    return request, echoed


# ------------------------------------------------------------- rendering


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def render_job(task: Task, links: Links) -> dict[str, Any]:
    result = None
    if task.output is not None:
        # expiresAt: when the video is deleted (the contract's 7 days after completion by default); with
        # outputs kept forever, when the download URL itself stops working.
        expires = task.expires_at or datetime.fromtimestamp(links.expires_at(), UTC)
        result = {
            "downloadUrl": links.video_url(task),
            "expiresAt": _iso(expires),
            "thumbnailUrl": links.thumbnail_url(task),
            "durationSeconds": task.output.duration,
            "width": task.output.width,
            "height": task.output.height,
        }
        if links.expired(task):  # addition: downloadUrl is null because the files were deleted
            result.update(expired=True, message=expired_message(task))
    error = {"code": task.error_code, "message": task.error_message} if task.error_code else None
    return {
        "jobId": task.id,
        "mode": task.request.extra.get("mode", task.model),
        "status": STATUS_NAMES[task.status],
        "phase": PHASE_NAMES.get(task.phase or "", task.phase),
        "progress": task.progress,
        "createdAt": _iso(task.created_at),
        "updatedAt": _iso(task.updated_at),
        "error": error,
        "result": result,
    }


# ---------------------------------------------------------------- routes


router = dialect_router(generic_body, tags=["AVS public video API"])


async def _create(request: Request, token: ApiToken, model: str, parse) -> JSONResponse:  # type: ignore[no-untyped-def]
    services: Services = request.app.state.services
    parsed = await parse_request(request, services.storage, services.settings.max_upload_bytes)
    task = None
    try:
        idempotency = idempotency_of(
            request, DIALECT, model, parsed.payload, {u.name: u.digest for u in parsed.uploads.values()}
        )
        idempotency_key, request_hash = idempotency.key, idempotency.digest
        generation, echoed = await asyncio.to_thread(parse, parsed, services)
        webhook_url, webhook_secret = await asyncio.to_thread(_webhook, parsed.payload, services)
        submission = Submission(
            model=model,
            request=generation,
            input=echoed,
            dialect=DIALECT,
            webhook_url=webhook_url,
            webhook_scheme="avs",
            webhook_secret=webhook_secret,
            idempotency_key=idempotency_key,
            request_hash=request_hash,
        )
        task = await asyncio.to_thread(services.tasks.submit, token.key_id, submission)
    finally:
        used = set() if task is None else {asset.source for asset in task.request.assets}
        for key in parsed.stored_keys:  # nothing half-written: keep only uploads a task uses
            if STORED_PREFIX + key not in used:
                services.storage.delete(key)
    request.app.state.executor.dispatch(task)
    return JSONResponse(render_job(task, links_for(request)), status_code=202)


@router.post("/api/v1/videos/from-json", summary="Render an AVS Template JSON v1 (JSON or multipart)")
async def from_json(request: Request, token: ApiToken = Depends(require_public_token)) -> JSONResponse:
    return await _create(request, token, JSON_MODEL, parse_from_json)


@router.post("/api/v1/videos/from-prompt", summary="Plan and render a video from a prompt and assets")
async def from_prompt(request: Request, token: ApiToken = Depends(require_public_token)) -> JSONResponse:
    return await _create(request, token, PROMPT_MODEL, parse_from_prompt)


@router.get("/api/v1/jobs/{job_id}", summary="Job status, phase and result")
async def get_job(job_id: str, request: Request, token: ApiToken = Depends(require_public_token)) -> dict[str, Any]:
    task = request.app.state.services.tasks.get(job_id, token.key_id)
    return render_job(task, links_for(request))


AVS_DIALECT = Dialect(
    DIALECT,
    (router, tokens_router),
    generic_body,
    render_job,
    prefixes=("/api/v1/videos", "/api/v1/jobs", "/api/v1/tokens"),
)
