"""task timings: tasks.timings, where a task's seconds went (engine stages, store), shown in task details

Revision ID: 0010
Revises: 0009
"""
import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Tasks that ended before this revision have no timings (NULL); the APIs then show none.
    with op.batch_alter_table("tasks") as batch:
        batch.add_column(sa.Column("timings", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("tasks") as batch:
        batch.drop_column("timings")
