"""AVS token lifecycle over HTTP: create, list, rotate, revoke `avs.<tokenId>.<secret>` tokens.

These routes are authenticated with the account's API key (`key` header or `Bearer rf_...`): a token
never manages tokens, so a leaked public-API token cannot mint more.
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import Depends, Request

from reelforge.accounts.keys import ApiKey
from reelforge.accounts.tokens import ApiToken, IssuedToken
from reelforge.api.auth import require_key
from reelforge.api.dialect import dialect_router, generic_body
from reelforge.domain.errors import invalid


def render_token(token: ApiToken) -> dict[str, Any]:
    return {
        "tokenId": token.id,
        "name": token.name,
        "kind": token.kind,
        "active": token.active,
        "createdAt": token.created_at.isoformat(),
        "rotatedAt": token.rotated_at.isoformat() if token.rotated_at else None,
        "revokedAt": token.revoked_at.isoformat() if token.revoked_at else None,
    }


def render_issued(issued: IssuedToken) -> dict[str, Any]:
    return {**render_token(issued.token), "token": issued.secret}


router = dialect_router(generic_body, prefix="/api/v1/tokens", tags=["AVS tokens"])


@router.post("", status_code=201, summary="Create a token (the secret is shown once)")
async def create_token(request: Request, key: ApiKey = Depends(require_key)) -> dict[str, Any]:
    try:
        body = await request.json() if await request.body() else {}
    except ValueError:
        raise invalid("the request body must be JSON") from None
    if not isinstance(body, dict):
        raise invalid("the request body must be a JSON object")
    name, kind = body.get("name", "default"), body.get("kind", "public_api")
    if not isinstance(name, str) or not name.strip() or len(name) > 200:
        raise invalid("name must be a non-empty string of at most 200 characters", "/name")
    tokens = request.app.state.services.tokens
    return render_issued(await asyncio.to_thread(tokens.create, key.id, name.strip(), kind))


@router.get("", summary="List the account's tokens (never their secrets)")
async def list_tokens(request: Request, key: ApiKey = Depends(require_key)) -> dict[str, Any]:
    return {"tokens": [render_token(t) for t in request.app.state.services.tokens.tokens_of(key.id)]}


@router.post("/{token_id}/rotate", summary="Replace a token's secret; the old one stops working")
async def rotate_token(token_id: str, request: Request, key: ApiKey = Depends(require_key)) -> dict[str, Any]:
    tokens = request.app.state.services.tokens
    return render_issued(await asyncio.to_thread(tokens.rotate, token_id, key.id))


@router.delete("/{token_id}", summary="Revoke a token")
async def revoke_token(token_id: str, request: Request, key: ApiKey = Depends(require_key)) -> dict[str, Any]:
    tokens = request.app.state.services.tokens
    return render_token(await asyncio.to_thread(tokens.revoke, token_id, key.id))
