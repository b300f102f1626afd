"""Claiming room for a server: the one entry point of a create's and a migration's claim.

Placement decides (``coldshift.placement``); the store claims with one guarded statement;
this module joins them, for the three places a server may go (a named DeH, any of the
project's auto-placement DeHs, the public pool), under one retry policy: a claim lost to a
concurrent claim tries the next candidate, at most ``MAX_LOST_CLAIMS`` times.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from coldshift.domain.catalog import Catalog, Flavor
from coldshift.domain.groups import GroupRule
from coldshift.domain.hosts import Host, HostKind, HostState
from coldshift.domain.lifecycle import TaskChange
from coldshift.domain.servers import DEDICATED, Server
from coldshift.placement import (
    CONTENTION,
    NoRoom,
    NumaRequest,
    Placement,
    Rejection,
    Strategy,
    choose_host,
    group_rule_reason,
    host_view,
    lone_deh_scope,
    no_room_reason,
    numa_request,
)
from coldshift.services.pool_capacity import PoolCapacity, RuleOf
from coldshift.services.ports import PlacementStore, RegionObserver

#: claims one placement may lose to concurrent claims (of this or another process) before it
#: gives up; every lost claim is followed by a fresher candidate, so losing this often means
#: the room keeps being taken faster than it can be claimed
MAX_LOST_CLAIMS = 32

#: the server's task change made with a claim on the host of this id (None: no change)
ThenChange = Callable[[str], TaskChange | None]
#: the guarded claim (``ClaimStore.claim``): server id, placement, role, the task change
#: made with it; False when a concurrent claim took the room first
Claim = Callable[[str, Placement, str, TaskChange | None], bool]
_DEH_DECISIONS = threading.Lock()


@dataclass(frozen=True, slots=True)
class ClaimedHost:
    """The host a claim went to, and its NUMA nodes the claim took."""

    id: str
    name: str
    kind: HostKind
    driver_name: str
    numa_nodes: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class NamedDedicatedHost:
    """This DeH and no other (checked when the request was accepted: see ``host_targets``)."""

    host_id: str


@dataclass(frozen=True, slots=True)
class AutoPlacedDedicatedHost:
    """Any DeH of the project in the AZ with auto placement on whose host type supports the
    flavor; the most loaded that fits first, to keep whole DeHs free."""

    project_id: str


@dataclass(frozen=True, slots=True)
class PublicPool:
    """The AZ's public pool; the least loaded host that fits first."""


PUBLIC_POOL = PublicPool()
Where = NamedDedicatedHost | AutoPlacedDedicatedHost | PublicPool


class ClaimContext(Protocol):
    """What a claim reads and writes (``Region`` is one)."""

    @property
    def store(self) -> PlacementStore: ...

    @property
    def catalog(self) -> Catalog: ...

    @property
    def pool(self) -> PoolCapacity: ...

    @property
    def observer(self) -> RegionObserver: ...


