"""jobs.key_id and an index on (state, key_id, available_at, created_at, task_id): per-key heads by index

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("jobs", sa.Column("key_id", sa.String(length=40), nullable=True))
    op.execute("UPDATE jobs SET key_id = (SELECT tasks.key_id FROM tasks WHERE tasks.id = jobs.task_id)")
    op.create_index(
        "ix_jobs_state_key_available",
        "jobs",
        ["state", "key_id", "available_at", "created_at", "task_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_jobs_state_key_available", table_name="jobs")
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("key_id")
