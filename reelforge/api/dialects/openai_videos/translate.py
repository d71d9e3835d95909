"""From the wire contract (`protocol.py`) to a `Submission` for the create path.

Here live the rules that need more than the body: the default model, size standardisation (per model),
how many images a mode takes, and the images themselves, stored through the create's upload session (data
URIs decoded, URLs checked, a multipart file stored as sent). Everything that can refuse without storage is
checked before the first image is stored; whatever is stored belongs to the session, which deletes it if
the create is refused later (402, 409, 503, an engine's 400).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from reelforge.api.dialects.openai_videos.protocol import CreateVideo, RemixVideo
from reelforge.api.dialects.openai_videos.sizes import standardize
from reelforge.domain.catalog import ModelSpec
from reelforge.domain.errors import ErrorCode, ReelforgeError, invalid
from reelforge.domain.request import STORED_PREFIX, GenerationRequest, ImageInput, Kind
from reelforge.domain.task import Task
from reelforge.edge.uploads import UploadSession, elide_data_uri, image_size
from reelforge.tasks.service import Submission

DIALECT = "openai"
MAX_IMAGES = 16
UPLOAD_TYPES = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp"}
"""The image types a multipart `input_reference` file part may have."""


@dataclass(frozen=True)
class InputFile:
    """A multipart `input_reference` file, read but not stored yet (the session stores it in `build`)."""

    data: bytes
    extension: str
    digest: str
    """SHA-256 of `data`: what the idempotency digest covers (the same value the session's `put` reports)."""


def create_submission(
    body: CreateVideo,
    session: UploadSession,
    *,
    default_model: str,
    spec_of: Callable[[str], ModelSpec],
    upload: InputFile | None = None,
) -> Submission:
    """The `Submission` for one create; its images are stored through `session`."""
    model = body.model or default_model
    spec = spec_of(model)  # INVALID_MODEL before anything is stored
    frames, rate = body.frames_and_rate(spec.fps, spec.default_seconds)
    width, height = model_size(body, spec)
    if spec.durations and not any(abs(frames / rate - allowed) < 1e-9 for allowed in spec.durations):
        pointer = "/num_frames" if body.num_frames is not None else "/seconds"
        allowed = ", ".join(f'"{d:g}"' for d in spec.durations)
        raise invalid(f"seconds must be one of {allowed} for {model}, got {frames / rate:g}", pointer)
    values = body.image_values()
    count = len(values) + (1 if upload else 0)
    if count > MAX_IMAGES:
        raise invalid(f"at most {MAX_IMAGES} images are accepted, got {count}", "/image")
    mode = body.effective_mode()
    if mode == "keyframes" and count < 2:
        raise invalid("keyframes mode needs at least two images", "/extra_body/image")

    sources = [session.accept_image(value, pointer).source for pointer, value in values]
    if upload is not None:
        image_size(upload.data, "/input_reference", "the file")
        sources.append(session.put(upload.data, f"{secrets.token_hex(6)}.{upload.extension}").source)
    if mode == "keyframes":
        kind = Kind.KEYFRAMES
        positions = [round(i * (frames - 1) / (len(sources) - 1)) for i in range(len(sources))]
    else:
        kind = {0: Kind.TEXT_TO_VIDEO, 1: Kind.IMAGE_TO_VIDEO}.get(len(sources), Kind.MULTI_IMAGE)
        positions = [0] * len(sources)
    request = GenerationRequest(
        kind=kind,
        prompt=body.prompt,
        images=[ImageInput(source=s, frame=f) for s, f in zip(sources, positions, strict=True)],
        width=width,
        height=height,
        fps=rate,
        duration=frames / rate,
        seed=body.seed if body.seed is not None else secrets.randbelow(2**31),
        steps=body.num_inference_steps,
        negative_prompt=body.negative_prompt,
    )
    return Submission(model=model, request=request, input=echoed(body), dialect=DIALECT)


def model_size(body: CreateVideo, spec: ModelSpec) -> tuple[int, int]:
    """The frame size on `spec`: one of its `sizes` kept exactly (OpenAI's models), else Agnes' standardised
    size (or the size asked for, on engines with a grid of their own)."""
    if spec.sizes:
        size = body.asked_size() or spec.default_size or spec.sizes[0]
        if size not in spec.sizes:
            pointer = "/size" if body.width is None and body.height is None else "/width"
            raise invalid(f"size must be one of {', '.join(spec.sizes)} for {spec.name}, got {size}", pointer)
        across, down = size.split("x")
        return int(across), int(down)
    width, height = body.dimensions()
    if spec.standardize_sizes:
        width, height, _, _ = standardize(width, height)
    return width, height


def echoed(body: CreateVideo) -> dict[str, Any]:
    """The task's `input`: the fields the caller set, as parsed, data URIs shortened to their header."""

    def elide(value: Any) -> Any:
        if isinstance(value, list):
            return [elide(item) for item in value]
        if isinstance(value, dict):
            return {k: elide(v) for k, v in value.items()}
        return elide_data_uri(value)

    return {k: elide(v) for k, v in body.model_dump(mode="json", exclude_none=True).items()}


def remix_submission(source: Task, body: RemixVideo, session: UploadSession) -> Submission:
    """A new video from `source`'s inputs and settings under a new prompt.

    The source's uploaded images are copied into this create's session: each task owns its inputs, which
    are deleted with it (DELETE, output expiry) without taking another task's inputs along.
    """
    images = []
    for image in source.request.images:
        if image.source.startswith(STORED_PREFIX):
            key = image.source.removeprefix(STORED_PREFIX)
            try:
                data = session.storage.read_bytes(key)
            except FileNotFoundError:
                raise ReelforgeError(
                    ErrorCode.INVALID_STATE,
                    f"the input images of video {source.id!r} no longer exist (its files expired); "
                    "create a new video instead",
                ) from None
            image = image.model_copy(update={"source": session.put(data, key.rsplit("/", 1)[-1]).source})
        images.append(image)
    request = source.request.model_copy(update={"prompt": body.prompt, "images": images})
    return Submission(
        model=source.model,
        request=request,
        input={**source.input, "prompt": body.prompt},
        dialect=DIALECT,
        extra={"remixed_from": source.id},
    )
