"""Operators' routes (admin keys only, else 403): every key, creating and revoking keys (the secret shown
once), granting credits, and the queue per model and per key with the workers' leases. Cancelling any task
is `POST /api/console/tasks/{id}/cancel` with an admin key."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import Depends
from pydantic import BaseModel, ConfigDict, Field

from reelforge.accounts.keys import ApiKey
from reelforge.api.console.common import console_router, errors, require_admin
from reelforge.api.deps import get_services
from reelforge.domain.errors import ErrorCode, ReelforgeError
from reelforge.services import Services
from reelforge.tasks import browse

router = console_router(tags=["console admin"])


class AdminKey(BaseModel):
    id: str
    name: str
    prefix: str
    admin: bool
    active: bool
    balance: int
    createdAt: datetime
    revokedAt: datetime | None


class AdminKeyList(BaseModel):
    keys: list[AdminKey]


class NewKey(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field("default", min_length=1, max_length=200)
    credits: int = Field(0, ge=0, le=1_000_000_000)
    admin: bool = False


class CreatedKey(AdminKey):
    key: str = Field(description="The secret: shown only in this answer")
    webhookSecret: str


class Grant(BaseModel):
    model_config = ConfigDict(extra="forbid")

    amount: int = Field(description="Credits to add; negative takes them away", ge=-1_000_000_000, le=1_000_000_000)
    note: str | None = Field(None, max_length=200)


class Granted(BaseModel):
    keyId: str
    amount: int
    balance: int


class QueueCount(BaseModel):
    queued: int
    running: int


class ModelQueue(QueueCount):
    model: str


class KeyQueue(QueueCount):
    keyId: str
    name: str


class Lease(BaseModel):
    taskId: str
    model: str
    keyId: str
    worker: str | None
    leaseExpiresAt: datetime | None
    attempts: int
    progress: int
    phase: str | None
    startedAt: datetime | None


class Worker(BaseModel):
    worker: str
    tasks: list[str]


class Queue(BaseModel):
    executor: str
    byModel: list[ModelQueue]
    byKey: list[KeyQueue]
    leases: list[Lease]
    workers: list[Worker] = Field(description="Workers holding a lease now (an idle worker holds none)")
    oldestWaitingSince: datetime | None


def render_key(key: ApiKey, balance: int) -> dict[str, Any]:
    return {
        "id": key.id,
        "name": key.name,
        "prefix": key.prefix,
        "admin": key.admin,
        "active": key.active,
        "balance": balance,
        "createdAt": key.created_at,
        "revokedAt": key.revoked_at,
    }


def _existing(services: Services, key_id: str) -> ApiKey:
    try:
        return services.keys.get(key_id)
    except ReelforgeError:
        raise ReelforgeError(ErrorCode.NOT_FOUND, f"No API key {key_id!r}") from None


@router.get(
    "/admin/keys", summary="Every API key with its balance", response_model=AdminKeyList, responses=errors(401, 403)
)
def list_keys(admin: ApiKey = Depends(require_admin), services: Services = Depends(get_services)) -> dict[str, Any]:
    return {"keys": [render_key(k, services.keys.balance(k.id)) for k in services.keys.all_keys()]}


@router.post(
    "/admin/keys",
    status_code=201,
    summary="Create an API key (its secret is in this answer only)",
    response_model=CreatedKey,
    responses=errors(400, 401, 403),
)
def create_key(
    body: NewKey, admin: ApiKey = Depends(require_admin), services: Services = Depends(get_services)
) -> dict[str, Any]:
    created = services.keys.create(name=body.name, credits=body.credits, admin=body.admin)
    return {
        **render_key(created.key, body.credits),
        "key": created.secret,
        "webhookSecret": created.key.webhook_secret,
    }


@router.post(
    "/admin/keys/{key_id}/revoke",
    summary="Revoke a key: it stops working at once (its tasks and ledger stay)",
    response_model=AdminKey,
    responses=errors(401, 403, 404, 409),
)
def revoke_key(
    key_id: str, admin: ApiKey = Depends(require_admin), services: Services = Depends(get_services)
) -> dict[str, Any]:
    _existing(services, key_id)
    if key_id == admin.id:
        raise ReelforgeError(ErrorCode.INVALID_STATE, "You cannot revoke the key you are signed in with")
    key = services.keys.revoke(key_id)
    return render_key(key, services.keys.balance(key.id))


@router.post(
    "/admin/keys/{key_id}/credits",
    summary="Grant credits to a key (a negative amount takes them away); a ledger row of reason `grant`",
    response_model=Granted,
    responses=errors(400, 401, 403, 404),
)
def grant(
    key_id: str, body: Grant, admin: ApiKey = Depends(require_admin), services: Services = Depends(get_services)
) -> dict[str, Any]:
    _existing(services, key_id)
    balance = services.keys.grant(key_id, body.amount, body.note or f"granted by {admin.name} ({admin.id})")
    return {"keyId": key_id, "amount": body.amount, "balance": balance}


@router.get(
    "/admin/queue",
    summary="Waiting and running tasks per model and per key, the workers and their leases",
    response_model=Queue,
    responses=errors(401, 403),
)
def queue(admin: ApiKey = Depends(require_admin), services: Services = Depends(get_services)) -> dict[str, Any]:
    view = browse.queue_view(services.db)
    return {
        "executor": services.settings.executor,
        "byModel": view.by_model,
        "byKey": view.by_key,
        "leases": view.leases,
        "workers": view.workers,
        "oldestWaitingSince": view.oldest_waiting,
    }
