"""The frozen values placement decides on, taken from the domain's hosts and flavors."""

from __future__ import annotations

from coldshift.domain.catalog import Flavor
from coldshift.domain.hosts import Host
from coldshift.placement.types import HostView, NumaRequest


def host_view(host: Host) -> HostView:
    """``host``'s NUMA capacity as read, for one decision (its nodes are immutable already)."""
    return HostView(host.id, host.name, host.nodes)


def numa_request(flavor: Flavor) -> NumaRequest:
    """What a guest of ``flavor`` asks of a host's NUMA nodes."""
    return NumaRequest(flavor.vcpus, flavor.ram_mb, flavor.numa_nodes)
