"""`coldshift check` finds each kind of drift of cold-migration.md and names the ids involved.

A real region is run and stopped, then its database is damaged on purpose, one invariant at
a time, the way a bug or a hand edit could; the command must see it (exit 1).
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import Connection, create_engine, text

from coldshift.persistence.db import normalise_url
from tests.e2e import sdk
from tests.e2e.conftest import Region
from tests.e2e.test_durability import coldshift_check

Damage = Callable[[Connection, str, str], None]


def steal_a_vcpu(conn: Connection, _server: str, host: str) -> None:
    conn.execute(
        text("UPDATE numa_nodes SET vcpus_free = vcpus_free - 1 WHERE host_id = :h"), {"h": host}
    )


def drop_the_claims(conn: Connection, server: str, _host: str) -> None:
    conn.execute(text("DELETE FROM claims WHERE server_id = :s"), {"s": server})


def leave_a_task_without_job(conn: Connection, server: str, _host: str) -> None:
    conn.execute(text("UPDATE servers SET task_state = 'resize_prep' WHERE id = :s"), {"s": server})


def mark_as_migrating(conn: Connection, server: str, host: str) -> None:
    conn.execute(
        text("UPDATE servers SET migrating_to = :h WHERE id = :s"), {"h": host, "s": server}
    )


@pytest.mark.parametrize(
    ("damage", "invariant", "names"),
    [
        (steal_a_vcpu, 1, "host"),
        (drop_the_claims, 2, "server"),
        (mark_as_migrating, 2, "server"),
        (leave_a_task_without_job, 3, "server"),
    ],
)
def test_check_reports_each_kind_of_drift_with_its_ids(
    cold_region: Region, damage: Damage, invariant: int, names: str
) -> None:
    region = cold_region
    region.start()
    [deh] = sdk.allocate(region.deh())
    [server] = sdk.create_and_wait(region.ecs(), tenancy="dedicated", dedicated_host_id=deh)
    region.stop_all()
    clean = coldshift_check(region.db_url)
    assert clean.returncode == 0 and "no drift" in clean.stdout, clean.stdout + clean.stderr

    engine = create_engine(normalise_url(region.db_url))
    with engine.begin() as conn:
        damage(conn, server, deh)
    engine.dispose()

    found = coldshift_check(region.db_url)
    assert found.returncode == 1, found.stdout + found.stderr
    assert f"invariant {invariant}" in found.stdout
    assert (deh if names == "host" else server) in found.stdout


def test_check_of_a_missing_sqlite_file_says_so_and_creates_nothing(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "region.db"
    result = subprocess.run(
        [sys.executable, "-m", "coldshift", "check", "--db", f"sqlite:///{missing}"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert f"no database at {missing}" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr
    assert not missing.exists()
