"""Small named values shared by every process of a deployment (e.g. the URL-signing secret)."""

from __future__ import annotations

import secrets

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from reelforge.store.db import Database
from reelforge.store.tables import server_state


def get_or_create_secret(db: Database, name: str) -> bytes:
    """A random secret stored once in the database, so all API servers and workers share it."""
    with db.read() as conn:
        value = conn.execute(select(server_state.c.value).where(server_state.c.name == name)).scalar()
    if value is None:
        try:
            with db.write() as conn:
                conn.execute(insert(server_state).values(name=name, value=secrets.token_hex(32)))
        except IntegrityError:
            pass  # another process created it first
        with db.read() as conn:
            value = conn.execute(select(server_state.c.value).where(server_state.c.name == name)).scalar_one()
    return bytes.fromhex(value)
