"""From an accepted AVS body to a `Submission`: inputs resolved to refs, assets priced, URLs checked.

`uploads` are the job-scoped files already stored through the create's `UploadSession`, by file name;
each distinct input (an upload or a URL) is one `Asset`, priced by the type of the block that uses it,
and uploads no block uses are still inputs of the job, priced by their own type. A `.vidova` screen
recording is its own type, `screen_recording` (0 as an upload; prompt mode adds its 5-credit analysis). A
prompt job's `assetUrls` entry whose path has no telling extension (a signed CDN URL) is typed by its first
bytes (`media/sniff.py`).
"""

from __future__ import annotations

import mimetypes
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from reelforge.api.dialects.avs.protocol import FromJsonRequest, FromPromptRequest, Webhook
from reelforge.config import Settings
from reelforge.domain.errors import ReelforgeError, invalid
from reelforge.domain.formats import output_format
from reelforge.domain.request import Asset, GenerationRequest, Kind
from reelforge.domain.template import media_sources, template_duration, with_refs
from reelforge.media.fetch import check_url
from reelforge.media.sniff import sniff_url
from reelforge.tasks.service import Submission

DIALECT = "avs"
JSON_MODEL = "avs-json"
PROMPT_MODEL = "avs-prompt"
DEFAULT_PROMPT_SECONDS = 15
MIN_PROMPT_SECONDS, MAX_PROMPT_SECONDS = 5, 120


@dataclass(frozen=True)
class Upload:
    """One job-scoped file of a create, stored: its file name (the `uploadName`), media type and ref."""

    name: str
    type: str  # video | image | audio
    source: str  # stored:<key>


SCREEN_RECORDING = "screen_recording"
"""A `.vidova` screen recording: priced as its own upload type (0), analysed in prompt mode (5)."""
SCREEN_SUFFIX = ".vidova"


def media_type_of(name: str, content_type: str | None) -> str | None:
    """`screen_recording` for a `.vidova` name; `subtitles` for an SRT or WebVTT file (a captions block's
    `source`, priced as nothing unless the model says otherwise); else `video`, `image` or `audio` from the
    declared content type, else from the file name."""
    if name.lower().endswith(SCREEN_SUFFIX):
        return SCREEN_RECORDING
    if name.lower().endswith((".srt", ".vtt")) or (content_type or "").lower().startswith(
        ("text/vtt", "application/x-subrip")
    ):
        return "subtitles"
    for candidate in (content_type or "", mimetypes.guess_type(name)[0] or ""):
        major = candidate.split("/")[0].lower()
        if major in ("video", "image", "audio"):
            return major
    return None


def checked_url(url: str, pointer: str, settings: Settings, *, webhook: bool = False) -> str:
    allow_private = settings.private_webhook_urls_allowed if webhook else settings.private_input_urls_allowed
    try:
        check_url(url, allow_private=allow_private, purpose=pointer)
    except ReelforgeError as exc:
        exc.field = pointer
        raise
    return url


def checked_screen_url(url: str, pointer: str, settings: Settings) -> None:
    """A `.vidova` URL must hold a video container (its first bytes, `media/sniff.py`); a 400 naming it if not."""
    kind = sniff_url(
        url, allow_private=settings.private_input_urls_allowed, timeout=settings.fetch_timeout, pointer=pointer
    )
    if kind != "video":
        raise invalid(
            f"{url} is not a screen recording reelforge can read: it holds {kind}, not a video container "
            "(a .vidova must be a media container such as MP4, MOV or WebM)",
            pointer,
        )


def _submission(
    model: str, generation: GenerationRequest, echoed: dict[str, Any], webhook: Webhook | None, settings: Settings
) -> Submission:
    url = None if webhook is None else checked_url(webhook.url, "/webhook/url", settings, webhook=True)
    return Submission(
        model=model,
        request=generation,
        input=echoed,
        dialect=DIALECT,
        webhook_url=url,
        webhook_scheme="avs",
        webhook_secret=None if webhook is None else webhook.secret,
    )


