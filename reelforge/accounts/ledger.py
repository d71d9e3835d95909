"""The credit ledger: a key's balance is the sum of its rows, never a stored counter.

Functions here take the caller's open transaction, so a debit lands or vanishes together with its task.
A unique (task_id, reason) constraint makes a second debit or refund of one task impossible.
"""

from __future__ import annotations

from sqlalchemy import Connection, func, insert, select

from reelforge.store.tables import ledger, utcnow

GRANT = "grant"
DEBIT = "debit"
REFUND = "refund"


def balance(conn: Connection, key_id: str) -> int:
    total = conn.execute(select(func.coalesce(func.sum(ledger.c.amount), 0)).where(ledger.c.key_id == key_id))
    return int(total.scalar_one())


def add_entry(
    conn: Connection, key_id: str, amount: int, reason: str, *, task_id: str | None = None, note: str | None = None
) -> None:
    conn.execute(
        insert(ledger).values(
            key_id=key_id, amount=amount, reason=reason, task_id=task_id, note=note, created_at=utcnow()
        )
    )


def refund_once(conn: Connection, key_id: str, task_id: str) -> int:
    """Give back what `task_id` was debited, if that has not happened yet; returns the amount refunded."""
    rows = conn.execute(select(ledger.c.reason, ledger.c.amount).where(ledger.c.task_id == task_id)).all()
    reasons = {row.reason: row.amount for row in rows}
    if DEBIT not in reasons or REFUND in reasons:
        return 0
    amount = -reasons[DEBIT]
    add_entry(conn, key_id, amount, REFUND, task_id=task_id)
    return amount


def entries(conn: Connection, key_id: str) -> list[dict]:
    rows = conn.execute(select(ledger).where(ledger.c.key_id == key_id).order_by(ledger.c.id)).mappings()
    return [dict(row) for row in rows]
