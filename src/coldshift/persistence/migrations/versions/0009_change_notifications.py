"""PostgreSQL: every table NOTIFYs coldshift_changes with its name when a statement changes it

Other processes' commits reach each process's read cache this way (persistence/change_feed.py).
SQLite has one serving process and needs nothing.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 16:00:00
"""

from __future__ import annotations

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

TABLES = (
    "hosts",
    "numa_nodes",
    "claims",
    "servers",
    "jobs",
    "maintenance_tasks",
    "server_groups",
    "server_group_members",
    "group_hosts",
    "client_tokens",
)


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    # A statement trigger: one notification per statement, and PostgreSQL folds identical ones
    # of a transaction into one, delivered only if it commits.
    op.execute(
        """
        CREATE OR REPLACE FUNCTION coldshift_changed() RETURNS trigger AS $$
        BEGIN
            PERFORM pg_notify('coldshift_changes', TG_TABLE_NAME);
            RETURN NULL;
        END
        $$ LANGUAGE plpgsql
        """
    )
    for table in TABLES:
        op.execute(
            f"CREATE TRIGGER coldshift_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE "
            f"ON {table} FOR EACH STATEMENT EXECUTE FUNCTION coldshift_changed()"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in TABLES:
        op.execute(f"DROP TRIGGER IF EXISTS coldshift_changed ON {table}")
    op.execute("DROP FUNCTION IF EXISTS coldshift_changed()")
