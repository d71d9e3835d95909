"""output expiry: tasks.expires_at and tasks.outputs_expired (REELFORGE_OUTPUT_TTL, the expiry sweep)

Revision ID: 0006
Revises: 0005
"""
import sqlalchemy as sa
from alembic import op

import reelforge.store.tables

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Tasks finished before this revision get no expiry (NULL): their files are kept, as they were promised.
    with op.batch_alter_table("tasks") as batch:
        batch.add_column(sa.Column("expires_at", reelforge.store.tables.UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("outputs_expired", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.create_index("ix_tasks_outputs_expired_expires_at", ["outputs_expired", "expires_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("tasks") as batch:
        batch.drop_index("ix_tasks_outputs_expired_expires_at")
        batch.drop_column("outputs_expired")
        batch.drop_column("expires_at")
