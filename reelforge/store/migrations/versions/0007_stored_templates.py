"""stored templates with merge fields (the AVS extension /api/v1/templates)

Revision ID: 0007
Revises: 0006
"""
import sqlalchemy as sa
from alembic import op

import reelforge.store.tables

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "templates",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("key_id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("template", sa.JSON(), nullable=False),
        sa.Column("defaults", sa.JSON(), nullable=False),
        sa.Column("created_at", reelforge.store.tables.UTCDateTime(), nullable=False),
        sa.Column("updated_at", reelforge.store.tables.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["key_id"], ["api_keys.id"], name=op.f("fk_templates_key_id_api_keys")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_templates")),
    )
    op.create_index("ix_templates_key_created", "templates", ["key_id", "created_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_templates_key_created", table_name="templates")
    op.drop_table("templates")
