"""Whole cold migrations run in memory: the fake store, the in-memory jobs, the simulated
driver, a worker in the test's thread."""

from __future__ import annotations

import pytest

from coldshift.domain.codes import Code
from coldshift.domain.commands import MigrateServer
from coldshift.domain.hosts import HostKind
from coldshift.domain.servers import DEDICATED, SHARED, VmState
from coldshift.jobs.model import JobStatus
from coldshift.services.migration import migrate_server
from coldshift.services.servers import batch_action
from tests.unit.services.world import ALPHA, World, build_world


@pytest.fixture
def world() -> World:
    return build_world()


def _migrate(world: World, server_id: str, deh: str | None) -> tuple[JobStatus, str | None, str]:
    job_id = migrate_server(world.region, MigrateServer(ALPHA, server_id, deh))
    world.run()
    job, [sub] = world.job(job_id)
    assert sub.status is job.status
    return job.status, job.error_code, job.fail_reason or ""


def _pool_hosts(world: World, az: str = "az-a") -> list[str]:
    return [h.id for h in world.store.list_hosts(kind=HostKind.POOL, availability_zone=az)]


def _assert_idle_on(world: World, server_id: str, host_id: str, tenancy: str) -> None:
    server = world.server(server_id)
    assert (server.host_id, server.tenancy, server.task_state) == (host_id, tenancy, None)
    assert (server.vm_state, server.migrating_to) == (VmState.STOPPED.value, None)
    assert world.store.claimed_host(server_id, "placed") == host_id
    assert not world.store.has_claims(server_id, "incoming")
    assert not world.store.has_claims(server_id, "outgoing")


def test_a_server_moves_from_one_deh_to_another(world: World) -> None:
    source, target = world.dehs(2)
    [server_id] = world.servers(flavor="t1.xlarge.2", deh=source)
    assert world.free(source) == [4, 8]

    assert _migrate(world, server_id, target) == (JobStatus.SUCCESS, None, "")

    _assert_idle_on(world, server_id, target, DEDICATED)
    assert world.server(server_id).dedicated_host_id == target
    assert world.free(source) == [8, 8]
    assert world.free(target) == [4, 8]
    assert [s.id for s in world.store.servers_on_host(target)] == [server_id]
    assert world.store.servers_on_host(source) == []


def test_a_server_moves_from_a_deh_to_the_pool(world: World) -> None:
    [source] = world.dehs()
    [server_id] = world.servers(deh=source)
    pool_free = {h: world.free(h) for h in _pool_hosts(world)}

    assert _migrate(world, server_id, None)[0] is JobStatus.SUCCESS

    server = world.server(server_id)
    assert server.host_id in pool_free
    _assert_idle_on(world, server_id, server.host_id, SHARED)
    assert server.dedicated_host_id is None
    assert world.free(source) == [8, 8]
    assert (
        sum(map(sum, (world.free(h) for h in pool_free))) == sum(map(sum, pool_free.values())) - 2
    )


def test_a_server_moves_from_the_pool_to_a_deh(world: World) -> None:
    [target] = world.dehs()
    [server_id] = world.servers(flavor="t1.2xlarge.2")
    source = world.server(server_id).host_id
    assert source is not None and world.free(source) in ([0, 8], [8, 0])

    assert _migrate(world, server_id, target)[0] is JobStatus.SUCCESS

    _assert_idle_on(world, server_id, target, DEDICATED)
    assert world.free(source) == [8, 8]
    assert sorted(world.free(target)) == [0, 8]


def test_a_guest_that_fits_only_in_total_fails_on_the_numa_rule_and_stays(world: World) -> None:
    source, target = world.dehs(2)
    [server_id] = world.servers(flavor="t1.2xlarge.2", deh=source)
    fillers = world.servers(4, flavor="t1.xlarge.2", deh=target)
    batch_action(world.region, ALPHA, "delete", [fillers[0], fillers[2]])
    world.run()
    assert world.free(target) == [4, 4]

    status, code, reason = _migrate(world, server_id, target)

    assert (status, code) == (JobStatus.FAIL, Code.NO_CAPACITY.value)
    assert "single-NUMA-node rule" in reason and target in reason
    _assert_idle_on(world, server_id, source, DEDICATED)
    assert world.free(source) in ([0, 8], [8, 0])
    assert world.free(target) == [4, 4]


def test_a_driver_fault_is_undone_and_the_server_stays(world: World) -> None:
    source, target = world.dehs(2)
    [server_id] = world.servers(deh=source)
    world.driver.set_operation("define_on_target", fail_next=5)

    status, code, _ = _migrate(world, server_id, target)

    assert (status, code) == (JobStatus.FAIL, Code.SYSTEM_ERROR.value)
    _assert_idle_on(world, server_id, source, DEDICATED)
    assert world.free(source) == [6, 8]
    assert world.free(target) == [8, 8]
    assert world.jobs.list_maintenance() == []
    # the server is idle again: a new migration gets its job and succeeds
    world.driver.reset()
    assert _migrate(world, server_id, target)[0] is JobStatus.SUCCESS
