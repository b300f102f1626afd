"""Settings of one coldshift process (no I/O at import)."""

from __future__ import annotations

import os
from dataclasses import dataclass

from coldshift.jobs.worker import (
    DEFAULT_CONCURRENCY,
    DEFAULT_LEASE_SECONDS,
    DEFAULT_POLL_SECONDS,
)


@dataclass(frozen=True)
class Settings:
    catalog_path: str | None = None
    db_url: str = "sqlite:///coldshift-data/coldshift.db"
    host: str = "127.0.0.1"
    port: int = 8080
    workers: int = DEFAULT_CONCURRENCY
    lease_seconds: float = DEFAULT_LEASE_SECONDS
    poll_seconds: float = DEFAULT_POLL_SECONDS
    drain_seconds: float = 10.0
    job_retention_seconds: float = 86400.0
    max_body_bytes: int = 1024 * 1024
    signature_skew_seconds: float = 900.0


def default_db_url(data_dir: str) -> str:
    return f"sqlite:///{os.path.join(data_dir, 'coldshift.db')}"
