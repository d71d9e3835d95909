"""The engine protocol, the registry of engine implementations and the start-up check of the catalog.

An engine never knows which dialect asked or which executor runs it: it reads a `GenerationRequest`,
reports through a `RunContext`, and returns an `Artifact` (files in the context's work directory). The
runtime stores the files and completes the task.

Every engine declares the same three things (docs/engines.md):

- `Settings`: a pydantic model of its `[models.<name>.settings]` table (`EngineSettings`: unknown keys are
  refused), parsed once by `create_engine` and handed to the engine's constructor;
- `capabilities`: an `EngineCapabilities` (kinds, sizes, fps and duration rules), narrowed per model by the
  instance, checked by the one shared `check_capabilities` at the start of `validate`;
- `validate` / `run`.

`build_engines(catalog, origin)` builds every model's engine and reports every bad setting at once, naming
the file, the model and the key; `reelforge serve`, `worker` and `mcp` call it before they start.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Protocol, TypeVar, runtime_checkable

from pydantic import BaseModel, ConfigDict, ValidationError

from reelforge.domain.catalog import Catalog, CatalogError, describe_errors
from reelforge.domain.errors import ErrorCode, ReelforgeError
from reelforge.domain.request import GenerationRequest
from reelforge.engines.capabilities import EngineCapabilities, check_capabilities

__all__ = [
    "Artifact",
    "Engine",
    "EngineCapabilities",
    "EngineSettings",
    "RunContext",
    "TaskCancelled",
    "build_engines",
    "check_capabilities",
    "create_engine",
    "engine_class",
    "parse_settings",
]


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
    poster_path: Path | None = None  # a full-size still, when the request asked for one (compose `poster`)


@runtime_checkable
class RunContext(Protocol):
    """What an engine sees of the runtime. A context may also offer `record_timings(dict)` (the worker's does:
    seconds per stage, kept with the task); engines that time their stages look it up with `getattr`."""

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


class EngineSettings(BaseModel):
    """The base of every engine's `Settings`: a model's `settings` table, unknown keys refused.

    Inputs are never echoed in errors (`hide_input_in_errors`): a table may hold what looks like a secret.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    @classmethod
    def from_table(cls: type[S], table: Mapping[str, Any] | None = None) -> S:
        """Parse a `models.toml` table; raises `pydantic.ValidationError` (a `ValueError`) naming each bad key."""
        return cls.model_validate(dict(table or {}))

    def _derive(self, **values: Any) -> None:
        """Fill derived values in an `after` validator (the model is frozen once built)."""
        self.__dict__.update(values)


S = TypeVar("S", bound=EngineSettings)


def parse_settings(model: type[S], value: S | Mapping[str, Any] | None) -> S:
    """`value` as `model`: already parsed (returned as is) or a raw table (parsed now)."""
    if isinstance(value, model):
        return value
    if isinstance(value, EngineSettings):
        value = value.model_dump()
    return model.from_table(value)


class Engine(Protocol):
    name: str
    Settings: ClassVar[type[EngineSettings]]
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


def engine_class(name: str) -> Any:
    try:
        target = ENGINE_CLASSES[name]
    except KeyError:
        raise ReelforgeError(
            ErrorCode.INVALID_MODEL, f"unknown engine {name!r}; known engines: {', '.join(ENGINE_CLASSES)}"
        ) from None
    module_name, _, class_name = target.partition(":")
    return getattr(importlib.import_module(module_name), class_name)


def create_engine(name: str, settings: Mapping[str, Any] | EngineSettings | None = None) -> Engine:
    """An engine instance configured with a model's `settings` table from `models.toml`, parsed once here."""
    cls = engine_class(name)
    return cls(parse_settings(cls.Settings, settings))


def build_engines(catalog: Catalog, origin: str = "models.toml") -> dict[str, Engine]:
    """Model name -> its engine, built from the catalog; every bad entry is reported at once.

    Raises `CatalogError` listing each problem as `model 'x' (engine y): settings.key: what is wrong`: an
    unknown engine, an unknown or bad setting, or a combination the engine refuses (e.g. an AIVideoMaker
    model with other `kinds`). Building is cheap: no weights load and no network is touched.
    The task service may keep the result as its validators, so the first request builds nothing.
    """
    engines: dict[str, Engine] = {}
    problems: list[str] = []
    for name in catalog.names:
        spec = catalog.models[name]
        if spec.engine not in ENGINE_CLASSES:
            problems.append(
                f"model {name!r}: engine: unknown engine {spec.engine!r} (known: {', '.join(ENGINE_CLASSES)})"
            )
            continue
        cls = engine_class(spec.engine)
        where = f"model {name!r} (engine {spec.engine})"
        try:
            parsed = cls.Settings.from_table(spec.settings)
        except ValidationError as exc:
            problems += [f"{where}: {problem}" for problem in describe_errors(exc, cls.Settings, prefix="settings")]
            continue
        try:
            engines[name] = cls(parsed)
        except (ValueError, ReelforgeError) as exc:
            message = exc.message if isinstance(exc, ReelforgeError) else str(exc)
            problems.append(f"{where}: settings: {message}")
    if problems:
        raise CatalogError(origin, problems)
    return engines
