"""Persistence: SQLAlchemy Core tables, the `Database` handle, Alembic migrations."""
