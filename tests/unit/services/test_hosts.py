"""The DeH use cases against the in-memory store: allocate, update, release."""

from __future__ import annotations

import pytest

from coldshift.domain.commands import AllocateHosts, MigrateServer
from coldshift.domain.errors import (
    BadRequest,
    ColdshiftError,
    DedicatedHostNotFound,
    HostInUse,
    HostReleased,
    HostTypeNotFound,
    HostTypeNotOffered,
    QuotaExceeded,
)
from coldshift.domain.hosts import HostKind, HostState
from coldshift.services.hosts import allocate_hosts, release_host, update_host
from coldshift.services.migration import migrate_server
from coldshift.services.servers import batch_action
from tests.unit.services.world import ALPHA, BETA, World, build_world


@pytest.fixture
def world() -> World:
    return build_world()


def test_allocated_dehs_have_the_host_types_numa_nodes(world: World) -> None:
    ids = allocate_hosts(world.region, AllocateHosts(ALPHA, "big", "az-b", "m1", 2, "off"))
    hosts = world.store.list_hosts(host_ids=ids)
    assert sorted(h.id for h in hosts) == sorted(ids)
    for host in hosts:
        assert (host.kind, host.project_id, host.availability_zone) == (HostKind.DEH, ALPHA, "az-b")
        assert (host.name, host.auto_placement, host.state) == ("big", "off", HostState.AVAILABLE)
        assert [(n.vcpus_free, n.memory_free) for n in host.nodes] == [(8, 65536), (8, 65536)]
    calls = {o.operation: o.calls for o in world.driver.operations()}
    assert calls["allocate_host"] == 1  # one allocation, whatever the quantity


@pytest.mark.parametrize(
    ("cmd", "error"),
    [
        (AllocateHosts(ALPHA, "x", "az-a", "z9", 1), HostTypeNotFound),
        (AllocateHosts(ALPHA, "x", "az-z", "t1", 1), HostTypeNotOffered),
        (AllocateHosts(ALPHA, "x", "az-a", "t1", 0), BadRequest),
        (AllocateHosts(ALPHA, "x", "az-a", "t1", 7), QuotaExceeded),
    ],
    ids=["unknown host type", "unknown AZ", "none", "beyond the quota of 6"],
)
def test_an_allocation_is_refused_with_nothing_allocated(
    world: World, cmd: AllocateHosts, error: type[ColdshiftError]
) -> None:
    world.refused(error, lambda: allocate_hosts(world.region, cmd))


def test_the_deh_quota_counts_what_is_held_not_what_was_released(world: World) -> None:
    ids = world.dehs(6)
    world.refused(QuotaExceeded, lambda: world.dehs(1))
    release_host(world.region, ALPHA, ids[0])
    assert len(world.dehs(1)) == 1


def test_an_update_changes_only_what_it_names(world: World) -> None:
    [deh] = world.dehs()
    update_host(world.region, ALPHA, deh, "renamed", None)
    update_host(world.region, ALPHA, deh, "", "off")
    host = world.host(deh)
    assert (host.name, host.auto_placement) == ("renamed", "off")
    world.refused(DedicatedHostNotFound, lambda: update_host(world.region, BETA, deh, "x", None))


def test_a_deh_carrying_a_server_is_not_released(world: World) -> None:
    [deh] = world.dehs()
    [server_id] = world.servers(deh=deh)
    world.refused(HostInUse, lambda: release_host(world.region, ALPHA, deh))
    batch_action(world.region, ALPHA, "delete", [server_id])
    world.run()
    release_host(world.region, ALPHA, deh)
    assert world.host(deh).state is HostState.RELEASED


def test_the_target_of_a_running_migration_is_not_released(world: World) -> None:
    source, target = world.dehs(2)
    [server_id] = world.servers(deh=source)
    migrate_server(world.region, MigrateServer(ALPHA, server_id, target))
    world.refused(HostInUse, lambda: release_host(world.region, ALPHA, target))


def test_a_released_deh_is_neither_released_again_nor_updated(world: World) -> None:
    [deh] = world.dehs()
    release_host(world.region, ALPHA, deh)
    world.refused(HostReleased, lambda: release_host(world.region, ALPHA, deh))
    world.refused(HostReleased, lambda: update_host(world.region, ALPHA, deh, "x", None))
