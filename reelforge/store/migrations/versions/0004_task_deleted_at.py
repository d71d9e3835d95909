"""task deletion (OpenAI DELETE /v1/videos/{id})

Revision ID: 0004
Revises: 0003
"""
import sqlalchemy as sa
from alembic import op

import reelforge.store.tables

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tasks") as batch:
        batch.add_column(sa.Column("deleted_at", reelforge.store.tables.UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("tasks") as batch:
        batch.drop_column("deleted_at")
