"""The engine protocol and the registry of engine implementations.

An engine never knows which dialect asked or which executor runs it: it reads a `GenerationRequest`,
reports through a `RunContext`, and returns an `Artifact` (files in the context's work directory). The
runtime stores the files and completes the task.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from reelforge.domain.errors import ErrorCode, ReelforgeError
from reelforge.domain.request import GenerationRequest, Kind


class TaskCancelled(Exception):
    """Raised inside an engine (by `RunContext.raise_if_cancelled`) to stop at a safe point."""


@dataclass(frozen=True)
class Artifact:
    video_path: Path
    thumbnail_path: Path
    duration: float
    width: int
    height: int
    fps: float


@runtime_checkable
class RunContext(Protocol):
    task_id: str
    workdir: Path

    def progress(self, percent: float) -> None:
        """Report progress 0-100; cheap to call every frame (the runtime throttles writes)."""

    def cancelled(self) -> bool:
        """True once somebody asked to cancel this task; engines check it between units of work."""

    def raise_if_cancelled(self) -> None:
        """Raise `TaskCancelled` if `cancelled()`."""

    def phase(self, name: str) -> None:
        """Name the stage the task is in (`preparing_assets`, `generating`, `rendering`); shown to callers."""

    def read_input(self, source: str) -> bytes:
        """The bytes of an input (`ImageInput.source`): a stored upload or a URL through the safe fetcher."""


@dataclass(frozen=True)
class EngineCapabilities:
    kinds: frozenset[Kind]
    description: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"kinds": sorted(k.value for k in self.kinds), "description": self.description}


class Engine(Protocol):
    name: str
    capabilities: EngineCapabilities

    def validate(self, request: GenerationRequest) -> None:
        """Raise `ReelforgeError(INVALID_PAYLOAD)` for what this engine cannot do; called before any credit."""

    def run(self, request: GenerationRequest, ctx: RunContext) -> Artifact:
        """Produce the video; call `ctx.progress` as it advances and stop on `ctx.raise_if_cancelled()`."""


# name -> "module:Class"; imported lazily so a heavy engine costs nothing until a worker needs it.
ENGINE_CLASSES: dict[str, str] = {
    "draft": "reelforge.engines.draft.engine:DraftEngine",
    "compose": "reelforge.engines.compose.engine:ComposeEngine",
    "creator": "reelforge.engines.creator.engine:CreatorEngine",
    "diffusion": "reelforge.engines.diffusion.engine:DiffusionEngine",
    "upstream": "reelforge.engines.upstream.engine:UpstreamEngine",
}


def engine_class(name: str) -> type:
    try:
        target = ENGINE_CLASSES[name]
    except KeyError:
        raise ReelforgeError(
            ErrorCode.INVALID_MODEL, f"unknown engine {name!r}; known engines: {', '.join(ENGINE_CLASSES)}"
        ) from None
    module_name, _, class_name = target.partition(":")
    return getattr(importlib.import_module(module_name), class_name)


def create_engine(name: str, settings: dict[str, Any] | None = None) -> Engine:
    """An engine instance configured with a model's `settings` table from `models.toml`."""
    return engine_class(name)(settings or {})
