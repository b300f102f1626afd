"""migrate_server's synchronous checks, in cold-migration.md's order: the first that fails
answers, and a refusal leaves everything as it was."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pytest

from coldshift.domain.commands import MigrateServer
from coldshift.domain.errors import (
    ColdshiftError,
    InvalidTarget,
    SameDedicatedHost,
    ServerBusy,
    ServerLocked,
    ServerNotFound,
)
from coldshift.domain.lifecycle import MIGRATION_ACCEPTED
from coldshift.domain.servers import TaskState
from coldshift.services.migration import migrate_server
from coldshift.services.servers import batch_action, set_locked
from coldshift.testing.factories import a_job
from tests.unit.services.world import ALPHA, BETA, World, build_world


@pytest.fixture
def world() -> World:
    return build_world()


def _refused(world: World, cmd: MigrateServer, error: type[ColdshiftError]) -> str:
    return world.refused(error, lambda: migrate_server(world.region, cmd))


def test_another_projects_server_is_not_found(world: World) -> None:
    [deh] = world.dehs()
    [server_id] = world.servers(deh=deh)
    _refused(world, MigrateServer(BETA, server_id, deh), ServerNotFound)


def test_a_locked_server_is_refused_before_its_state_is_looked_at(world: World) -> None:
    [deh] = world.dehs()
    [server_id] = world.servers(deh=deh)
    batch_action(world.region, ALPHA, "start", [server_id])  # a task now runs on it
    set_locked(world.region, ALPHA, server_id, True)  # allowed: it is no migration
    # locked (4), busy (5) and the same DeH (8): the lock answers
    _refused(world, MigrateServer(ALPHA, server_id, deh), ServerLocked)


def test_a_busy_server_is_refused_before_its_target(world: World) -> None:
    [deh] = world.dehs()
    [server_id] = world.servers(deh=deh)
    batch_action(world.region, ALPHA, "start", [server_id])
    assert world.server(server_id).task_state == TaskState.POWERING_ON.value
    message = _refused(world, MigrateServer(ALPHA, server_id, deh), ServerBusy)
    assert "busy" in message


def test_a_running_server_is_refused(world: World) -> None:
    [deh] = world.dehs()
    [server_id] = world.servers(deh=deh)
    batch_action(world.region, ALPHA, "start", [server_id])
    world.run()
    message = _refused(world, MigrateServer(ALPHA, server_id, "unknown"), ServerBusy)
    assert "stop it first" in message


def test_a_pool_server_needs_a_target_deh(world: World) -> None:
    [server_id] = world.servers()
    message = _refused(world, MigrateServer(ALPHA, server_id, None), InvalidTarget)
    assert "public pool" in message


@pytest.mark.parametrize(
    "target",
    [
        lambda w: "no-such-deh",
        lambda w: w.dehs(project_id=BETA)[0],
        lambda w: _released(w),
    ],
    ids=["unknown", "another project's", "released"],
)
def test_the_target_must_be_an_available_deh_of_the_project(
    world: World, target: Callable[[World], str]
) -> None:
    [server_id] = world.servers()
    _refused(world, MigrateServer(ALPHA, server_id, target(world)), InvalidTarget)


def _released(world: World) -> str:
    [deh] = world.dehs()
    world.region.store.release_host(deh)
    return deh


def test_the_same_deh_is_refused(world: World) -> None:
    [deh] = world.dehs()
    [server_id] = world.servers(deh=deh)
    _refused(world, MigrateServer(ALPHA, server_id, deh), SameDedicatedHost)


def test_a_deh_in_another_az_is_refused(world: World) -> None:
    [source] = world.dehs()
    [elsewhere] = world.dehs(az="az-b")
    [server_id] = world.servers(deh=source)
    message = _refused(world, MigrateServer(ALPHA, server_id, elsewhere), InvalidTarget)
    assert "az-b" in message and "az-a" in message


def test_a_deh_whose_host_type_lacks_the_flavor_is_refused(world: World) -> None:
    [source] = world.dehs()
    [memory] = world.region.store.list_hosts(host_ids=world.dehs())
    world.region.store.remove_hosts([memory.id])
    world.region.store.add_hosts([replace(memory, host_type="m1")])
    [server_id] = world.servers(deh=source)
    message = _refused(world, MigrateServer(ALPHA, server_id, memory.id), InvalidTarget)
    assert "t1.large.2" in message and "m1" in message


def test_an_accepted_migration_starts_its_task_in_the_submission(world: World) -> None:
    source, target = world.dehs(2)
    [server_id] = world.servers(deh=source)
    job_id = migrate_server(world.region, MigrateServer(ALPHA, server_id, target))
    server = world.server(server_id)
    [sub] = world.job(job_id)[1]
    assert (server.task_state, server.task_job_id) == (MIGRATION_ACCEPTED.target, sub.id)
    assert server.migrating_to == target
    # the second of two requests finds the server busy
    _refused(world, MigrateServer(ALPHA, server_id, target), ServerBusy)


def test_the_workers_are_told_after_the_submission_commits(world: World) -> None:
    """Region.one_transaction: a submission inside it is told to the workers at its end, and a
    refusal inside it tells them nothing."""
    source, target = world.dehs(2)
    first, second = world.servers(2, deh=source)
    told = world.notifier.told
    with world.region.one_transaction():
        world.region.submit(a_job("inside"))
        assert world.notifier.told == told  # not yet: the job is not committed
    assert world.notifier.told == told + 1
    migrate_server(world.region, MigrateServer(ALPHA, first, target))
    assert world.notifier.told == told + 2  # one runnable sub-job
    _refused(world, MigrateServer(ALPHA, second, source), SameDedicatedHost)
    assert world.notifier.told == told + 2
