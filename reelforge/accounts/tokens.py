"""Machine tokens `avs.<tokenId>.<secret>`, as the AVS public API issues them.

A token belongs to an API key (the account): the same credits, tasks and history stand behind every
dialect. Its kind limits where it works: `public_api` tokens on the AVS video and job routes, `cli`
tokens nowhere there. Rotation keeps the id and replaces the secret; revocation ends it. Only a SHA-256
hash of the secret is stored, as for API keys.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, insert, select, update

from reelforge.accounts.keys import hash_secret
from reelforge.domain.errors import ErrorCode, ReelforgeError
from reelforge.domain.ids import new_id
from reelforge.store.db import Database
from reelforge.store.tables import api_keys, api_tokens, utcnow

PREFIX = "avs"
KINDS = ("public_api", "cli")


@dataclass(frozen=True)
class ApiToken:
    id: str
    key_id: str
    name: str
    kind: str
    created_at: datetime
    rotated_at: datetime | None
    revoked_at: datetime | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


@dataclass(frozen=True)
class IssuedToken:
    token: ApiToken
    secret: str
    """The whole `avs.<id>.<secret>` string: shown once, never stored."""


def _row(row) -> ApiToken:  # type: ignore[no-untyped-def]
    return ApiToken(row.id, row.key_id, row.name, row.kind, row.created_at, row.rotated_at, row.revoked_at)


def _new_secret() -> str:
    return secrets.token_urlsafe(32)


DEFAULT_MAX_PER_KEY = 100


class TokenService:
    def __init__(self, db: Database, max_per_key: int = DEFAULT_MAX_PER_KEY) -> None:
        self.db = db
        self.max_per_key = max_per_key
        """Active (unrevoked) tokens one key may hold; 0: no limit. Unlimited tokens let one key fill the table."""

    def create(self, key_id: str, name: str = "default", kind: str = "public_api") -> IssuedToken:
        if kind not in KINDS:
            raise ReelforgeError(ErrorCode.INVALID_PAYLOAD, f"kind must be one of {', '.join(KINDS)}", field="/kind")
        token_id = new_id("", 16)
        secret = _new_secret()
        now = utcnow()
        with self.db.write() as conn:
            owner = select(api_keys.c.id).where(api_keys.c.id == key_id)
            if self.db.for_update:  # two racing creates of one key are counted one after the other
                owner = owner.with_for_update()
            if conn.execute(owner).first() is None:
                raise ReelforgeError(ErrorCode.AUTH_FAILED, f"no API key with id {key_id!r}")
            if self.max_per_key:
                active = conn.execute(
                    select(func.count())
                    .select_from(api_tokens)
                    .where(api_tokens.c.key_id == key_id, api_tokens.c.revoked_at.is_(None))
                ).scalar_one()
                if active >= self.max_per_key:
                    raise ReelforgeError(
                        ErrorCode.INVALID_STATE,
                        f"This key already has {active} active tokens (the limit is {self.max_per_key}); "
                        "revoke one you no longer use, then create again",
                    )
            conn.execute(
                insert(api_tokens).values(
                    id=token_id,
                    key_id=key_id,
                    name=name,
                    kind=kind,
                    secret_hash=hash_secret(secret),
                    created_at=now,
                )
            )
        return IssuedToken(ApiToken(token_id, key_id, name, kind, now, None, None), f"{PREFIX}.{token_id}.{secret}")

    def tokens_of(self, key_id: str | None = None) -> list[ApiToken]:
        query = select(api_tokens).order_by(api_tokens.c.created_at)
        if key_id:
            query = query.where(api_tokens.c.key_id == key_id)
        with self.db.read() as conn:
            return [_row(row) for row in conn.execute(query)]

    def get(self, token_id: str, key_id: str | None = None) -> ApiToken:
        with self.db.read() as conn:
            row = conn.execute(select(api_tokens).where(api_tokens.c.id == token_id)).first()
        if row is None or (key_id is not None and row.key_id != key_id):
            raise ReelforgeError(ErrorCode.NOT_FOUND, f"no token {token_id!r}")
        return _row(row)

    def rotate(self, token_id: str, key_id: str | None = None) -> IssuedToken:
        """A new secret for the same token id; the old secret stops working at once."""
        token = self.get(token_id, key_id)
        if not token.active:
            raise ReelforgeError(ErrorCode.INVALID_STATE, f"token {token_id!r} is revoked; create a new one")
        secret = _new_secret()
        now = utcnow()
        with self.db.write() as conn:
            conn.execute(
                update(api_tokens)
                .where(api_tokens.c.id == token_id)
                .values(secret_hash=hash_secret(secret), rotated_at=now)
            )
        return IssuedToken(self.get(token_id), f"{PREFIX}.{token_id}.{secret}")

    def revoke(self, token_id: str, key_id: str | None = None) -> ApiToken:
        self.get(token_id, key_id)
        with self.db.write() as conn:
            conn.execute(
                update(api_tokens)
                .where(api_tokens.c.id == token_id, api_tokens.c.revoked_at.is_(None))
                .values(revoked_at=utcnow())
            )
        return self.get(token_id)

    def authenticate(self, presented: str | None, *, kind: str = "public_api") -> ApiToken:
        """The active token of `kind` that `presented` is; AUTH_FAILED otherwise (never saying why)."""
        parts = (presented or "").split(".")
        if len(parts) != 3 or parts[0] != PREFIX:
            raise ReelforgeError(
                ErrorCode.AUTH_FAILED, "Missing or malformed token: send Authorization: Bearer avs.<tokenId>.<secret>"
            )
        with self.db.read() as conn:
            row = conn.execute(
                select(api_tokens, api_keys.c.revoked_at.label("key_revoked_at"))
                .join(api_keys, api_keys.c.id == api_tokens.c.key_id)
                .where(api_tokens.c.id == parts[1])
            ).first()
        if row is None or not hmac.compare_digest(row.secret_hash, hash_secret(parts[2])):
            raise ReelforgeError(ErrorCode.AUTH_FAILED, "Invalid or revoked token")
        if row.revoked_at is not None or row.key_revoked_at is not None:
            raise ReelforgeError(ErrorCode.AUTH_FAILED, "Invalid or revoked token")
        if row.kind != kind:
            raise ReelforgeError(ErrorCode.FORBIDDEN, f"This token is a {row.kind} token; this API takes {kind} tokens")
        return _row(row)
