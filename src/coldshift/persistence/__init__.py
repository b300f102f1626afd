"""SQLAlchemy adapter: the database is the source of truth for hosts, servers, claims and jobs."""

from __future__ import annotations
