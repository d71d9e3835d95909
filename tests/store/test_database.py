"""The store: migrations at start on both backends, SQLite in WAL mode."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

from reelforge.config import Settings
from reelforge.domain.errors import ErrorCode, ReelforgeError
from reelforge.services import build_services
from reelforge.store import db as db_module
from reelforge.store.db import Database


def _head() -> str:
    """The newest revision in reelforge/store/migrations/versions."""
    config = Config()
    config.set_main_option("script_location", str(Path(db_module.__file__).parent / "migrations"))
    head = ScriptDirectory.from_config(config).get_current_head()
    assert head is not None
    return head


def test_migrations_create_the_schema_and_are_idempotent(database_url: str) -> None:
    db = Database(database_url)
    db.migrate()
    db.migrate()  # a second start changes nothing
    names = set(inspect(db.write_engine).get_table_names())
    assert {
        "api_keys",
        "ledger",
        "tasks",
        "jobs",
        "webhook_outbox",
        "server_state",
        "api_tokens",
        "alembic_version",
    } <= names
    with db.read() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one() == _head()
    db.dispose()


def test_sqlite_default_lives_in_the_data_dir_in_wal_mode(tmp_path: Path) -> None:
    services = build_services(Settings(data_dir=tmp_path / "d"))
    assert (tmp_path / "d" / "reelforge.db").exists()
    with services.db.read() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar_one() == "wal"
    services.close()


def test_keys_are_stored_hashed(database_url: str, tmp_path: Path) -> None:
    services = build_services(Settings(data_dir=tmp_path, database_url=database_url))
    created = services.keys.create(name="x", credits=5)
    with services.db.read() as conn:
        dump = " ".join(str(v) for row in conn.execute(text("SELECT * FROM api_keys")) for v in row)
    assert created.secret not in dump
    assert services.keys.authenticate(created.secret).id == created.key.id
    services.keys.revoke(created.key.id)
    with pytest.raises(ReelforgeError) as refused:  # a revoked key no longer authenticates
        services.keys.authenticate(created.secret)
    assert refused.value.code == ErrorCode.AUTH_FAILED
    assert "revoked" in str(refused.value)
    services.close()


def test_pool_settings_reach_the_postgresql_engine(database_url: str, tmp_path: Path) -> None:
    if database_url.startswith("sqlite"):
        pytest.skip("SQLite has no connection pool settings")
    services = build_services(
        Settings(
            data_dir=tmp_path / "d",
            database_url=database_url,
            database_pool_size=3,
            database_max_overflow=2,
            database_pool_recycle=600,
        )
    )
    try:
        pool = services.db.write_engine.pool
        assert (pool.size(), pool._max_overflow, pool._recycle) == (3, 2, 600)
    finally:
        services.close()


def test_older_code_starts_on_a_schema_a_newer_release_migrated(database_url: str, caplog) -> None:  # type: ignore[no-untyped-def]
    """A rolling upgrade (old workers restarting after new servers migrated) or a code rollback."""
    db = Database(database_url)
    db.migrate()
    with db.write() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0099_from_the_future'"))
    with caplog.at_level("WARNING", logger="reelforge.store.db"):
        db.migrate()  # does not raise "Can't locate revision"
    assert "newer than this reelforge knows" in caplog.text
    with db.read() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one() == "0099_from_the_future"
    db.dispose()
