"""Who uses each NUMA node of a host: the read behind ``coldshift hosts`` (an extension)."""

from __future__ import annotations

from dataclasses import dataclass

from coldshift.domain.hosts import ClaimRole, Host, HostKind, HostState
from coldshift.domain.servers import Server
from coldshift.services.context import Region


@dataclass(frozen=True, slots=True)
class Occupant:
    server: Server
    #: the node indexes its placed claim holds (empty: none, e.g. while it is created)
    nodes: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class HostOccupancy:
    host: Host
    occupants: tuple[Occupant, ...]


def occupancy(
    region: Region, project_id: str, *, every_host: bool, az: str | None = None
) -> list[HostOccupancy]:
    """The project's DeHs (``every_host``: every DeH and pool host, for an admin), each with
    its servers and the NUMA nodes they hold; released DeHs are left out."""
    store = region.store
    hosts = (
        store.list_hosts(availability_zone=az)
        if every_host
        else store.list_hosts(kind=HostKind.DEH, project_id=project_id, availability_zone=az)
    )
    found = []
    for host in sorted(hosts, key=lambda h: (h.kind is HostKind.POOL, h.name)):
        if host.state is HostState.RELEASED:
            continue
        servers = store.servers_on_host(host.id)
        occupants = tuple(
            Occupant(s, store.claimed_nodes(s.id, ClaimRole.PLACED.value))
            for s in sorted(servers, key=lambda s: s.name)
            if every_host or s.project_id == project_id
        )
        found.append(HostOccupancy(host, occupants))
    return found
