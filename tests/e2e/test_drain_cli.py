"""`coldshift drain` (operations.md) driven as a person would: the installed command against a
real `coldshift serve`, the SDK checking where every server ended."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.e2e import admin, sdk
from tests.e2e.conftest import Region, region_on
from tests.e2e.harness import ADMIN, BETA, wait_for
from tests.e2e.test_durability import coldshift_check
from tests.e2e.test_operator_cli import cli, split_deh


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Region]:
    with region_on("sqlite", tmp_path_factory.mktemp("drain")) as region:
        region.start()
        yield region


def deh_with(region: Region, *flavors: str, running: int = 0) -> tuple[str, list[str]]:
    """A fresh DeH holding one server of each flavor; all but the first ``running`` stopped."""
    ecs = region.ecs()
    host = sdk.allocate(region.deh(), name="drained")[0]
    ids = [
        sdk.create_and_wait(ecs, flavor=f, dedicated_host_id=host, tenancy="dedicated")[0]
        for f in flavors
    ]
    if ids[running:]:
        assert sdk.wait_job(ecs, sdk.stop(ecs, *ids[running:]).job_id).status == "SUCCESS"
    return host, ids


def place(region: Region, server_id: str) -> tuple[str, str | None]:
    """The server's status and DeH (None: the pool), as the SDK shows it."""
    shown = sdk.show(region.ecs(), server_id)
    hints = shown.osscheduler_hints
    dedicated = (hints.dedicated_host_id if hints is not None else None) or [None]
    return shown.status, dedicated[0]


def test_drain_onto_two_dehs_with_a_failing_sub_job_that_undoes_no_other(live: Region) -> None:
    host, ids = deh_with(live, "t1.xlarge.2", "t1.xlarge.2", "t1.xlarge.2")
    one, two = (sdk.allocate(live.deh(), name=n)[0] for n in ("one", "two"))

    dry = cli(live, "drain", host, "--to", one, "--to", two, "--dry-run", "--json")
    assert dry.returncode == 0, dry.stderr
    plan = json.loads(dry.stdout)
    assert plan["fits"] and plan["job_id"] is None and len(plan["moves"]) == 3
    assert {m["to"] for m in plan["moves"]} <= {one, two}
    assert all(place(live, s) == ("SHUTOFF", host) for s in ids)  # a dry run moves nothing

    admin.fail_next(live.url, "copy_disks")
    run = cli(live, "drain", host, "--to", one, "--to", two, "--max-parallel", "1", "--wait")
    assert run.returncode == 1, run.stdout + run.stderr
    assert "FAIL" in run.stderr and "drain of DeH" in run.stdout
    places = [place(live, s) for s in ids]
    assert sorted(d == host for _, d in places) == [False, False, True], places
    assert all(status == "SHUTOFF" for status, _ in places)
    moved = [d for _, d in places if d != host]
    assert set(moved) <= {one, two}
    # the drain has ended: its DeH takes servers again
    left = ids[[d for _, d in places].index(host)]
    assert sdk.migrate_and_wait(live.ecs(), left, one).status == "SUCCESS"


def test_drain_to_the_pool_with_restart_and_the_running_server_refused_without(
    live: Region,
) -> None:
    host, (running, stopped) = deh_with(live, "t1.xlarge.2", "t1.large.2", running=1)
    refused = cli(live, "drain", host, "--to-pool")
    assert refused.returncode == 2 and "running" in refused.stderr, refused.stderr
    assert place(live, running) == ("ACTIVE", host)
    dry = cli(live, "drain", host, "--to-pool", "--dry-run")
    assert dry.returncode == 1 and "left over" in dry.stdout, dry.stdout

    done = cli(live, "drain", host, "--to-pool", "--restart", "--wait")
    assert done.returncode == 0, done.stdout + done.stderr
    assert place(live, running) == ("ACTIVE", None)
    assert place(live, stopped) == ("SHUTOFF", None)


def test_an_unplaceable_remainder_runs_nothing_unless_partial(live: Region) -> None:
    target, _ = split_deh(live)  # 4 vCPUs free on each node
    host, (big, small) = deh_with(live, "t1.2xlarge.2", "t1.xlarge.2")
    refused = cli(live, "drain", host, "--to", target)
    assert refused.returncode == 2 and "cannot place 1 server" in refused.stderr, refused.stderr
    assert place(live, small) == ("SHUTOFF", host)
    done = cli(live, "drain", host, "--to", target, "--partial", "--wait")
    assert done.returncode == 0, done.stdout + done.stderr
    assert place(live, small) == ("SHUTOFF", target)
    assert place(live, big) == ("SHUTOFF", host)


def test_refusals(live: Region) -> None:
    # any DeH of the project (the DeH quota is small: the module's others are reused)
    mine = json.loads(cli(live, "hosts", "--deh-only", "--json").stdout)["hosts"]
    host = mine[0]["id"] if mine else sdk.allocate(live.deh(), name="refusals")[0]
    unknown = cli(live, "drain", "no-such-deh", "--to-pool")
    assert unknown.returncode == 2 and "does not exist" in unknown.stderr, unknown.stderr
    foreign = cli(live, "drain", host, "--to-pool", creds=BETA)
    assert foreign.returncode == 2 and "does not exist" in foreign.stderr, foreign.stderr
    itself = cli(live, "drain", host, "--to", host)
    assert itself.returncode == 2 and "onto itself" in itself.stderr, itself.stderr
    pool = [h for h in json.loads(cli(live, "hosts", "--json", creds=ADMIN).stdout)["hosts"]]
    pool_id = next(h["id"] for h in pool if h["kind"] == "pool")
    tenant = cli(live, "drain", pool_id, "--to-pool")
    assert tenant.returncode == 2 and "public pool" in tenant.stderr, tenant.stderr
    no_target = cli(live, "drain", host)
    assert no_target.returncode == 2, no_target.stderr


def test_kill_minus_nine_mid_drain_ends_every_sub_job_and_lifts_the_fence(
    cold_region: Region,
) -> None:
    region = cold_region
    region.start()
    host, ids = deh_with(region, "t1.large.2", "t1.large.2", "t1.large.2")
    (target,) = sdk.allocate(region.deh(), name="target")
    admin.hold(region.url, "copy_disks")
    started = cli(region, "drain", host, "--to", target, "--max-parallel", "1", "--json")
    assert started.returncode == 0, started.stderr
    job_id = json.loads(started.stdout)["job_id"]
    wait_for(lambda: admin.in_progress(region.url, "copy_disks") == 1, 30, "the first copy")
    region.restart(kill=True)  # the new process holds nothing: the drain goes on
    final = sdk.wait_job(region.ecs(), job_id, 120)
    sub_jobs = final.entities.sub_jobs
    assert all(s.status in ("SUCCESS", "FAIL") for s in sub_jobs)
    # the copy that was cut short is undone; the two held ones ran after it ended
    assert sorted(s.status for s in sub_jobs) == ["FAIL", "SUCCESS", "SUCCESS"]
    places = sorted(place(region, s)[1] == target for s in ids)
    assert places == [False, True, True]
    # the fence is lifted with the drain's end, and nothing drifted
    (late,) = sdk.create_and_wait(region.ecs(), dedicated_host_id=host, tenancy="dedicated")
    assert place(region, late) == ("ACTIVE", host)
    assert coldshift_check(region.db_url).returncode == 0


def test_a_drain_racing_with_creates_and_migrations_never_overcommits(
    cold_region: Region,
) -> None:
    live = cold_region  # a region of its own: the module's has used the project's DeH quota
    live.start()
    ecs = live.ecs()
    host, _ = deh_with(live, "t1.xlarge.2", "t1.xlarge.2")
    (target,) = sdk.allocate(live.deh(), name="raced")
    others = sdk.stopped_servers(ecs, flavor="t1.xlarge.2", count=3)  # on the pool
    admin.hold(live.url, "copy_disks")
    try:
        started = cli(live, "drain", host, "--to", target, "--max-parallel", "2", "--json")
        assert started.returncode == 0, started.stderr
        wait_for(lambda: admin.in_progress(live.url, "copy_disks") == 2, 30, "both copies")
        # the drained DeH takes no new server; the drain's target is contended: its 16 vCPUs
        # hold the drain's two servers and room for two of the three others
        sdk.expect_error(
            lambda: sdk.create_servers(ecs, dedicated_host_id=host, tenancy="dedicated"),
            400,
            "Ecs.0100",
            "a create on the drained DeH",
        )
        racing = [sdk.migrate(ecs, s, target) for s in others]
    finally:
        admin.release(live.url, "copy_disks")
    drained = sdk.wait_job(ecs, json.loads(started.stdout)["job_id"], 60)
    raced = [sdk.wait_job(ecs, job_id, 60).status for job_id in racing]
    assert drained.status == "SUCCESS" and sorted(raced) == ["FAIL", "SUCCESS", "SUCCESS"]
    deh = sdk.show_deh(live.deh(), target)
    assert (deh.available_vcpus, deh.instance_total) == (0, 4)
    assert coldshift_check(live.db_url).returncode == 0
