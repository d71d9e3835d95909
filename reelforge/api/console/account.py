"""The console's account routes: the credit ledger (with the task each row belongs to) and the webhook
deliveries of the key's tasks (status code, attempts, next retry; redeliver one)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import Depends, Query
from pydantic import BaseModel, Field

from reelforge.accounts.keys import ApiKey
from reelforge.api.auth import require_key
from reelforge.api.console.common import console_router, errors
from reelforge.api.deps import get_services
from reelforge.services import Services
from reelforge.tasks import browse

router = console_router(tags=["console"])


class LedgerRow(BaseModel):
    id: int
    amount: int = Field(description="Credits: negative for a debit")
    reason: str = Field(description="grant | debit | refund")
    taskId: str | None
    taskModel: str | None
    taskStatus: str | None
    note: str | None
    createdAt: datetime


class Ledger(BaseModel):
    balance: int
    rows: list[LedgerRow]
    total: int
    limit: int
    offset: int


@router.get(
    "/ledger",
    summary="The key's balance and ledger rows (grants, debits, refunds), newest first",
    response_model=Ledger,
    responses=errors(400, 401),
)
def get_ledger(
    limit: int = Query(50, ge=1, le=500),
    offset: int = Query(0, ge=0, le=1_000_000),
    key: ApiKey = Depends(require_key),
    services: Services = Depends(get_services),
) -> dict[str, Any]:
    page, balance = browse.ledger_page(services.db, key.id, limit=limit, offset=offset)
    return {
        "balance": balance,
        "rows": [
            {
                "id": row.id,
                "amount": row.amount,
                "reason": row.reason,
                "taskId": row.task_id,
                "taskModel": row.model,
                "taskStatus": row.status,
                "note": row.note,
                "createdAt": row.created_at,
            }
            for row in page.rows
        ],
        "total": page.total,
        "limit": limit,
        "offset": offset,
    }


class Delivery(BaseModel):
    id: str = Field(description="The `webhook-id`, the same on every attempt")
    taskId: str
    url: str
    eventType: str
    state: str = Field(description="pending | delivered | failed (gave up)")
    statusCode: int | None = Field(description="The receiver's HTTP status when known (2xx once delivered)")
    attempts: int
    lastError: str | None
    nextAttemptAt: datetime | None = Field(description="When it is tried next; null once delivered or given up")
    createdAt: datetime
    deliveredAt: datetime | None


class Deliveries(BaseModel):
    deliveries: list[Delivery]
    total: int
    limit: int
    offset: int


def render_delivery(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "taskId": row.task_id,
        "url": row.url,
        "eventType": row.event_type,
        "state": row.state,
        "statusCode": browse.delivery_status_code(row.state, row.last_error),
        "attempts": row.attempts,
        "lastError": row.last_error,
        "nextAttemptAt": row.next_attempt_at if row.state == "pending" else None,
        "createdAt": row.created_at,
        "deliveredAt": row.delivered_at,
    }


@router.get(
    "/deliveries",
    summary="Webhook deliveries of the key's tasks, newest first",
    response_model=Deliveries,
    responses=errors(400, 401),
)
def list_deliveries(
    task_id: str | None = Query(None, alias="taskId", description="Only this task's deliveries"),
    limit: int = Query(50, ge=1, le=500),
    offset: int = Query(0, ge=0, le=1_000_000),
    key: ApiKey = Depends(require_key),
    services: Services = Depends(get_services),
) -> dict[str, Any]:
    page = browse.delivery_page(services.db, key.id, task_id=task_id, limit=limit, offset=offset)
    return {
        "deliveries": [render_delivery(r) for r in page.rows],
        "total": page.total,
        "limit": limit,
        "offset": offset,
    }


@router.get(
    "/deliveries/{delivery_id}", summary="One webhook delivery", response_model=Delivery, responses=errors(401, 404)
)
def get_delivery(
    delivery_id: str, key: ApiKey = Depends(require_key), services: Services = Depends(get_services)
) -> dict[str, Any]:
    return render_delivery(browse.delivery_of(services.db, delivery_id, key.id))


@router.post(
    "/deliveries/{delivery_id}/redeliver",
    summary="Send a delivery again now (a given-up one gets one more attempt)",
    response_model=Delivery,
    responses=errors(401, 404, 409),
)
def redeliver(
    delivery_id: str, key: ApiKey = Depends(require_key), services: Services = Depends(get_services)
) -> dict[str, Any]:
    return render_delivery(browse.redeliver(services.db, delivery_id, key.id))
