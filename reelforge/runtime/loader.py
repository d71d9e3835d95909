"""What `reelforge serve`, `worker` and `mcp` do before they start: check the catalog, build the services, and
build the executor.

`check_models` parses `models.toml` and builds every model's engine (each engine's `Settings` parsed, unknown
keys refused), so a typo in a setting stops the process at start, with the file, the model and the key named
(`CatalogError`), instead of failing the first request. `build_executor` is the one place that picks the
executor from `REELFORGE_EXECUTOR`: embedded worker processes, or Celery (the API announces work through the
broker; a Celery worker's own executor only announces what its reaper re-queues).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import IO, TYPE_CHECKING, Literal

from reelforge.config import Settings, catalog_origin, parse_catalog
from reelforge.domain.catalog import CatalogError

if TYPE_CHECKING:
    from celery import Celery

    from reelforge.engines.base import Engine
    from reelforge.runtime.executor import Executor
    from reelforge.services import Services

__all__ = ["CatalogError", "build_executor", "check_hosts", "check_models", "describe_executor", "load_services"]


def check_models(settings: Settings) -> dict[str, Engine]:
    """Validate the catalog and every model's engine settings; model name -> its engine.

    Raises `CatalogError` naming the file, each bad model and key. Cheap: no weights load, no network.
    """
    from reelforge.engines.base import build_engines

    origin = catalog_origin(settings.models_file)
    catalog, problems = parse_catalog(settings.models_file)
    try:
        engines = build_engines(catalog, origin)
    except CatalogError as exc:
        problems += exc.problems
    if problems:
        raise CatalogError(origin, problems)
    return engines


def check_hosts(engines: Mapping[str, Engine], *, start: bool = False) -> list[str]:
    """What this machine lacks for the engines that run here, one line per problem naming the model.

    Only engines with host requirements take part (the diffusion engine: fp8 compute, an attention backend's
    package, GPUs for context parallelism). With `start` (a worker) they also begin what they do at a
    worker's start (loading and warming up a model that preloads).
    """
    problems = []
    for name, engine in engines.items():
        check = getattr(engine, "start" if start else "check_host", None)
        if check is not None:
            problems += [f"model {name!r}: {problem}" for problem in check()]
    return problems


def load_services(settings: Settings) -> Services:
    """`check_models`, then the services (database, storage, task service) for these settings."""
    from reelforge.services import build_services

    return build_services(settings, engines=check_models(settings))  # the checked engines serve as validators


def build_executor(
    services: Services,
    *,
    kind: Literal["embedded", "celery"] | None = None,
    workers: int = 1,
    log_level: str = "INFO",
    stdout: IO[str] | None = None,
    announce_on_start: bool = True,
    celery_app: Celery | None = None,
) -> Executor:
    """The executor `kind` names (default: `services.settings.executor`).

    embedded: `workers` worker processes (their stdout to `stdout`, inherited by default). celery: tasks are
    announced on the broker (`celery_app`, default one built from the settings); `announce_on_start` also
    announces every task already queued (an API server does; `reelforge mcp` and Celery workers do not).
    """
    settings = services.settings
    if (kind or settings.executor) == "celery":
        from reelforge.runtime.celery_executor import CeleryExecutor

        return CeleryExecutor(services, celery_app, announce_on_start=announce_on_start)
    from reelforge.runtime.embedded import EmbeddedExecutor

    return EmbeddedExecutor(settings, workers=workers, log_level=log_level, stdout=stdout)


def describe_executor(settings: Settings, workers: int) -> str:
    """How the serve banner names the workers: their count, or `celery via <broker>` (password hidden)."""
    if settings.executor == "celery":
        from sqlalchemy.engine import make_url

        return f"celery via {make_url(settings.broker_url).render_as_string(hide_password=True)}"
    return str(workers)
