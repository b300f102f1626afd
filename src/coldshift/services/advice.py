"""The world a defragmentation search runs on (``placement.advice``), read from the store:
the AZ's pool hosts and the project's DeHs, and the project's guests that a migration could
move (stopped, idle, unlocked), each with the destinations its own migration may take."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from coldshift.domain.catalog import Catalog, Flavor
from coldshift.domain.hosts import ClaimRole, Host, HostKind, HostState, NumaFit
from coldshift.domain.servers import Server, VmState
from coldshift.placement import Strategy, host_view, numa_request
from coldshift.placement.advice import Advice, Destination, Goal, Mover, advise
from coldshift.services.ports import RegionReads, RegionStore

POOL = "pool"


def advice_for(
    store: RegionStore, catalog: Catalog, server: Server, flavor: Flavor, target: Host | None
) -> tuple[Advice | None, dict[str, Host]]:
    """The fewest moves after which ``server`` fits on ``target`` (None: the pool), and the
    hosts the search saw (for the answer to name them)."""
    hosts = _hosts(store, server)
    rule = store.group_rule(server.id)
    closed = rule.closed if rule is not None else frozenset()
    if target is not None:
        goal_to = Destination(target.id, (target.id,), Strategy.PACK)
    else:
        goal_to = pool_destination(catalog, hosts.values(), flavor, closed)
    goal = Goal(numa_request(flavor), goal_to, rule.group_id if rule else None)
    movers = _movers(store, catalog, server, hosts, frozenset(goal_to.host_ids))
    views = {h.id: host_view(h) for h in hosts.values()}
    return advise(goal, movers, views), hosts


def _hosts(store: RegionReads, server: Server) -> dict[str, Host]:
    az = server.availability_zone
    found = store.list_hosts(kind=HostKind.POOL, availability_zone=az)
    found += store.list_hosts(kind=HostKind.DEH, project_id=server.project_id, availability_zone=az)
    return {h.id: h for h in found if h.state is HostState.AVAILABLE}


def pool_destination(
    catalog: Catalog, hosts: Iterable[Host], flavor: Flavor, closed: frozenset[str]
) -> Destination:
    """The pool hosts able to take ``flavor`` and open to its group: the pool chooses among
    them (SPREAD), as a migration without a target DeH does."""
    ids = tuple(
        h.id
        for h in hosts
        if h.kind is HostKind.POOL and takes(catalog, h, flavor) and h.id not in closed
    )
    return Destination(POOL, ids, Strategy.SPREAD)


def deh_destinations(
    catalog: Catalog, hosts: Iterable[Host], flavor: Flavor, closed: frozenset[str]
) -> tuple[Destination, ...]:
    """Each of the DeHs among ``hosts`` that a migration could name for ``flavor``."""
    return tuple(
        Destination(h.id, (h.id,), Strategy.PACK)
        for h in sorted(hosts, key=lambda h: h.name)
        if h.kind is HostKind.DEH and takes(catalog, h, flavor) and h.id not in closed
    )


def movable(server: Server) -> bool:
    """A server a migration would accept now: stopped, idle, unlocked, placed."""
    return (
        server.vm_state == VmState.STOPPED
        and server.task_state is None
        and not server.locked
        and server.host_id is not None
    )


def _movers(
    store: RegionStore,
    catalog: Catalog,
    server: Server,
    hosts: Mapping[str, Host],
    goal_hosts: frozenset[str],
) -> list[Mover]:
    """The project's other servers on the goal's hosts that could be migrated away."""
    movers = []
    for other in store.list_servers(server.project_id):
        if other.id == server.id or not movable(other) or other.host_id not in goal_hosts:
            continue
        flavor = catalog.flavor(other.flavor_id)
        source = hosts.get(other.host_id or "")
        if flavor is None or source is None:
            continue
        mover = _mover(store, catalog, other, flavor, source, hosts)
        if mover is not None:
            movers.append(mover)
    return movers


def _mover(
    store: RegionStore,
    catalog: Catalog,
    server: Server,
    flavor: Flavor,
    source: Host,
    hosts: Mapping[str, Host],
) -> Mover | None:
    nodes = store.claimed_nodes(server.id, ClaimRole.PLACED.value)
    if not nodes:
        return None
    request = numa_request(flavor)
    fit = NumaFit(nodes, request.vcpus_per_node, request.memory_per_node)
    rule = store.group_rule(server.id)
    closed = (rule.closed if rule is not None else frozenset()) | {source.id}
    others = [h for h in hosts.values() if h.id != source.id]
    # Another DeH of the project first (the guest stays dedicated); a DeH's guest may also
    # go to the pool (a migration without a target); a pool guest only to a named DeH.
    destinations = deh_destinations(catalog, others, flavor, closed)
    if source.kind is HostKind.DEH:
        destinations += (pool_destination(catalog, others, flavor, closed),)
    return Mover(server.id, source.id, request, fit, destinations, rule.group_id if rule else None)


def takes(catalog: Catalog, host: Host, flavor: Flavor) -> bool:
    host_type = catalog.host_type(host.host_type)
    return host_type is not None and host_type.supports(flavor.id)
