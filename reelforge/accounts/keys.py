"""API keys: created once with a secret shown once, stored as a SHA-256 hash.

The secrets are 256-bit random tokens, so a fast hash is enough (no password-style stretching needed);
lookup is by hash, so verification is a single indexed query.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, insert, select, update

from reelforge.accounts import ledger
from reelforge.domain.errors import ErrorCode, ReelforgeError
from reelforge.domain.ids import new_id
from reelforge.store.db import Database
from reelforge.store.tables import api_keys, utcnow

SECRET_PREFIX = "rf_"
# Built once: this lookup runs on every authenticated request.
_BY_HASH = select(api_keys).where(api_keys.c.secret_hash == bindparam("secret_hash"))


@dataclass(frozen=True)
class ApiKey:
    id: str
    name: str
    prefix: str
    webhook_secret: str
    created_at: datetime
    revoked_at: datetime | None
    admin: bool = False
    """An operator's key: sees and manages every key, credit and task (the console's admin pages)."""

    @property
    def active(self) -> bool:
        return self.revoked_at is None


@dataclass(frozen=True)
class CreatedKey:
    key: ApiKey
    secret: str
    """The only time the secret exists outside the caller's hands: print it once, never store it."""


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _row_to_key(row) -> ApiKey:  # type: ignore[no-untyped-def]
    return ApiKey(
        id=row.id,
        name=row.name,
        prefix=row.prefix,
        webhook_secret=row.webhook_secret,
        created_at=row.created_at,
        revoked_at=row.revoked_at,
        admin=bool(row.admin),
    )


class KeyService:
    def __init__(self, db: Database) -> None:
        self.db = db

    def create(self, name: str = "default", credits: int = 0, *, admin: bool = False) -> CreatedKey:
        secret = SECRET_PREFIX + secrets.token_urlsafe(32)
        webhook_secret = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
        key_id = new_id("key_", 16)
        now = utcnow()
        with self.db.write() as conn:
            conn.execute(
                insert(api_keys).values(
                    id=key_id,
                    name=name,
                    prefix=secret[:10],
                    secret_hash=hash_secret(secret),
                    webhook_secret=webhook_secret,
                    created_at=now,
                    admin=admin,
                )
            )
            if credits:
                ledger.add_entry(conn, key_id, credits, ledger.GRANT, note="initial credits")
        key = ApiKey(key_id, name, secret[:10], webhook_secret, now, None, admin)
        return CreatedKey(key=key, secret=secret)

    def authenticate(self, secret: str | None) -> ApiKey:
        """The active key whose secret this is, or AUTH_FAILED (never saying which part was wrong)."""
        if not secret:
            raise ReelforgeError(ErrorCode.AUTH_FAILED, "Missing API key: send it in the `key` header")
        with self.db.read() as conn:
            row = conn.execute(_BY_HASH, {"secret_hash": hash_secret(secret)}).first()
        if row is None or row.revoked_at is not None:
            raise ReelforgeError(ErrorCode.AUTH_FAILED, "Invalid or revoked API key")
        return _row_to_key(row)

    def get(self, key_id: str) -> ApiKey:
        with self.db.read() as conn:
            row = conn.execute(select(api_keys).where(api_keys.c.id == key_id)).first()
        if row is None:
            raise ReelforgeError(ErrorCode.AUTH_FAILED, f"no API key with id {key_id!r}")
        return _row_to_key(row)

    def all_keys(self) -> list[ApiKey]:
        with self.db.read() as conn:
            rows = conn.execute(select(api_keys).order_by(api_keys.c.created_at)).all()
        return [_row_to_key(row) for row in rows]

    def revoke(self, key_id: str) -> ApiKey:
        with self.db.write() as conn:
            result = conn.execute(
                update(api_keys)
                .where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))
                .values(revoked_at=utcnow())
            )
            if result.rowcount == 0:
                self.get(key_id)  # raises when the key does not exist
        return self.get(key_id)

    def set_admin(self, key_id: str, admin: bool = True) -> ApiKey:
        """Make a key an operator's (or take that away); the dev key of `reelforge serve` is one."""
        self.get(key_id)
        with self.db.write() as conn:
            conn.execute(update(api_keys).where(api_keys.c.id == key_id).values(admin=admin))
        return self.get(key_id)

    def grant(self, key_id: str, credits: int, note: str | None = None) -> int:
        """Add (or, negative, remove) credits; returns the new balance."""
        self.get(key_id)
        with self.db.write() as conn:
            ledger.add_entry(conn, key_id, credits, ledger.GRANT, note=note or "granted")
            return ledger.balance(conn, key_id)

    def balance(self, key_id: str) -> int:
        with self.db.read() as conn:
            return ledger.balance(conn, key_id)
