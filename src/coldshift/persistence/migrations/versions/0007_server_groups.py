"""server_groups, server_group_members, group_hosts: ECS groups and the anti-affinity claim

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-10 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "server_groups",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("project_id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("policy", sa.String(32), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_server_groups"),
    )
    op.create_index("ix_server_groups_project", "server_groups", ["project_id", "created_at"])
    op.create_table(
        "server_group_members",
        sa.Column("server_id", sa.String(64), nullable=False),
        sa.Column("group_id", sa.String(64), nullable=False),
        sa.Column("joined_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["server_groups.id"],
            name="fk_server_group_members_group_id_server_groups",
        ),
        sa.PrimaryKeyConstraint("server_id", name="pk_server_group_members"),
    )
    op.create_index("ix_server_group_members_group", "server_group_members", ["group_id"])
    op.create_table(
        "group_hosts",
        sa.Column("group_id", sa.String(64), nullable=False),
        sa.Column("host_id", sa.String(64), nullable=False),
        sa.Column("server_id", sa.String(64), nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"], ["server_groups.id"], name="fk_group_hosts_group_id_server_groups"
        ),
        sa.PrimaryKeyConstraint("group_id", "host_id", name="pk_group_hosts"),
    )
    op.create_index("ix_group_hosts_server", "group_hosts", ["server_id"])


def downgrade() -> None:
    op.drop_index("ix_group_hosts_server", table_name="group_hosts")
    op.drop_table("group_hosts")
    op.drop_index("ix_server_group_members_group", table_name="server_group_members")
    op.drop_table("server_group_members")
    op.drop_index("ix_server_groups_project", table_name="server_groups")
    op.drop_table("server_groups")
