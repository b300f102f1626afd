"""The public pool's free NUMA capacity, in memory, kept in step with the database.

performance.md: a decision must not scan every host. One ``CapacityIndex`` per (AZ, host type)
of the public pool answers "the least loaded host that fits" at once; the database stays the
source of truth and the claim stays one guarded statement, made by ``claims``, whose
implementation detail this is. Several processes may share the database, so this process's
copy can be stale:

- a claim that loses (another process took the room) re-reads that host, and the claim
  service asks again;
- before answering "no capacity", the AZ's pool is re-read once, so room freed elsewhere is
  seen;
- a claim made by this process is applied to the index as the guarded statement applied
  it; a release re-reads the hosts it gave room back.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager

from coldshift.domain.catalog import Catalog, Flavor
from coldshift.domain.groups import GroupRule
from coldshift.domain.hosts import Host, HostKind, HostState
from coldshift.placement import (
    CapacityIndex,
    HostView,
    NoRoom,
    NumaRequest,
    Placement,
    Rejection,
    Strategy,
    closest_rejection,
    group_rule_reason,
    host_view,
    no_room_reason,
    numa_request,
    order_key,
    taken,
)
from coldshift.services.ports import HostReads

_IndexKey = tuple[str, str]  # (availability zone, host type)
#: the server's ECS group rule as it is now (None outside groups): read again at each decision
RuleOf = Callable[[], GroupRule | None]


def _no_rule() -> GroupRule | None:
    return None


class PoolCapacity:
    """The public pool's capacity, per (AZ, host type), as this process last read it."""

    def __init__(self) -> None:
        # One lock for decisions and refreshes: a refresh (read, then put) never interleaves
        # with a decide-and-claim, so the index holds what the database held at some instant.
        self._lock = threading.RLock()
        self._indexes: dict[_IndexKey, CapacityIndex] = {}
        self._where: dict[str, _IndexKey] = {}
        self._loaded_azs: set[str] = set()

    def rebuild(self, store: HostReads) -> None:
        """Read every pool host (at start, after the pool is reconciled with the catalog)."""
        hosts = store.list_hosts(kind=HostKind.POOL)
        with self._lock:
            self._indexes.clear()
            self._where.clear()
            self._loaded_azs.clear()
            for az in sorted({h.availability_zone for h in hosts}):
                self._load_az(az, [h for h in hosts if h.availability_zone == az])

    @contextmanager
    def candidates(
        self, store: HostReads, catalog: Catalog, flavor: Flavor, az: str, rule: RuleOf = _no_rule
    ) -> Iterator[PoolCandidates]:
        """The AZ's pool hosts able to take ``flavor`` and open to the server under its
        group ``rule``, best first, for one claim; other decisions and refreshes of this
        process wait until the claim is over."""
        host_types = [t.host_type for t in catalog.host_types if t.supports(flavor.id)]
        with self._lock:
            yield PoolCandidates(self, store, flavor, az, host_types, rule)

    def views(self, az: str) -> list[HostView]:
        """The AZ's available pool hosts as the index holds them, in the store's order."""
        with self._lock:
            return self._views(az, None)

    def refresh(self, store: HostReads, host_ids: Iterable[str | None]) -> None:
        """Re-read the pool hosts among ``host_ids`` after their capacity changed."""
        with self._lock:
            self._refresh(store, host_ids)

    def _refresh(self, store: HostReads, host_ids: Iterable[str | None]) -> None:
        for host_id in {h for h in host_ids if h is not None and h in self._where}:
            key = self._where[host_id]
            host = store.get_host(host_id)
            if host is None or host.state is not HostState.AVAILABLE:
                self._indexes[key].remove(host_id)
            else:
                self._indexes[key].put(host_view(host))

    def _taken(self, placement: Placement) -> None:
        # The guarded statement took exactly this from each node: no re-read.
        index = self._indexes[self._where[placement.host_id]]
        index.put(taken(index.host(placement.host_id), placement.fit))

    def _best(
        self,
        request: NumaRequest,
        az: str,
        host_types: list[str],
        skip: frozenset[str] = frozenset(),
    ) -> Placement | None:
        """The first choice over every host type that takes the flavor, but the hosts in
        ``skip`` (the best of the bests, by the order choose_host sorts in)."""
        choices: list[tuple[tuple[float, int, str], Placement]] = []
        for host_type in host_types:
            index = self._indexes.get((az, host_type))
            if index is None:
                continue
            best = index.best(request, skip)
            if isinstance(best, Placement):
                choices.append((order_key(index.host(best.host_id), Strategy.SPREAD), best))
        return min(choices, key=lambda choice: choice[0])[1] if choices else None

    def _no_room(
        self, request: NumaRequest, flavor: Flavor, az: str, host_types: list[str]
    ) -> tuple[NoRoom, Rejection | None]:
        """Why nothing fits, and the closest host's numbers (None: no host at all)."""
        # In the store's order, as choose_host saw them: a tie of closest hosts goes the same way.
        hosts = self._views(az, host_types)
        closest = closest_rejection(request, hosts)
        return no_room_reason(closest, flavor.id, hosts), closest if hosts else None

    def _views(self, az: str, host_types: list[str] | None) -> list[HostView]:
        return [
            self._indexes[key].host(host_id)
            for host_id, key in self._where.items()
            if key[0] == az
            and (host_types is None or key[1] in host_types)
            and host_id in self._indexes[key]
        ]

    def _reload_az(self, store: HostReads, az: str) -> None:
        self._load_az(az, store.list_hosts(kind=HostKind.POOL, availability_zone=az))

    def _load_az(self, az: str, hosts: list[Host]) -> None:
        """Replace the AZ's indexes by ``hosts`` (in the store's order, as choose_host saw
        them: equal hosts keep that order)."""
        for key in [k for k in self._indexes if k[0] == az]:
            del self._indexes[key]
        for host_id in [h for h, key in self._where.items() if key[0] == az]:
            del self._where[host_id]
        for host in hosts:
            if host.state is not HostState.AVAILABLE:
                continue
            key = (az, host.host_type)
            index = self._indexes.setdefault(key, CapacityIndex(Strategy.SPREAD))
            index.put(host_view(host))
            self._where[host.id] = key
        self._loaded_azs.add(az)


