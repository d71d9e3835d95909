"""`GenerationRequest`: the canonical, dialect-free description of one generation.

Every dialect maps its payload into this; every engine reads only this. It is stored as JSON with the
task, so a worker on another host sees exactly what the API accepted.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Kind(StrEnum):
    TEXT_TO_VIDEO = "text_to_video"
    IMAGE_TO_VIDEO = "image_to_video"
    KEYFRAMES = "keyframes"
    MULTI_IMAGE = "multi_image"
    LONG_VIDEO = "long_video"
    VIDEO_TO_VIDEO = "video_to_video"
    COMPOSE = "compose"


STORED_PREFIX = "stored:"
"""`ImageInput.source` prefix for bytes already in reelforge's storage (followed by the storage key)."""


class ImageInput(BaseModel):
    """An input image: a remote URL (fetched by the worker through the safe fetcher) or a stored upload.

    `source` is either an `http(s)://` URL or `stored:<storage key>` for bytes the API already saved
    (data: URIs are decoded and stored at submit time, so the database never holds megabytes of base64).
    """

    model_config = ConfigDict(frozen=True)

    source: str
    frame: int = 0
    strength: float = 1.0


class Asset(BaseModel):
    """An input file the task consumes (a template's video, image or audio), priced as an upload."""

    model_config = ConfigDict(frozen=True)

    source: str
    type: str  # video | image | audio
    name: str | None = None


class GenerationRequest(BaseModel):
    model_config = ConfigDict(frozen=True)

    kind: Kind
    prompt: str | None = None
    prompts: list[str] = Field(default_factory=list)
    images: list[ImageInput] = Field(default_factory=list)
    video: str | None = None
    width: int
    height: int
    fps: float
    duration: float
    seed: int = 0
    negative_prompt: str | None = None
    steps: int | None = None
    template: dict[str, Any] | None = None
    assets: list[Asset] = Field(default_factory=list)
    extra: dict[str, Any] = Field(default_factory=dict)

    @property
    def num_frames(self) -> int:
        return round(self.duration * self.fps)

    def stored_keys(self) -> list[str]:
        """Storage keys of the uploads this request references (images, template assets, a source video).

        What an upload session keeps when the task is created, and what is deleted with the task's outputs.
        """
        sources = [image.source for image in self.images] + [asset.source for asset in self.assets]
        if self.video:
            sources.append(self.video)
        return list(dict.fromkeys(s.removeprefix(STORED_PREFIX) for s in sources if s.startswith(STORED_PREFIX)))
