"""Migration drift: the migrations produce exactly the schema reelforge/store/tables.py declares.

Alembic's autogenerate comparison (`compare_metadata`) between a freshly migrated database and the declared
`metadata`: any table, column, index, unique constraint or foreign key that one side has and the other lacks,
and any column whose type or nullability differs, is a diff. A change to tables.py without a migration (or a
migration that does something tables.py does not say) fails here with the diff listed. SQLite always, and
PostgreSQL when REELFORGE_TEST_DATABASE_URL is set (the `database_url` fixture).
"""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from reelforge.store.db import Database
from reelforge.store.tables import metadata

COMPARE_OPTIONS: dict[str, Any] = {
    "compare_type": True,
    "compare_server_default": False,  # server defaults render differently per backend; the code sets values
    "render_as_batch": True,
}


def _migrated(database_url: str) -> Database:
    db = Database(database_url)
    db.migrate()
    return db


def _include_object(obj: object, name: str | None, type_: str, reflected: bool, compare_to: object) -> bool:
    return not (type_ == "table" and name == "alembic_version")  # alembic's own bookkeeping


def _diff(db: Database) -> list[Any]:
    with db.write_engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={**COMPARE_OPTIONS, "include_object": _include_object})
        return compare_metadata(context, metadata)


def test_the_migrations_produce_exactly_the_declared_schema(database_url: str) -> None:
    db = _migrated(database_url)
    try:
        diff = _diff(db)
        assert diff == [], "migrations and reelforge/store/tables.py disagree:\n" + "\n".join(map(repr, diff))
    finally:
        db.dispose()


def test_every_declared_table_and_index_exists_after_migrating(database_url: str) -> None:
    """The same fact as plain names, so a failure reads without alembic's diff vocabulary."""
    db = _migrated(database_url)
    try:
        inspector = inspect(db.write_engine)
        assert set(inspector.get_table_names()) - {"alembic_version"} == set(metadata.tables)
        for table in metadata.sorted_tables:
            columns = {column["name"] for column in inspector.get_columns(table.name)}
            assert columns == {column.name for column in table.columns}, table.name
            indexes = {index["name"] for index in inspector.get_indexes(table.name)}
            assert {index.name for index in table.indexes} <= indexes, table.name
    finally:
        db.dispose()


def test_a_deliberate_drift_is_caught(database_url: str) -> None:
    """The check can fail: a column the code declares but no migration made shows up in the diff."""
    from sqlalchemy import Column, Integer, MetaData

    db = _migrated(database_url)
    try:
        drifted = MetaData()
        for table in metadata.sorted_tables:
            table.to_metadata(drifted)
        drifted.tables["tasks"].append_column(Column("not_migrated", Integer))
        with db.write_engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={**COMPARE_OPTIONS, "include_object": _include_object})
            diff = compare_metadata(context, drifted)
        assert [(op[0], op[3].name) for op in diff if op[0] == "add_column"] == [("add_column", "not_migrated")]
    finally:
        db.dispose()
