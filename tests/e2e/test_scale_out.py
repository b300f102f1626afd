"""Several `coldshift serve` processes on one PostgreSQL database (issue: scale-out).

Every test here runs two or three real processes on a fresh database and drives them with the
official SDK, round-robin, so that requests for the same room race through different
processes. The capacity checks are exact: a DeH that can take eight more guests takes eight.
"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tests.e2e import admin, sdk
from tests.e2e.cluster import (
    DEH_VCPUS,
    LARGE,
    assert_no_drift,
    deh_servers,
    final_statuses,
    job_rows,
    migrate_call,
    round_robin,
    scale_catalog,
    start_cluster,
)
from tests.e2e.conftest import Region, region_on
from tests.e2e.harness import ecs_client, wait_for
from tests.e2e.test_durability import all_servers

pytestmark = pytest.mark.pg

SLOTS = DEH_VCPUS // LARGE  # t1.large.2 guests one empty DeH takes


@pytest.fixture
def pg_region(tmp_path: Path) -> Any:
    with region_on("pg", tmp_path) as region:
        region.catalog = scale_catalog(tmp_path)
        yield region


def create_call(deh_id: str) -> Any:
    return lambda client: (
        sdk.create_servers(client, tenancy="dedicated", dedicated_host_id=deh_id).job_id
    )


def outcomes(region: Region, job_ids: list[str]) -> Counter[tuple[str, str | None]]:
    return Counter((j.status, j.error_code) for j in final_statuses(region, job_ids))


@pytest.mark.parametrize("processes", [2, 3])
def test_migrations_racing_through_several_processes_succeed_exactly_as_room_allows(
    pg_region: Region, processes: int
) -> None:
    region = pg_region
    start_cluster(region, processes, "--workers", "8")
    client = region.ecs()
    dehs = sdk.allocate(region.deh(), quantity=10)
    in_pool = sdk.stopped_servers(client, count=44)
    contested = dehs[4]

    # Round 1, pool → DeH: four DeHs filled exactly, and sixteen contenders (twelve
    # migrations and four creates) for the eight slots of a fifth.
    moves = [(s, dehs[i // SLOTS]) for i, s in enumerate(in_pool[:32])]
    racers = [migrate_call(s, contested) for s in in_pool[32:]]
    calls = [migrate_call(s, d) for s, d in moves] + racers + [create_call(contested)] * 4
    round_one = outcomes(region, round_robin(region, calls))
    assert round_one == Counter({("SUCCESS", None): 32 + SLOTS, ("FAIL", "Ecs.0319"): 8})
    for deh in dehs[:5]:
        assert deh_servers(region, deh) == (SLOTS, 0)
    assert_no_drift(region.db_url)

    # Round 2, DeH → DeH: two full DeHs race into one empty one; three move one to one.
    created = [s.id for s in all_servers(region) if s.status == "ACTIVE"]
    if created:  # the creates that won a slot: a cold migration needs them stopped
        assert sdk.wait_job(client, sdk.stop(client, *created).job_id).status == "SUCCESS"
    placed = {deh: servers_on(region, deh) for deh in dehs[:5]}
    calls = [migrate_call(s, dehs[5 + i]) for i in (0, 1, 4) for s in placed[dehs[i]]]
    calls += [migrate_call(s, dehs[7]) for i in (2, 3) for s in placed[dehs[i]]]
    round_two = outcomes(region, round_robin(region, calls))
    assert round_two == Counter({("SUCCESS", None): 4 * SLOTS, ("FAIL", "Ecs.0319"): SLOTS})
    counts = [deh_servers(region, d)[0] for d in dehs]
    assert counts[:2] + counts[4:] == [0, 0, 0, 8, 8, 8, 0, 8]
    assert counts[2] + counts[3] == SLOTS  # the losers of the race stay where they were
    assert_no_drift(region.db_url)

    # Round 3, DeH → pool: every migrated server goes back to the pool at once.
    on_dehs = [s for deh in dehs for s in servers_on(region, deh)]
    round_three = outcomes(region, round_robin(region, [migrate_call(s, None) for s in on_dehs]))
    assert round_three == Counter({("SUCCESS", None): 5 * SLOTS})
    for deh in dehs:
        assert deh_servers(region, deh) == (0, DEH_VCPUS)
    assert sum(round_one.values()) + sum(round_two.values()) + sum(round_three.values()) >= 120
    assert_no_drift(region.db_url)


def servers_on(region: Region, deh_id: str) -> list[str]:
    return [str(s) for s in sdk.raw_deh(region.deh(), deh_id)["instance_uuids"]]


def test_a_job_submitted_to_one_process_is_run_by_another_at_once(pg_region: Region) -> None:
    """The submitting process runs no workers and the other polls once a minute: only the
    database's notification can make the job start before then."""
    region = pg_region
    region.start("--workers", "0")
    region.start("--workers", "4", "--poll-seconds", "60")
    client = region.ecs()
    started = time.monotonic()
    job_id = sdk.create_servers(client).job_id
    assert sdk.wait_job(client, job_id, timeout=30).status == "SUCCESS"
    assert time.monotonic() - started < 30


