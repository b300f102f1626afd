"""The frozen values placement decides on, taken from domain hosts and flavors."""

from __future__ import annotations

from coldshift.domain.catalog import Flavor
from coldshift.domain.hosts import Host, HostKind, HostState, NumaNode
from coldshift.placement import HostView, NumaRequest, host_view, numa_request

NODES = (NumaNode(0, 40, 163840, 12, 4096), NumaNode(1, 40, 163840, 40, 163840))


def pool_host(nodes: tuple[NumaNode, ...] = NODES) -> Host:
    return Host(
        id="h-1",
        kind=HostKind.POOL,
        name="local-1a-s6-0001",
        project_id=None,
        availability_zone="local-1a",
        host_type="s6",
        state=HostState.AVAILABLE,
        auto_placement="off",
        vcpus=80,
        memory_mb=327680,
        sockets=2,
        cores=40,
        allocated_at=0.0,
        released_at=None,
        nodes=nodes,
    )


def test_a_host_view_holds_the_hosts_id_name_and_nodes_as_read() -> None:
    assert host_view(pool_host()) == HostView("h-1", "local-1a-s6-0001", NODES)


def test_a_host_views_free_figures_are_its_nodes_sums() -> None:
    view = host_view(pool_host())
    assert (view.vcpus_free, view.memory_free, view.vcpus_total) == (52, 167936, 80)


def test_a_host_without_nodes_has_a_view_without_room() -> None:
    view = host_view(pool_host(nodes=()))
    assert (view.nodes, view.vcpus_free, view.memory_free) == ((), 0, 0)


def test_a_numa_request_splits_the_flavor_over_its_nodes() -> None:
    request = numa_request(Flavor("s6.16xlarge.2", 64, 131072, numa_nodes=2))
    assert request == NumaRequest(64, 131072, 2)
    assert (request.vcpus_per_node, request.memory_per_node) == (32, 65536)


def test_a_one_node_flavor_asks_for_one_node() -> None:
    assert numa_request(Flavor("s6.large.2", 2, 4096)) == NumaRequest(2, 4096, 1)
