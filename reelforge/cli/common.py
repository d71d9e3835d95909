"""Options and helpers shared by the CLI's commands."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from reelforge.config import Settings
from reelforge.domain.catalog import CatalogError
from reelforge.observability import logs as observability_logs

if TYPE_CHECKING:
    from reelforge.services import Services

DataDir = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        envvar="REELFORGE_DATA_DIR",
        help="Where the database, artifacts and dev key live [default: the user data directory].",
    ),
]


def settings_for(data_dir: Path | None, **overrides: object) -> Settings:
    values: dict[str, Any] = {k: v for k, v in overrides.items() if v is not None}
    if data_dir is not None:
        values["data_dir"] = data_dir.expanduser().resolve()
    return Settings(**values)


def start_services(settings: Settings, command: str) -> Services:
    """The services of `reelforge <command>` after the start-up check of the catalog and every model's settings.

    A bad `models.toml` ends the command here: the file, each bad model and key on stderr, exit status 2,
    no traceback.
    """
    from reelforge.runtime.loader import load_services

    check_data_dir(settings.data_dir, command)
    try:
        return load_services(settings)
    except CatalogError as exc:
        typer.echo(f"reelforge {command}: cannot start: {exc.report()}", err=True)
        raise typer.Exit(2) from None


def check_data_dir(path: Path, command: str) -> None:
    """End the command with one line (exit 2) when the data directory cannot be created or written: a raw
    traceback from deep in the database or storage set-up named neither the directory nor the fix."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".write-check-"):
            pass
    except OSError as exc:
        typer.echo(
            f"reelforge {command}: cannot start: the data directory {path} is not a writable directory "
            f"({exc.strerror or exc}); make it one or point --data-dir / REELFORGE_DATA_DIR at one",
            err=True,
        )
        raise typer.Exit(2) from None


def configure_logging(level: str = "INFO") -> None:
    """Logging for a command (reelforge/observability/logs.py); a bad REELFORGE_LOG_FORMAT ends it, exit 2."""
    try:
        observability_logs.configure_logging(level)
    except observability_logs.LogFormatError as exc:
        typer.echo(f"reelforge: {exc}", err=True)
        raise typer.Exit(2) from None
