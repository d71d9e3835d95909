"""The schema. Alembic migrations in `migrations/versions` create exactly these tables."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
)


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on every backend (SQLite keeps no zone, so it stores naive UTC)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect):  # type: ignore[override]
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect):  # type: ignore[override]
        return None if value is None else value.replace(tzinfo=UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("prefix", String(16), nullable=False),
    Column("secret_hash", String(64), nullable=False, unique=True),
    Column("webhook_secret", String(100), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("revoked_at", UTCDateTime),
    # An operator's key: the console's admin pages (every key, credits, the queue, any task's cancel)
    Column("admin", Boolean, nullable=False, default=False, server_default=false()),
)

ledger = Table(
    "ledger",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("key_id", String(40), ForeignKey("api_keys.id"), nullable=False, index=True),
    Column("amount", Integer, nullable=False),
    Column("reason", String(20), nullable=False),
    Column("task_id", String(40)),
    Column("note", String(200)),
    Column("created_at", UTCDateTime, nullable=False),
    # A task is debited at most once and refunded at most once, whatever races happen.
    UniqueConstraint("task_id", "reason"),
)

tasks = Table(
    "tasks",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("key_id", String(40), ForeignKey("api_keys.id"), nullable=False),
    Column("model", String(100), nullable=False),
    Column("dialect", String(40), nullable=False),
    Column("request", JSON, nullable=False),
    Column("input", JSON, nullable=False),
    Column("status", String(20), nullable=False),
    Column("progress", Integer, nullable=False, default=0),
    Column("phase", String(40)),
    Column("cost", Integer, nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("cancel_requested", Boolean, nullable=False, default=False),
    Column("webhook_url", Text),
    Column("webhook_scheme", String(20)),  # standard | avs; NULL means standard
    Column("webhook_secret", String(200)),  # a per-task signing secret (AVS); NULL: the key's secret
    Column("output", JSON),
    Column("error_code", String(40)),
    Column("error_message", Text),
    Column("extra", JSON, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("started_at", UTCDateTime),
    Column("completed_at", UTCDateTime),
    Column("deleted_at", UTCDateTime),  # deleted by its owner: gone from every API, files removed
    Column("expires_at", UTCDateTime),  # when the output files are deleted; NULL: never (or no output)
    # True once the expiry sweep deleted the output files (the output's metadata stays)
    Column("outputs_expired", Boolean, nullable=False, default=False, server_default=false()),
    Column("timings", JSON),  # seconds per stage of the run that produced the output (docs/gpu.md); NULL: none
    Index("ix_tasks_key_created", "key_id", "created_at"),
    Index("ix_tasks_outputs_expired_expires_at", "outputs_expired", "expires_at"),  # the sweep's query
)

jobs = Table(
    "jobs",
    metadata,
    Column("task_id", String(40), ForeignKey("tasks.id"), primary_key=True),
    Column("key_id", String(40)),  # the task's key, copied here so the fair claim reads per-key heads by index
    Column("queue", String(100), nullable=False),
    Column("state", String(20), nullable=False),  # queued | leased | done
    Column("lease_owner", String(100)),
    Column("lease_expires_at", UTCDateTime),
    Column("attempts", Integer, nullable=False, default=0),
    Column("available_at", UTCDateTime, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Index("ix_jobs_state_available", "state", "available_at"),
    Index("ix_jobs_state_key_available", "state", "key_id", "available_at", "created_at", "task_id"),
)

webhook_outbox = Table(
    "webhook_outbox",
    metadata,
    Column("id", String(40), primary_key=True),  # the `webhook-id`, the same on every retry
    Column("task_id", String(40), nullable=False, index=True),
    Column("key_id", String(40), nullable=False),
    Column("url", Text, nullable=False),
    Column("event_type", String(60), nullable=False),
    Column("dialect", String(40), nullable=False),
    Column("scheme", String(20)),  # how to sign: standard (NULL) | avs
    Column("secret", String(200)),  # the signing secret when it is the task's own, not the key's
    Column("snapshot", JSON, nullable=False),
    Column("state", String(20), nullable=False),  # pending | delivered | failed
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", UTCDateTime, nullable=False),
    Column("locked_until", UTCDateTime),
    Column("last_error", Text),
    Column("created_at", UTCDateTime, nullable=False),
    Column("delivered_at", UTCDateTime),
    Index("ix_webhook_outbox_due", "state", "next_attempt_at"),
)

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", String(40), primary_key=True),  # the <tokenId> of avs.<tokenId>.<secret>
    Column("key_id", String(40), ForeignKey("api_keys.id"), nullable=False, index=True),
    Column("name", String(200), nullable=False),
    Column("kind", String(20), nullable=False),  # public_api | cli
    Column("secret_hash", String(64), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("rotated_at", UTCDateTime),
    Column("revoked_at", UTCDateTime),
)

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("key_id", String(40), primary_key=True),
    Column("idempotency_key", String(200), primary_key=True),
    Column("request_hash", String(64), nullable=False),  # what was asked: a reuse with another body is a 409
    Column("task_id", String(40), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)

templates = Table(
    "templates",
    metadata,
    Column("id", String(40), primary_key=True),  # tpl_...
    Column("key_id", String(40), ForeignKey("api_keys.id"), nullable=False),
    Column("name", String(200), nullable=False),
    Column("template", JSON, nullable=False),  # AVS Template JSON v1 with {{ NAME }} merge fields
    Column("defaults", JSON, nullable=False),  # field name -> the value used when a render gives none
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Index("ix_templates_key_created", "key_id", "created_at"),
)

server_state = Table(
    "server_state",
    metadata,
    Column("name", String(100), primary_key=True),
    Column("value", Text, nullable=False),
)
