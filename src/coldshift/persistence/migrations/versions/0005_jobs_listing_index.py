"""ix_jobs_listing: the job listing's page (a project's top-level jobs, newest first) read in
index order instead of sorting every job of the project

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03 09:40:00
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_jobs_listing", "jobs", ["project_id", "parent_id", "created_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_jobs_listing", table_name="jobs")
