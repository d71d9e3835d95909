"""Stored templates: rows of the `templates` table, always read and written for one API key.

A key sees only its own templates: every query filters by `key_id`, and another key's template is simply
"not found" (no existence leak), as for tasks.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, select, update

from reelforge.domain.errors import ErrorCode, ReelforgeError
from reelforge.domain.ids import new_id
from reelforge.store.db import Database
from reelforge.store.tables import templates, utcnow

MAX_TEMPLATES_PER_KEY = 1000


@dataclass(frozen=True)
class StoredTemplate:
    id: str
    key_id: str
    name: str
    template: dict[str, Any]
    defaults: dict[str, Any]
    created_at: datetime
    updated_at: datetime


def _row(row: Any) -> StoredTemplate:
    return StoredTemplate(
        id=row.id,
        key_id=row.key_id,
        name=row.name,
        template=row.template,
        defaults=row.defaults,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def not_found(template_id: str) -> ReelforgeError:
    return ReelforgeError(ErrorCode.NOT_FOUND, f"No template {template_id!r} for this key")


class TemplateStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def create(self, key_id: str, name: str, template: dict[str, Any], defaults: dict[str, Any]) -> StoredTemplate:
        now = utcnow()
        template_id = new_id("tpl_", 20)
        with self.db.write() as conn:
            count = conn.execute(select(func.count()).select_from(templates).where(templates.c.key_id == key_id))
            if (count.scalar() or 0) >= MAX_TEMPLATES_PER_KEY:
                raise ReelforgeError(
                    ErrorCode.INVALID_PAYLOAD,
                    f"a key keeps at most {MAX_TEMPLATES_PER_KEY} templates; delete one first",
                )
            conn.execute(
                insert(templates).values(
                    id=template_id,
                    key_id=key_id,
                    name=name,
                    template=template,
                    defaults=defaults,
                    created_at=now,
                    updated_at=now,
                )
            )
        return StoredTemplate(template_id, key_id, name, template, defaults, now, now)

    def get(self, key_id: str, template_id: str) -> StoredTemplate:
        with self.db.read() as conn:
            row = conn.execute(
                select(templates).where(templates.c.id == template_id, templates.c.key_id == key_id)
            ).first()
        if row is None:
            raise not_found(template_id)
        return _row(row)

    def list(self, key_id: str, *, limit: int = 100, offset: int = 0) -> list[StoredTemplate]:
        with self.db.read() as conn:
            rows = conn.execute(
                select(templates)
                .where(templates.c.key_id == key_id)
                .order_by(templates.c.created_at.desc(), templates.c.id)
                .limit(limit)
                .offset(offset)
            ).all()
        return [_row(row) for row in rows]

    def update(self, key_id: str, template_id: str, **changes: Any) -> StoredTemplate:
        """Replace the given columns (`name`, `template`, `defaults`) of one template."""
        with self.db.write() as conn:
            result = conn.execute(
                update(templates)
                .where(templates.c.id == template_id, templates.c.key_id == key_id)
                .values(**changes, updated_at=utcnow())
            )
            if result.rowcount == 0:
                raise not_found(template_id)
        return self.get(key_id, template_id)

    def delete(self, key_id: str, template_id: str) -> None:
        with self.db.write() as conn:
            result = conn.execute(delete(templates).where(templates.c.id == template_id, templates.c.key_id == key_id))
            if result.rowcount == 0:
                raise not_found(template_id)
