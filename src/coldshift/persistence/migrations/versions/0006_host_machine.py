"""hosts.machine: the physical host under a DeH of a libvirt region, unique, so that two
allocations never take the same one

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 13:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("hosts") as batch:
        batch.add_column(sa.Column("machine", sa.String(255), nullable=True))
        batch.create_unique_constraint("uq_hosts_machine", ["machine"])


def downgrade() -> None:
    with op.batch_alter_table("hosts") as batch:
        batch.drop_constraint("uq_hosts_machine", type_="unique")
        batch.drop_column("machine")
