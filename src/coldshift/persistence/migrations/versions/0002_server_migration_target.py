"""servers.migrating_to (the DeH a running cold migration is bound for) and
servers.task_job_id (the job that owns the server's task)

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29 06:45:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # batch mode: SQLite cannot ALTER TABLE ADD COLUMN with every constraint kind
    with op.batch_alter_table("servers") as batch:
        batch.add_column(sa.Column("migrating_to", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("task_job_id", sa.String(length=32), nullable=True))
        batch.create_index("ix_servers_migrating_to", ["migrating_to"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("servers") as batch:
        batch.drop_index("ix_servers_migrating_to")
        batch.drop_column("task_job_id")
        batch.drop_column("migrating_to")
