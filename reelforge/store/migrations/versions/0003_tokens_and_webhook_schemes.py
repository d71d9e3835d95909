"""API tokens (avs.<id>.<secret>) and per-task webhook signing schemes

Revision ID: 0003
Revises: 0002
"""
import sqlalchemy as sa
from alembic import op

import reelforge.store.tables

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("key_id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", reelforge.store.tables.UTCDateTime(), nullable=False),
        sa.Column("rotated_at", reelforge.store.tables.UTCDateTime(), nullable=True),
        sa.Column("revoked_at", reelforge.store.tables.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["key_id"], ["api_keys.id"], name=op.f("fk_api_tokens_key_id_api_keys")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tokens")),
    )
    op.create_index(op.f("ix_api_tokens_key_id"), "api_tokens", ["key_id"], unique=False)
    with op.batch_alter_table("tasks") as batch:
        batch.add_column(sa.Column("webhook_scheme", sa.String(length=20), nullable=True))
        batch.add_column(sa.Column("webhook_secret", sa.String(length=200), nullable=True))
    with op.batch_alter_table("webhook_outbox") as batch:
        batch.add_column(sa.Column("scheme", sa.String(length=20), nullable=True))
        batch.add_column(sa.Column("secret", sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("webhook_outbox") as batch:
        batch.drop_column("secret")
        batch.drop_column("scheme")
    with op.batch_alter_table("tasks") as batch:
        batch.drop_column("webhook_secret")
        batch.drop_column("webhook_scheme")
    op.drop_index(op.f("ix_api_tokens_key_id"), table_name="api_tokens")
    op.drop_table("api_tokens")
