"""maintenance_tasks: the clean-up jobs leave behind, tried again with backoff

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03 08:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "maintenance_tasks",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("job_id", sa.String(32), nullable=False),
        sa.Column("project_id", sa.String(64), nullable=False),
        sa.Column("job_type", sa.String(64), nullable=False),
        sa.Column("step", sa.String(64), nullable=False),
        sa.Column("work", sa.String(16), nullable=False),
        sa.Column("entities", sa.JSON(), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("progress", sa.JSON(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("next_attempt_at", sa.Float(), nullable=False),
        sa.Column("done_at", sa.Float(), nullable=True),
        sa.Column("lease_owner", sa.String(64), nullable=True),
        sa.Column("lease_expires", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_maintenance_tasks"),
    )
    op.create_index("ix_maintenance_tasks_due", "maintenance_tasks", ["done_at", "next_attempt_at"])


def downgrade() -> None:
    op.drop_index("ix_maintenance_tasks_due", table_name="maintenance_tasks")
    op.drop_table("maintenance_tasks")
