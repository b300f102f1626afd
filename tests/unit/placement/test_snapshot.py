"""The frozen values placement decides on, taken from domain hosts and flavors."""

from __future__ import annotations

from coldshift.domain.catalog import Flavor
from coldshift.domain.hosts import HostKind, NumaNode
from coldshift.placement import HostView, NumaRequest, host_view, numa_request
from tests.unit.placement.hosts import domain_host

NODES = (NumaNode(0, 40, 163840, 12, 4096), NumaNode(1, 40, 163840, 40, 163840))


def test_a_host_view_holds_the_hosts_id_name_and_nodes_as_read() -> None:
    assert host_view(domain_host("h-1", HostKind.POOL, NODES)) == HostView("h-1", "name-h-1", NODES)


def test_a_host_views_free_figures_are_its_nodes_sums() -> None:
    view = host_view(domain_host("h-1", HostKind.POOL, NODES))
    assert (view.vcpus_free, view.memory_free, view.vcpus_total) == (52, 167936, 80)


def test_a_host_without_nodes_has_a_view_without_room() -> None:
    view = host_view(domain_host("h-1", HostKind.POOL))
    assert (view.nodes, view.vcpus_free, view.memory_free) == ((), 0, 0)


def test_a_numa_request_splits_the_flavor_over_its_nodes() -> None:
    request = numa_request(Flavor("s6.16xlarge.2", 64, 131072, numa_nodes=2))
    assert request == NumaRequest(64, 131072, 2)
    assert (request.vcpus_per_node, request.memory_per_node) == (32, 65536)


def test_a_one_node_flavor_asks_for_one_node() -> None:
    assert numa_request(Flavor("s6.large.2", 2, 4096)) == NumaRequest(2, 4096, 1)
