"""AVS token lifecycle over HTTP: create, list, rotate, revoke `avs.<tokenId>.<secret>` tokens.

These routes are authenticated with the account's API key (`key` header or `Bearer rf_...`): a token
never manages tokens, so a leaked public-API token cannot mint more. Handlers are plain `def` (they
write the database), run on FastAPI's thread pool.
"""

from __future__ import annotations

from typing import Any

from fastapi import Depends

from reelforge.accounts.keys import ApiKey
from reelforge.accounts.tokens import ApiToken, IssuedToken
from reelforge.api.auth import require_key
from reelforge.api.deps import get_services
from reelforge.api.dialect import dialect_router, generic_body
from reelforge.api.dialects.avs.protocol import AvsIssuedToken, AvsToken, AvsTokenList, AvsTokenRequest, errors
from reelforge.api.ratelimit import READ_LIMITS
from reelforge.services import Services


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


router = dialect_router(
    generic_body,
    prefix="/api/v1/tokens",
    tags=["AVS tokens"],
    auth_hint="your API key (not an avs. token) in the `key` header or `Authorization: Bearer rf_...`",
)


@router.post(
    "",
    status_code=201,
    summary="Create a token (the secret is shown once; 409 past REELFORGE_MAX_TOKENS_PER_KEY active tokens)",
    response_model=AvsIssuedToken,
    responses=errors(400, 401, 409),
)
def create_token(
    body: AvsTokenRequest | None = None,
    key: ApiKey = Depends(require_key),
    services: Services = Depends(get_services),
) -> dict[str, Any]:
    body = body or AvsTokenRequest()
    return render_issued(services.tokens.create(key.id, body.name, body.kind))


@router.get(
    "",
    summary="List the account's tokens (never their secrets)",
    response_model=AvsTokenList,
    responses=errors(401),
    dependencies=READ_LIMITS,
)
def list_tokens(key: ApiKey = Depends(require_key), services: Services = Depends(get_services)) -> dict[str, Any]:
    return {"tokens": [render_token(t) for t in services.tokens.tokens_of(key.id)]}


@router.post(
    "/{token_id}/rotate",
    summary="Replace a token's secret; the old one stops working",
    response_model=AvsIssuedToken,
    responses=errors(401, 404),
)
def rotate_token(
    token_id: str, key: ApiKey = Depends(require_key), services: Services = Depends(get_services)
) -> dict[str, Any]:
    return render_issued(services.tokens.rotate(token_id, key.id))


@router.delete("/{token_id}", summary="Revoke a token", response_model=AvsToken, responses=errors(401, 404))
def revoke_token(
    token_id: str, key: ApiKey = Depends(require_key), services: Services = Depends(get_services)
) -> dict[str, Any]:
    return render_token(services.tokens.revoke(token_id, key.id))