def test_kill_minus_nine_of_one_of_three_processes_loses_no_job(pg_region: Region) -> None:
    """Thirty migrations wait inside the victim's driver: fifteen past their commit point
    (finished by the survivors) and fifteen before it (undone by them)."""
    region = pg_region
    lease = 3.0
    victim = region.start("--workers", "32", "--lease-seconds", str(lease))
    client = region.ecs()
    dehs = sdk.allocate(region.deh(), quantity=4)
    in_pool = sdk.stopped_servers(client, count=30)
    committed, undone = in_pool[:15], in_pool[15:]

    admin.hold(victim.url, "confirm_migration")
    late = [sdk.migrate(client, s, dehs[i % 2]) for i, s in enumerate(committed)]
    wait_for(lambda: admin.in_progress(victim.url, "confirm_migration") == 15, 60, "15 at confirm")
    admin.hold(victim.url, "copy_disks")
    early = [sdk.migrate(client, s, dehs[2 + i % 2]) for i, s in enumerate(undone)]
    wait_for(lambda: admin.in_progress(victim.url, "copy_disks") == 15, 60, "15 at the copy")
    start_cluster(region, 2, "--workers", "8", "--lease-seconds", str(lease))

    killed_at = time.time()
    victim.kill()
    region.servers.remove(victim)
    finals = final_statuses(region, late + early, timeout=60 + lease)

    assert [j.status for j in finals[:15]] == ["SUCCESS"] * 15
    assert [(j.status, j.error_code) for j in finals[15:]] == [("FAIL", "Common.0999")] * 15
    assert [deh_servers(region, d)[0] for d in dehs] == [8, 7, 0, 0]
    taken_over = job_rows(
        region.db_url,
        "SELECT min(claimed_at), max(claimed_at), count(*) FROM jobs "
        "WHERE parent_id IS NOT NULL AND attempts > 1",
    )[0]
    assert taken_over[2] == 30 and taken_over[0] >= killed_at
    for server_id in in_pool:
        server = sdk.show(ecs_client(region.url), server_id)
        assert (server.status, server.os_ext_st_stask_state) == ("SHUTOFF", None)
    assert_no_drift(region.db_url)


def test_rolling_restart_with_sigterm_hands_jobs_over_and_undoes_none(
    tmp_path: Path,
) -> None:
    """Three rounds of 24 migrations; in each, every worker of every process waits inside a
    migration (a driver hold) when one process is stopped with SIGTERM and started again.
    With no drain time that process hands its 8 jobs back once their step is done, and the
    others finish them: every migration succeeds and none is undone."""
    with region_on("pg", tmp_path) as region:
        region.catalog = scale_catalog(tmp_path)
        args = ("--workers", "8", "--drain-seconds", "0")
        start_cluster(region, 3, *args)
        client = region.ecs()
        dehs = sdk.allocate(region.deh(), quantity=6)
        servers = sdk.stopped_servers(client, count=24)
        targets: list[list[str | None]] = [[*dehs[:3]], [*dehs[3:]], [None]]

        for index, round_targets in enumerate(targets):
            for process in region.servers:
                admin.hold(process.url, "define_on_target", seconds=6.0)
            moves = [
                migrate_call(s, round_targets[i % len(round_targets)])
                for i, s in enumerate(servers)
            ]
            job_ids = round_robin(region, moves)
            wait_for(lambda: held(region) == [8, 8, 8], 60, "every worker inside a migration")
            region.restart(*args, index=index)
            finals = final_statuses(region, job_ids)
            assert Counter(j.status for j in finals) == Counter({"SUCCESS": 24})

        assert [deh_servers(region, d)[0] for d in dehs] == [0] * 6
        handed_back = job_rows(
            region.db_url,
            "SELECT count(*) FROM jobs WHERE job_type = 'migrateSingleServer' AND attempts > 1",
        )[0][0]
        assert handed_back == 3 * 8
        logs = "".join(p.read_text() for p in tmp_path.glob("serve-*.log"))
        assert logs.count("handed back at a step boundary") == 3 * 8
        assert_no_drift(region.db_url)


def held(region: Region) -> list[int]:
    return [admin.in_progress(p.url, "define_on_target") for p in region.servers]