class NoCapacity(Exception):
    def __init__(self, reason: str, cause: str, closest: Rejection | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        #: ``placement.reasons``' word for it, as metrics count rejections
        self.cause = cause
        #: the closest host's numbers (None when no host could take the flavor, or a group
        #: rule, not room, closed them)
        self.closest = closest


class Candidates(Protocol):
    """Where one claim may go, best first. The claim loop asks for a placement, claims it,
    and says how the claim went, so that the next answer accounts for it."""

    def next(self) -> Placement | None:
        """The best placement left to try; None when nothing fits (after any re-read)."""
        ...

    def no_room(self) -> NoRoom:
        """Why nothing fits, with the numbers: asked once ``next`` answered None."""
        ...

    def claimed(self, placement: Placement) -> None: ...

    def lost(self, placement: Placement) -> None: ...


def where_created(server: Server) -> Where:
    """Where a new server's room is claimed, from the tenancy its create resolved."""
    if server.tenancy != DEDICATED:
        return PUBLIC_POOL
    if server.dedicated_host_id:
        return NamedDedicatedHost(server.dedicated_host_id)
    return AutoPlacedDedicatedHost(server.project_id)


def claim_room(
    region: ClaimContext,
    server_id: str,
    flavor: Flavor,
    *,
    availability_zone: str,
    where: Where,
    role: str,
    then: ThenChange,
) -> ClaimedHost:
    """Claim room for ``flavor`` in ``where`` under ``role``, making the server's task change
    ``then`` in the claim's transaction; the host it went to. Raises NoCapacity with the
    numbers when nothing fits, or with the ECS group's rule when it closed every host that
    fits. (The claim itself re-checks the rule: see ClaimStore.claim.) The region's observer
    is told the outcome."""
    kind = HostKind.POOL if isinstance(where, PublicPool) else HostKind.DEH
    claim = region.store.claim
    try:
        host = _decide(
            region,
            server_id,
            flavor,
            availability_zone,
            where,
            lambda candidates: claim_first(claim, server_id, flavor, candidates, role, then),
        )
    except NoCapacity as exc:
        region.observer.rejected(availability_zone, kind.value, exc.cause)
        raise
    region.observer.placed(availability_zone, kind.value)
    return host


def preview_room(
    region: ClaimContext, server_id: str, flavor: Flavor, *, availability_zone: str, where: Where
) -> ClaimedHost:
    """Where ``claim_room`` would claim now, decided by the same candidates, claiming nothing
    (a what-if; not a placement decision, so the observer is not told). Raises NoCapacity as
    the claim would; its ``closest`` holds the numbers."""
    return _decide(region, server_id, flavor, availability_zone, where, _first_choice)


def _first_choice(candidates: Candidates) -> Placement:
    placement = candidates.next()
    if placement is None:
        no_room = candidates.no_room()  # the pool's numbers are found by this
        raise NoCapacity(no_room.reason, no_room.cause, getattr(candidates, "closest", None))
    return placement


def _decide(
    region: ClaimContext,
    server_id: str,
    flavor: Flavor,
    availability_zone: str,
    where: Where,
    decide: Callable[[Candidates], Placement],
) -> ClaimedHost:
    """The candidates of ``where`` for ``flavor``, and the host ``decide`` picks among them."""
    store = region.store
    rule = _rule_of(store, server_id)
    if isinstance(where, PublicPool):
        with region.pool.candidates(store, region.catalog, flavor, availability_zone, rule) as pool:
            placement = decide(pool)
            name = pool.name_of(placement.host_id)
        nodes = placement.fit.node_indexes
        return ClaimedHost(placement.host_id, name, HostKind.POOL, name, nodes)
    load = _dedicated_hosts(store, region.catalog, flavor, availability_zone, where)
    # Decide and claim under one in-process lock, so that concurrent jobs of this process see
    # each other's claims (exact packing and best fit); across processes the guarded claim
    # alone keeps capacity exact, and once every DeH that fit lost its claim they are re-read.
    with _DEH_DECISIONS:
        dehs = _ScannedHosts(load, numa_request(flavor), flavor.id, rule)
        placement = decide(dehs)
    host = dehs.hosts[placement.host_id]
    nodes = placement.fit.node_indexes
    return ClaimedHost(host.id, host.name, host.kind, host.driver_name, nodes)


def claim_first(
    claim: Claim,
    server_id: str,
    flavor: Flavor,
    candidates: Candidates,
    role: str,
    then: ThenChange,
) -> Placement:
    """The one retry policy: claim the best candidate; a lost claim tries the next, at most
    ``MAX_LOST_CLAIMS`` times. Raises NoCapacity when nothing fits or too many claims lost."""
    for _ in range(MAX_LOST_CLAIMS):
        placement = candidates.next()
        if placement is None:
            no_room = candidates.no_room()
            raise NoCapacity(no_room.reason, no_room.cause)
        if claim(server_id, placement, role, then(placement.host_id)):
            candidates.claimed(placement)
            return placement
        candidates.lost(placement)
    raise NoCapacity(
        f"capacity for flavor {flavor.id} kept being taken by concurrent claims", CONTENTION
    )


class _ScannedHosts:
    """Candidates from a fresh read of the DeHs, which are few (a project's, or one named).
    The DeHs that fit are tried in order; once every one of them lost, they are read again."""

    def __init__(
        self, load: Callable[[], list[Host]], request: NumaRequest, flavor_id: str, rule: RuleOf
    ):
        self.hosts: dict[str, Host] = {}
        self._load, self._request, self._flavor_id = load, request, flavor_id
        self._rule_of = rule
        self._queue: deque[Placement] = deque()
        self._no_room = NoRoom("", "")
        self.closest: Rejection | None = None

    def next(self) -> Placement | None:
        if not self._queue:
            self._read()
        return self._queue.popleft() if self._queue else None

    def no_room(self) -> NoRoom:
        return self._no_room

    def claimed(self, placement: Placement) -> None:
        """Nothing to keep: every claim reads the DeHs afresh."""

    def lost(self, placement: Placement) -> None:
        """The next placement in the order is as good a guess as a re-read."""

    def _read(self) -> None:
        self.hosts = {
            h.id: h
            for h in self._load()
            if h.state is HostState.AVAILABLE and h.draining_job is None
        }
        views = [host_view(h) for h in self.hosts.values()]
        choice = choose_host(self._request, views, Strategy.PACK)
        if isinstance(choice, Rejection):
            self.closest = choice if views else None
            scope = lone_deh_scope(list(self.hosts.values()))
            self._no_room = no_room_reason(choice, self._flavor_id, views, scope)
            return
        rule = self._rule_of()
        open_ = [p for p in choice if rule is None or p.host_id not in rule.closed]
        if not open_ and rule is not None:
            self._no_room = group_rule_reason(rule.group_id, self._flavor_id, len(rule.closed))
        self._queue.extend(open_)


def _rule_of(store: PlacementStore, server_id: str) -> RuleOf:
    """The server's group rule, read again at each decision (a lost claim may have lost to
    another member); outside groups nothing is read again."""
    if store.group_rule(server_id) is None:
        return lambda: None

    def current() -> GroupRule | None:
        return store.group_rule(server_id)

    return current


def _dedicated_hosts(
    store: PlacementStore,
    catalog: Catalog,
    flavor: Flavor,
    az: str,
    where: NamedDedicatedHost | AutoPlacedDedicatedHost,
) -> Callable[[], list[Host]]:
    """How to read the DeHs ``where`` names, as they are now."""
    if isinstance(where, NamedDedicatedHost):
        host_id = where.host_id

        def named() -> list[Host]:
            host = store.get_host(host_id)
            return [host] if host is not None else []

        return named
    project_id = where.project_id

    def auto_placed() -> list[Host]:
        hosts = store.list_hosts(kind=HostKind.DEH, project_id=project_id, availability_zone=az)
        return [h for h in hosts if h.auto_placement == "on" and _takes(catalog, h, flavor)]

    return auto_placed


def _takes(catalog: Catalog, host: Host, flavor: Flavor) -> bool:
    host_type = catalog.host_type(host.host_type)
    return host_type is not None and host_type.supports(flavor.id)