def from_json(body: FromJsonRequest, uploads: dict[str, Upload], settings: Settings) -> Submission:
    assets: dict[str, Asset] = {}
    refs: dict[str, str] = {}
    for pointer, kind, source in media_sources(body.template):
        if source.upload_name is not None:
            upload = uploads.get(source.upload_name)
            if upload is None:
                known = ", ".join(sorted(uploads)) or "none"
                raise invalid(
                    f"no uploaded file is named {source.upload_name!r} (uploaded: {known})", f"{pointer}/uploadName"
                )
            ref = upload.source
        elif source.url is not None:
            ref = checked_url(source.url, f"{pointer}/url", settings)
        else:  # only a `ref`: the API's own form, never accepted from a caller
            raise invalid("must be an http(s) URL", f"{pointer}/url")
        refs[pointer] = ref
        name = source.upload_name or source.url or ""
        priced = SCREEN_RECORDING if media_type_of(name.split("?")[0], None) == SCREEN_RECORDING else kind
        if priced == SCREEN_RECORDING and source.url is not None:
            checked_screen_url(ref, f"{pointer}/url", settings)
        assets.setdefault(ref, Asset(source=ref, type=priced, name=name))
    for upload in uploads.values():
        assets.setdefault(upload.source, Asset(source=upload.source, type=upload.type, name=upload.name))
    output = body.output
    fmt = output_format(output.aspect_ratio, output.quality)
    total = template_duration(body.template)
    duration = total
    if output.range is not None:  # the delivered length (the engine checks the range against the template)
        duration = output.range.length if output.range.length is not None else max(0.0, total - output.range.start)
    generation = GenerationRequest(
        kind=Kind.COMPOSE,
        template=with_refs(body.template, refs),
        width=fmt.width,
        height=fmt.height,
        fps=fmt.fps,
        duration=duration,
        assets=list(assets.values()),
        extra={
            "quality": output.quality,
            "aspectRatio": output.aspect_ratio,
            "mode": "json",
            **output.extension(),
        },
    )
    echoed = {"template": body.sent_template, "output": output.echoed()}
    return _submission(JSON_MODEL, generation, echoed, body.webhook, settings)


def requested_seconds(prompt: str) -> int:
    """The length a prompt asks for ("a 20 second teaser", "30s"), clamped; the default otherwise."""
    match = re.search(r"(\d{1,3})\s*-?\s*(?:seconds?|secs?|s)\b", prompt, re.IGNORECASE)
    seconds = int(match.group(1)) if match else DEFAULT_PROMPT_SECONDS
    return max(MIN_PROMPT_SECONDS, min(MAX_PROMPT_SECONDS, seconds))


def from_prompt(body: FromPromptRequest, uploads: dict[str, Upload], settings: Settings) -> Submission:
    assets = []
    for index, url in enumerate(body.asset_urls):
        pointer = f"/assetUrls/{index}"
        checked = checked_url(url, pointer, settings)
        kind = media_type_of(urlsplit(checked).path, None)
        if kind is None:  # no telling extension (a signed CDN URL): typed by its first bytes
            kind = sniff_url(
                checked,
                allow_private=settings.private_input_urls_allowed,
                timeout=settings.fetch_timeout,
                pointer=pointer,
            )
        elif kind == SCREEN_RECORDING:
            checked_screen_url(checked, pointer, settings)
        assets.append(Asset(source=checked, type=kind, name=checked))
    assets += [Asset(source=u.source, type=u.type, name=u.name) for u in uploads.values()]
    output = body.output
    fmt = output_format(output.aspect_ratio, output.quality)
    generation = GenerationRequest(
        kind=Kind.COMPOSE,
        prompt=body.prompt.strip(),
        width=fmt.width,
        height=fmt.height,
        fps=fmt.fps,
        duration=requested_seconds(body.prompt),
        assets=assets,
        extra={
            "quality": output.quality,
            "aspectRatio": output.aspect_ratio,
            "mode": "prompt",
            **{
                k: v
                for k, v in (("voiceover", body.voiceover), ("captions", body.captions), ("voice", body.voice))
                if v is not None
            },
        },
    )
    echoed = {
        "prompt": body.prompt,
        "assetUrls": body.asset_urls,
        "uploads": sorted(uploads),
        "output": output.echoed(),
    }
    return _submission(PROMPT_MODEL, generation, echoed, body.webhook, settings)
