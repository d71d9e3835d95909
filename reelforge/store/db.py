"""`Database`: engines, transactions and migrations for SQLite (WAL) and PostgreSQL.

SQLite has one writer at a time. Write transactions start with `BEGIN IMMEDIATE`, so a transaction that
reads a balance and then debits it holds the write lock from its first statement and can't be overtaken
(a deferred transaction would fail with SQLITE_BUSY on lock upgrade instead). Reads use a second engine
in autocommit mode (each statement reads its own WAL snapshot), so pollers never queue behind writers.
On PostgreSQL both are the same pool and writers lock the rows they change (`FOR UPDATE`).
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
from collections.abc import Iterator
from pathlib import Path

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url

log = logging.getLogger(__name__)


class Database:
    def __init__(self, url: str, *, pool_size: int = 10, max_overflow: int = 10, pool_recycle: int = 1800) -> None:
        self.url = url
        parsed = make_url(url)
        self.is_sqlite = parsed.get_backend_name() == "sqlite"
        if self.is_sqlite:
            if parsed.database and parsed.database != ":memory:":
                Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
            self.write_engine = _sqlite_engine(url, immediate=True)
            self.read_engine = _sqlite_engine(url, immediate=False)
        else:
            self.write_engine = create_engine(
                url, pool_size=pool_size, max_overflow=max_overflow, pool_recycle=pool_recycle, pool_pre_ping=True
            )
            self.read_engine = self.write_engine

    @contextlib.contextmanager
    def write(self) -> Iterator[Connection]:
        """One write transaction: committed on success, rolled back on any exception."""
        with self.write_engine.begin() as conn:
            yield conn

    @contextlib.contextmanager
    def read(self) -> Iterator[Connection]:
        with self.read_engine.connect() as conn:
            yield conn

    @property
    def for_update(self) -> bool:
        """Whether row locks (`SELECT ... FOR UPDATE`) are needed: SQLite's single writer makes them moot."""
        return not self.is_sqlite

    def migrate(self) -> None:
        """Bring the schema to the newest Alembic revision; safe when several processes start at once."""
        from alembic import command
        from alembic.config import Config

        cfg = Config()
        cfg.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
        with self._migration_lock(), self.write_engine.connect() as conn:
            newer = self._unknown_revisions(conn, ScriptDirectory.from_config(cfg))
            if newer:
                # A newer release migrated this database (a rolling upgrade in progress, or a rollback of
                # the code). Migrations are additive, so this code runs on the newer schema as it is.
                log.warning(
                    "the database schema is at revision %s, newer than this reelforge knows; "
                    "running on it without migrating",
                    ", ".join(newer),
                )
                return
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
            conn.commit()

    @staticmethod
    def _unknown_revisions(conn: Connection, script: ScriptDirectory) -> list[str]:
        current = MigrationContext.configure(conn).get_current_heads()
        known = {revision.revision for revision in script.walk_revisions()}
        return [revision for revision in current if revision not in known]

    @contextlib.contextmanager
    def _migration_lock(self) -> Iterator[None]:
        if self.is_sqlite:
            database = make_url(self.url).database
            if not database or database == ":memory:":
                yield
                return
            with open(f"{database}.migrate.lock", "w") as handle:
                fcntl.flock(handle, fcntl.LOCK_EX)
                try:
                    yield
                finally:
                    fcntl.flock(handle, fcntl.LOCK_UN)
        else:
            with self.write_engine.connect() as conn:
                conn.execute(text("SELECT pg_advisory_lock(7346151)"))
                try:
                    yield
                finally:
                    conn.execute(text("SELECT pg_advisory_unlock(7346151)"))
                    conn.commit()

    def dispose(self) -> None:
        self.write_engine.dispose()
        if self.read_engine is not self.write_engine:
            self.read_engine.dispose()


def _sqlite_engine(url: str, *, immediate: bool) -> Engine:
    engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    if immediate:

        @event.listens_for(engine, "begin")
        def _on_begin(conn) -> None:  # type: ignore[no-untyped-def]
            conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine
