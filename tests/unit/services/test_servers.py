"""The ECS use cases against the in-memory store: create, batch actions, lock."""

from __future__ import annotations

from dataclasses import replace

import pytest

from coldshift.domain.commands import MigrateServer
from coldshift.domain.errors import (
    BadRequest,
    ColdshiftError,
    QuotaExceeded,
    ServerBusy,
    ServerLocked,
    ServerNotFound,
    TooManyServers,
)
from coldshift.domain.job_types import JobType
from coldshift.domain.servers import TaskState, VmState
from coldshift.jobs.model import JobStatus
from coldshift.services.migration import migrate_server
from coldshift.services.servers import (
    MAX_CREATE_COUNT,
    batch_action,
    create_servers,
    set_locked,
)
from tests.unit.services.world import ALPHA, World, build_world, create_command


@pytest.fixture
def world() -> World:
    return build_world()


# ---- create ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("count", "error"),
    [(0, BadRequest), (MAX_CREATE_COUNT + 1, TooManyServers)],
    ids=["none", "too many"],
)
def test_a_create_count_out_of_bounds_is_refused(
    world: World, count: int, error: type[ColdshiftError]
) -> None:
    cmd = create_command(ALPHA, "t1.large.2", count)
    world.refused(error, lambda: create_servers(world.region, cmd))


def test_a_create_records_servers_and_a_job_and_the_worker_places_them(world: World) -> None:
    submitted = create_servers(world.region, create_command(ALPHA, "t1.large.2", 2))
    assert len(submitted.server_ids) == 2
    assert world.notifier.told == 2
    assert {world.server(s).task_state for s in submitted.server_ids} == {
        TaskState.SCHEDULING.value
    }
    world.run()
    job, subs = world.job(submitted.job_id)
    assert (job.job_type, job.status) == (JobType.CREATE_SERVERS, JobStatus.SUCCESS)
    assert [s.entities["server_id"] for s in subs] == list(submitted.server_ids)
    for server_id in submitted.server_ids:
        server = world.server(server_id)
        assert (server.vm_state, server.task_state) == (VmState.ACTIVE.value, None)
        assert world.store.claimed_host(server_id, "placed") == server.host_id


def test_a_create_beyond_the_instance_quota_is_refused(world: World) -> None:
    create_servers(world.region, create_command(ALPHA, "t1.large.2", 30))
    over = create_command(ALPHA, "t1.large.2", 11)  # alpha's quota: 40 instances
    world.refused(QuotaExceeded, lambda: create_servers(world.region, over))
    assert world.store.count_servers(ALPHA) == 30
    create_servers(world.region, create_command(ALPHA, "t1.large.2", 10))
    assert world.store.count_servers(ALPHA) == 40


def test_a_client_token_replays_the_first_answer(world: World) -> None:
    cmd = create_command(ALPHA, "t1.large.2", 2, client_token="tok", body_hash="h1")
    first = create_servers(world.region, cmd)
    again = create_servers(world.region, cmd)
    assert again == first
    assert world.store.count_servers(ALPHA) == 2
    assert len([j for j in world.jobs.jobs.values() if j.parent_id is None]) == 1


def test_a_client_token_with_another_body_is_refused(world: World) -> None:
    create_servers(
        world.region, create_command(ALPHA, "t1.large.2", client_token="tok", body_hash="h1")
    )
    other = create_command(ALPHA, "t1.xlarge.2", client_token="tok", body_hash="h2")
    world.refused(BadRequest, lambda: create_servers(world.region, other))


def test_a_dry_run_records_nothing(world: World) -> None:
    dry = replace(create_command(ALPHA, "t1.large.2", 3), dry_run=True)
    before = world.snapshot()
    assert create_servers(world.region, dry).job_id == ""
    assert world.snapshot() == before


# ---- batch actions -------------------------------------------------------------------------


def _modes(world: World, job_id: str) -> dict[str, str]:
    return {s.entities["server_id"]: s.payload["mode"] for s in world.job(job_id)[1]}


def test_a_batch_runs_noops_or_refuses_each_server_by_its_state(world: World) -> None:
    stopped, running = world.servers(2)
    batch_action(world.region, ALPHA, "start", [running])
    world.run()

    stop = batch_action(world.region, ALPHA, "stop", [stopped, running])
    assert _modes(world, stop.job_id) == {stopped: "noop", running: "run"}
    assert world.server(stopped).task_state is None
    assert world.server(running).task_state == TaskState.POWERING_OFF.value
    world.run()

    reboot = batch_action(world.region, ALPHA, "reboot", [stopped])
    assert _modes(world, reboot.job_id) == {stopped: "refuse"}
    assert world.server(stopped).task_state is None
    world.run()
    assert world.job(reboot.job_id)[0].status is JobStatus.FAIL
    assert world.server(running).vm_state == VmState.STOPPED.value


@pytest.mark.parametrize(
    ("spoil", "error"),
    [
        ("lock", ServerLocked),
        ("busy", ServerBusy),
        ("unknown", ServerNotFound),
        ("twice", BadRequest),
    ],
)
def test_one_bad_server_refuses_the_whole_batch(
    world: World, spoil: str, error: type[ColdshiftError]
) -> None:
    good, bad = world.servers(2)
    if spoil == "lock":
        set_locked(world.region, ALPHA, bad, True)
    elif spoil == "busy":
        batch_action(world.region, ALPHA, "start", [bad])
    ids = {"unknown": [good, "no-such-ecs"], "twice": [good, good]}.get(spoil, [good, bad])
    world.refused(error, lambda: batch_action(world.region, ALPHA, "start", ids))
    assert world.server(good).task_state is None


def test_an_empty_batch_is_refused(world: World) -> None:
    world.refused(BadRequest, lambda: batch_action(world.region, ALPHA, "stop", []))


# ---- lock ----------------------------------------------------------------------------------


def test_the_lock_cannot_change_while_a_migration_runs(world: World) -> None:
    source, target = world.dehs(2)
    [server_id] = world.servers(deh=source)
    migrate_server(world.region, MigrateServer(ALPHA, server_id, target))

    world.refused(ServerBusy, lambda: set_locked(world.region, ALPHA, server_id, True))
    set_locked(world.region, ALPHA, server_id, False)  # already unlocked: nothing to change

    world.run()
    set_locked(world.region, ALPHA, server_id, True)
    assert world.server(server_id).locked
