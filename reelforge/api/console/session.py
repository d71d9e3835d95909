"""`GET /api/console/session`: who the key is (the console's sign-in check) and what it may do."""

from __future__ import annotations

from datetime import datetime

from fastapi import Depends
from pydantic import BaseModel, Field

from reelforge import __version__
from reelforge.accounts.keys import ApiKey
from reelforge.api.auth import require_key
from reelforge.api.console.common import console_router, errors
from reelforge.api.deps import get_services
from reelforge.services import Services

router = console_router(tags=["console"])


class Session(BaseModel):
    """The signed-in key (never its secret), its balance and the server it talks to."""

    keyId: str
    name: str
    prefix: str = Field(description="The first characters of the secret, to recognise the key by")
    admin: bool = Field(description="An operator's key: the console shows its admin pages")
    balance: int = Field(description="Credits left (the sum of the ledger)")
    createdAt: datetime
    version: str = Field(description="The server's reelforge version")


@router.get(
    "/session",
    summary="The signed-in key: id, name, admin flag and balance (sign-in check)",
    response_model=Session,
    responses=errors(401),
)
def session(key: ApiKey = Depends(require_key), services: Services = Depends(get_services)) -> Session:
    return Session(
        keyId=key.id,
        name=key.name,
        prefix=key.prefix,
        admin=key.admin,
        balance=services.keys.balance(key.id),
        createdAt=key.created_at,
        version=__version__,
    )
