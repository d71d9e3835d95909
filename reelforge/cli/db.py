"""`reelforge db backup|restore`: a consistent copy of the embedded SQLite store, taken while it serves.

SQLite's online backup API copies the database page by page under its own locking, so the copy is one
consistent state even while the server and workers write (copying the file, or the file and its `-wal`, is not).
PostgreSQL has its own tools for this (pg_dump / pg_restore); the command says so instead of half-doing it.
Artifacts (the MP4s) are plain files under the data directory's `artifacts/`: copy them with any file tool.
"""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy.engine import make_url

from reelforge.cli.common import DataDir, settings_for

db_app = typer.Typer(help="Back up and restore the embedded SQLite store.", no_args_is_help=True)

PAGES_PER_STEP = 1024
"""Pages copied per step of the online backup: small steps let the server write between them."""


def _sqlite_path(data_dir: Path | None) -> Path:
    url = make_url(settings_for(data_dir).resolved_database_url)
    if url.get_backend_name() != "sqlite" or not url.database:
        typer.echo(
            f"reelforge db: the store is {url.get_backend_name()}, not the embedded SQLite: back it up with its own "
            "tools (PostgreSQL: pg_dump and pg_restore; see docs/operations.md)",
            err=True,
        )
        raise typer.Exit(2)
    return Path(url.database)


def _check(path: Path) -> str:
    """The backup's schema revision, after SQLite's own integrity check; raises ValueError when unusable."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        verdict = conn.execute("PRAGMA integrity_check").fetchone()[0]
        if verdict != "ok":
            raise ValueError(f"{path} fails SQLite's integrity check: {verdict}")
        try:
            row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
        except sqlite3.DatabaseError:
            raise ValueError(f"{path} is not a reelforge store (it has no schema revision)") from None
        if row is None:
            raise ValueError(f"{path} is not a reelforge store (it has no schema revision)")
        return str(row[0])
    except sqlite3.DatabaseError as exc:
        raise ValueError(f"{path} is not a readable SQLite database: {exc}") from None
    finally:
        conn.close()


def _copy(source: Path, target: Path) -> None:
    """Online backup of `source` into a temporary file beside `target`, renamed into place when complete."""
    partial = target.with_name(f".{target.name}.partial")
    partial.unlink(missing_ok=True)
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=30)
    dst = sqlite3.connect(partial)
    try:
        src.backup(dst, pages=PAGES_PER_STEP)
        dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal beside it
    except BaseException:
        dst.close()
        partial.unlink(missing_ok=True)
        raise
    finally:
        src.close()
    dst.close()
    os.replace(partial, target)


@db_app.command()
def backup(
    path: Annotated[Path, typer.Argument(help="File to write the backup to (replaced if it exists).")],
    data_dir: DataDir = None,
) -> None:
    """Write a consistent copy of the store to PATH; safe while the server and workers run."""
    source = _sqlite_path(data_dir)
    if not source.exists():
        typer.echo(
            f"reelforge db backup: no store at {source} (has the server run with this data directory?)", err=True
        )
        raise typer.Exit(2)
    target = path.expanduser().resolve()
    if target == source:
        typer.echo("reelforge db backup: PATH is the live store itself; choose another file", err=True)
        raise typer.Exit(2)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        started = time.monotonic()
        _copy(source, target)
        revision = _check(target)
    except (OSError, sqlite3.Error, ValueError) as exc:
        typer.echo(f"reelforge db backup: failed: {exc}", err=True)
        raise typer.Exit(1) from None
    size = target.stat().st_size
    typer.echo(
        f"backed up {source} to {target} ({size:,} bytes, schema {revision}) in {time.monotonic() - started:.2f} s"
    )


@db_app.command()
def restore(
    path: Annotated[Path, typer.Argument(help="A file written by `reelforge db backup`.")],
    data_dir: DataDir = None,
) -> None:
    """Replace the store with the backup at PATH. Stop the server and its workers first.

    The backup is checked before anything changes; the store it replaces is kept beside it as
    `reelforge.db.before-restore-<time>`. A backup from an older reelforge is migrated on the next start.
    """
    source = path.expanduser().resolve()
    target = _sqlite_path(data_dir)
    try:
        revision = _check(source)
    except ValueError as exc:
        typer.echo(f"reelforge db restore: refused, nothing changed: {exc}", err=True)
        raise typer.Exit(2) from None
    target.parent.mkdir(parents=True, exist_ok=True)
    kept = None
    if target.exists():
        kept = target.with_name(f"{target.name}.before-restore-{time.strftime('%Y%m%d-%H%M%S')}")
        _copy(target, kept)
    _copy(source, target)
    for suffix in ("-wal", "-shm"):  # the replaced store's write-ahead log must not be replayed over the backup
        Path(f"{target}{suffix}").unlink(missing_ok=True)
    typer.echo(f"restored {target} from {source} (schema {revision})")
    if kept:
        typer.echo(f"the store it replaced is kept at {kept}")
