"""SIGKILL with tens of cold migrations in flight, at chosen instants, then a restart on the
same database: every job ends by itself, every server is SHUTOFF on exactly one host, and
every host's free capacity is its size minus what is placed on it (cold-migration.md).

The instants are made exact with the simulated driver's holds: every migration waits inside
one driver operation, and the process is killed once all of them are there.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from typing import Any

import pytest

from tests.e2e import admin, sdk
from tests.e2e.conftest import Region
from tests.e2e.harness import TEST_CATALOG, wait_for
from tests.e2e.test_durability import coldshift_check

WORKERS = "32"
LARGE_VCPUS = 2  # t1.large.2; a t1 host has 16 vCPUs


@dataclass(frozen=True)
class Move:
    server_id: str
    source: str | None  # DeH id, None for the public pool
    target: str | None


def build_moves(region: Region) -> tuple[list[Move], list[str]]:
    """24 stopped servers and where each goes: DeH→DeH, DeH→pool, pool→DeH, all feasible."""
    client, dehs = region.ecs(), region.deh()
    deh_a, deh_b, deh_c, deh_d, deh_e = sdk.allocate(dehs, quantity=5)
    on_a, on_b, in_pool = (
        sdk.stopped_servers(client, count=8, **where)
        for where in (
            {"tenancy": "dedicated", "dedicated_host_id": deh_a},
            {"tenancy": "dedicated", "dedicated_host_id": deh_b},
            {},
        )
    )
    moves = (
        [Move(s, deh_a, deh_c) for s in on_a]
        + [Move(s, deh_b, deh_d) for s in on_b[:4]]
        + [Move(s, deh_b, None) for s in on_b[4:]]
        + [Move(s, None, deh_d) for s in in_pool[:4]]
        + [Move(s, None, deh_e) for s in in_pool[4:]]
    )
    return moves, [deh_a, deh_b, deh_c, deh_d, deh_e]


def where_is(region: Region, server_id: str) -> tuple[str, Any, str | None]:
    server = sdk.show(region.ecs(), server_id)
    hints = server.osscheduler_hints
    deh = hints.dedicated_host_id[0] if hints and hints.dedicated_host_id else None
    return server.status, server.os_ext_st_stask_state, deh


def submit_all(region: Region, moves: list[Move]) -> list[str]:
    client = region.ecs()
    return [sdk.migrate(client, m.server_id, m.target) for m in moves]


def kill_and_restart(region: Region) -> None:
    region.server.kill()
    region.restart("--workers", WORKERS)


def check_outcome(
    region: Region, moves: list[Move], job_ids: list[str], dehs: list[str]
) -> dict[str, int]:
    """The three invariants, seen through the API and by `coldshift check`."""
    client = region.ecs()
    finals = [sdk.wait_job(client, j, timeout=180) for j in job_ids]
    outcome = {"SUCCESS": 0, "FAIL": 0}
    for move, final in zip(moves, finals, strict=True):
        assert final.status in outcome, final
        outcome[final.status] += 1
        status, task, deh = where_is(region, move.server_id)
        assert (status, task) == ("SHUTOFF", None), (move, final)
        expected = move.target if final.status == "SUCCESS" else move.source
        assert deh == expected, (move, final.status, final.error_code, deh)
    placed: dict[str | None, int] = {}
    for move, final in zip(moves, finals, strict=True):
        home = move.target if final.status == "SUCCESS" else move.source
        placed[home] = placed.get(home, 0) + 1
    for deh in dehs:
        host = sdk.show_deh(region.deh(), deh)
        count = placed.get(deh, 0)
        assert host.instance_total == count, (deh, host.instance_total, count)
        assert host.available_vcpus == 16 - LARGE_VCPUS * count, (deh, host.available_vcpus)
        assert host.available_memory == 32768 - 4096 * count
    result = coldshift_check(region.db_url)
    assert result.returncode == 0, result.stdout + result.stderr
    return outcome


# instant → (driver operation every migration waits in, the outcome after the restart)
INSTANTS = {
    "while-copying": ("copy_disks", "FAIL"),
    "just-before-switch-over": ("cleanup_source", "FAIL"),
    "just-after-switch-over": ("confirm_migration", "SUCCESS"),
}


@pytest.mark.parametrize("instant", list(INSTANTS))
def test_kill_at_an_exact_instant(cold_region: Region, instant: str) -> None:
    region = cold_region
    region.start("--workers", WORKERS)
    moves, dehs = build_moves(region)
    operation, expected = INSTANTS[instant]
    admin.hold(region.url, operation, 3600)
    job_ids = submit_all(region, moves)
    wait_for(
        lambda: admin.in_progress(region.url, operation) == len(moves),
        60,
        f"all {len(moves)} migrations to wait in {operation}",
    )
    if expected == "SUCCESS":
        assert {where_is(region, m.server_id)[1] for m in moves} == {"resize_finish"}
    kill_and_restart(region)
    outcome = check_outcome(region, moves, job_ids, dehs)
    assert outcome == {
        "SUCCESS": len(moves) if expected == "SUCCESS" else 0,
        "FAIL": len(moves) if expected == "FAIL" else 0,
    }
    if expected == "FAIL":
        final = sdk.job(region.ecs(), job_ids[0])
        assert final.error_code == "Common.0999", final
        assert "interrupted" in final.fail_reason
    # the region works on: every job undone can run again and succeed
    if expected == "FAIL":
        retry = submit_all(region, moves)
        assert check_outcome(region, moves, retry, dehs) == {"SUCCESS": len(moves), "FAIL": 0}


def copying_catalog(region: Region) -> None:
    """Copies that take visible time: a 40 GB root disk at 64 GiB/s is 0.6 s."""
    text = TEST_CATALOG.read_text().replace("disk_copy_mb_per_s = 0", "disk_copy_mb_per_s = 65536")
    path = region.tmp / "copying.toml"
    path.write_text(text)
    region.catalog = path


@pytest.mark.parametrize("seed", [1, 2])
def test_kill_at_a_random_instant_with_migrations_in_every_phase(
    cold_region: Region, seed: int
) -> None:
    region = cold_region
    copying_catalog(region)
    region.start("--workers", "6")  # 24 migrations in four waves of about 0.6 s
    moves, dehs = build_moves(region)
    job_ids = submit_all(region, moves)
    client = region.ecs()
    # RUNNING, or already ended: on a loaded machine the submissions can outlast its copy
    wait_for(lambda: sdk.job(client, job_ids[0]).status != "INIT", 30, "the first migration")
    delay = random.Random(seed).uniform(0.2, 1.8)
    _pause(delay)
    kill_and_restart(region)
    outcome = check_outcome(region, moves, job_ids, dehs)
    assert sum(outcome.values()) == len(moves)
    print(f"seed {seed}: killed {delay:.2f}s after the first migration ran: {outcome}")


def _pause(seconds: float) -> None:
    """The one deliberate wait: it picks the kill instant. What is checked does not depend on
    it; only which jobs are where when the process dies does."""
    time.sleep(seconds)