class PoolCandidates:
    """One claim's view of an AZ's pool, made under the pool's lock (``PoolCapacity.candidates``);
    it answers the claim service's ``Candidates`` questions from the index."""

    def __init__(
        self,
        pool: PoolCapacity,
        store: HostReads,
        flavor: Flavor,
        az: str,
        host_types: list[str],
        rule: RuleOf = _no_rule,
    ) -> None:
        self._pool, self._store, self._flavor = pool, store, flavor
        self._request = numa_request(flavor)
        self._az, self._host_types = az, host_types
        self._rule_of = rule
        self._closed_by: GroupRule | None = None  # the rule that closed every host that fits
        #: the closest host's numbers, once ``no_room`` found no room (a what-if shows them)
        self.closest: Rejection | None = None
        # An AZ first asked for now is read now, and need not be re-read before "no room".
        self._fresh = az not in pool._loaded_azs
        if self._fresh:
            pool._reload_az(store, az)

    def next(self) -> Placement | None:
        rule = self._rule_of()
        skip = rule.closed if rule is not None else frozenset()
        placement = self._pool._best(self._request, self._az, self._host_types, skip)
        if placement is None and not self._fresh:
            # The rare path, at most once a claim: has another process freed room?
            self._pool._reload_az(self._store, self._az)
            self._fresh = True
            placement = self._pool._best(self._request, self._az, self._host_types, skip)
        if placement is None and rule is not None and rule.closed:
            unruled = self._pool._best(self._request, self._az, self._host_types)
            self._closed_by = rule if unruled is not None else None
        return placement

    def name_of(self, host_id: str) -> str:
        """The name of a host this view offered (from the index: no read)."""
        return self._pool._indexes[self._pool._where[host_id]].host(host_id).name

    def no_room(self) -> NoRoom:
        if self._closed_by is not None:
            rule = self._closed_by
            return group_rule_reason(rule.group_id, self._flavor.id, len(rule.closed))
        no_room, self.closest = self._pool._no_room(
            self._request, self._flavor, self._az, self._host_types
        )
        return no_room

    def claimed(self, placement: Placement) -> None:
        self._pool._taken(placement)

    def lost(self, placement: Placement) -> None:
        self._pool._refresh(self._store, [placement.host_id])
