"""hosts.generation, host_removals: each process's pool index re-reads only the hosts changed
since its last read (persistence/generations.py)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Rows already there get 0: a process reads every host at its start anyway.
    with op.batch_alter_table("hosts") as batch:
        batch.add_column(
            sa.Column("generation", sa.BigInteger(), nullable=False, server_default="0")
        )
    op.create_index("ix_hosts_generation", "hosts", ["generation"])
    op.create_table(
        "host_removals",
        sa.Column("host_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("availability_zone", sa.String(64), nullable=False),
        sa.Column("generation", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("host_id", name="pk_host_removals"),
    )
    op.create_index("ix_host_removals_generation", "host_removals", ["generation"])


def downgrade() -> None:
    op.drop_index("ix_host_removals_generation", table_name="host_removals")
    op.drop_table("host_removals")
    op.drop_index("ix_hosts_generation", table_name="hosts")
    with op.batch_alter_table("hosts") as batch:
        batch.drop_column("generation")
