"""The public pool's free NUMA capacity, in memory, kept in step with the database.

performance.md: a decision must not scan every host. One ``CapacityIndex`` per (AZ, host type)
of the public pool answers "the least loaded host that fits" at once, and "no room" with the
closest host's numbers at once too; the database stays the source of truth and the claim stays
one guarded statement, made by ``claims``, whose implementation detail this is. Several
processes may share the database, so this process's copy can be stale:

- a claim that loses (another process took the room) re-reads that host, and the claim
  service asks again;
- before answering "no capacity", the AZ's pool hosts changed since this process last read
  them are read (``PoolReads.pool_changes``), so room freed elsewhere is seen. Every write of
  a host or of its NUMA nodes stamps the host's generation, a removal leaves a stamped
  tombstone, and a read takes a mark first: the next read asks for the generations at or after
  it. The stamps are chosen so that a change committed after a mark is never below it, even
  when its stamp was taken before (PostgreSQL: the writer's transaction id against the
  reader's snapshot xmin; SQLite, one writer at a time: one above the largest generation
  recorded, against that largest + 1); see ``persistence/generations.py``. The read costs
  the hosts changed, not the AZ's hosts;
- a claim made by this process is applied to the index as the guarded statement applied
  it; a release re-reads the hosts it gave room back.

The lock: decide and claim hold it (concurrent claims of this process see each other, as
before), but no read of the database for a refresh does. A refresh reads without it and then
applies what it read under it; a host this process changed meanwhile (a claim, a release,
another refresh) is read again instead, under the lock (a few hosts at most), since what the
refresh read of it may be older. Marks only move forward, per AZ.
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
    Rank,
    Rejection,
    Strategy,
    closest_in,
    group_rule_reason,
    host_view,
    no_room_counted,
    numa_request,
    order_key,
    taken,
)
from coldshift.services.ports import PoolChanges, PoolReads

_IndexKey = tuple[str, str]  # (availability zone, host type)
#: the server's ECS group rule as it is now (None outside groups): read again at each decision
RuleOf = Callable[[], GroupRule | None]


def _no_rule() -> GroupRule | None:
    return None


def store_rank(host: Host) -> Rank:
    """The store's order of hosts (``HostReads.list_hosts``): equal hosts are taken in it."""
    return (host.allocated_at, host.name, host.id)


class PoolCapacity:
    """The public pool's capacity, per (AZ, host type), as this process last read it."""

    def __init__(self) -> None:
        # Held by a decide-and-claim and by the apply of a read; never while a refresh reads
        # (``_catch_up`` lets it go). Not re-entrant: nothing here nests it.
        self._lock = threading.Lock()
        self._indexes: dict[_IndexKey, CapacityIndex] = {}
        #: every pool host read (available or not) and its index's key
        self._where: dict[str, _IndexKey] = {}
        #: per AZ read, the mark of its last read: its next read asks what changed since
        self._marks: dict[str, int] = {}
        #: changes this process made to the index, and the last that changed each host
        self._changes = 0
        self._changed_at: dict[str, int] = {}

    def rebuild(self, store: PoolReads) -> None:
        """Read every pool host (at start, after the pool is reconciled with the catalog)."""
        read = store.pool_changes(None, None)
        with self._lock:
            self._indexes.clear()
            self._where.clear()
            self._marks.clear()
            for host in read.hosts:
                self._put(host)
            for az in {h.availability_zone for h in read.hosts}:
                self._marks[az] = read.mark

    @contextmanager
    def candidates(
        self, store: PoolReads, catalog: Catalog, flavor: Flavor, az: str, rule: RuleOf = _no_rule
    ) -> Iterator[PoolCandidates]:
        """The AZ's pool hosts able to take ``flavor`` and open to the server under its
        group ``rule``, best first, for one claim; other decisions of this process wait
        until the claim is over (but not while this one reads the database)."""
        host_types = [t.host_type for t in catalog.host_types if t.supports(flavor.id)]
        with self._lock:
            # An AZ first asked for now is read now, and need not be re-read before "no room".
            fresh = az not in self._marks
            if fresh:
                self._catch_up(store, az)
            yield PoolCandidates(self, store, flavor, az, host_types, rule, fresh)

    def views(self, az: str) -> list[HostView]:
        """The AZ's available pool hosts as the index holds them, in the store's order."""
        with self._lock:
            indexes = [i for (zone, _), i in self._indexes.items() if zone == az]
            held = [(i.rank(h.host_id), h) for i in indexes for h in i.hosts()]
        return [view for _, view in sorted(held, key=lambda ranked: ranked[0])]

    def refresh(self, store: PoolReads, host_ids: Iterable[str | None]) -> None:
        """Re-read the pool hosts among ``host_ids`` after their capacity changed (the read
        without the lock)."""
        wanted = sorted({h for h in host_ids if h is not None})
        with self._lock:
            wanted = [h for h in wanted if h in self._where]
            start = self._changes
        if not wanted:
            return
        read = [(host_id, store.get_host(host_id)) for host_id in wanted]
        with self._lock:
            again = [host_id for host_id, _ in read if self._changed_since(host_id, start)]
            for host_id, host in read:
                if host_id not in again:
                    self._put_read(host_id, host)
            self._reread(store, again)

    def _catch_up(self, store: PoolReads, az: str) -> None:
        """Read the AZ's pool hosts changed since its last read (all of them the first time)
        and apply them. Called with the lock held, and returns with it held; it is let go
        while the database is read, so other decisions go on meanwhile."""
        since, start = self._marks.get(az), self._changes
        self._lock.release()
        try:
            read = store.pool_changes(az, since)
        finally:
            self._lock.acquire()
        self._apply(store, az, read, start, every_host=since is None)

    def _apply(
        self, store: PoolReads, az: str, read: PoolChanges, start: int, every_host: bool
    ) -> None:
        """Apply a read begun when ``self._changes`` was ``start``: a host changed by this
        process since is read again, since the read may be older than that change."""
        read_ids = {h.id for h in read.hosts}
        gone = set(read.removed)
        if every_host:  # what the index holds of the AZ and the read no longer has
            gone |= {h for h, key in self._where.items() if key[0] == az and h not in read_ids}
        again = {h for h in read_ids | gone if self._changed_since(h, start)}
        for host_id in gone - again:
            self._forget(host_id)
        for host in read.hosts:
            if host.id not in again:
                self._put(host)
        self._reread(store, sorted(again))
        self._marks[az] = max(self._marks.get(az, read.mark), read.mark)

    def _reread(self, store: PoolReads, host_ids: Iterable[str]) -> None:
        """Read these hosts again and apply them, under the lock (a few at most)."""
        for host_id in host_ids:
            self._put_read(host_id, store.get_host(host_id))

    def _put_read(self, host_id: str, host: Host | None) -> None:
        if host is None:
            self._forget(host_id)
        elif host.kind is HostKind.POOL:
            self._put(host)

    def _put(self, host: Host) -> None:
        """The host as read: in its index when available, out of it otherwise."""
        key = (host.availability_zone, host.host_type)
        old_key = self._where.get(host.id)
        if old_key is not None and old_key != key and old_key in self._indexes:
            self._indexes[old_key].remove(host.id)
        self._where[host.id] = key
        if host.state is HostState.AVAILABLE:
            index = self._indexes.setdefault(key, CapacityIndex(Strategy.SPREAD))
            index.put(host_view(host), store_rank(host))
        elif key in self._indexes:
            self._indexes[key].remove(host.id)
        self._changed(host.id)

    def _forget(self, host_id: str) -> None:
        """A host removed from the database."""
        key = self._where.pop(host_id, None)
        if key is not None:
            if key in self._indexes:
                self._indexes[key].remove(host_id)
            self._changed(host_id)

    def _changed(self, host_id: str) -> None:
        self._changes += 1
        self._changed_at[host_id] = self._changes

    def _changed_since(self, host_id: str, start: int) -> bool:
        return self._changed_at.get(host_id, 0) > start

    def _taken(self, placement: Placement) -> None:
        # The guarded statement took exactly this from each node: no re-read.
        index = self._indexes[self._where[placement.host_id]]
        index.put(taken(index.host(placement.host_id), placement.fit))
        self._changed(placement.host_id)

    def _best(
        self,
        request: NumaRequest,
        az: str,
        host_types: list[str],
        skip: frozenset[str] = frozenset(),
    ) -> Placement | None:
        """The first choice over every host type that takes the flavor, but the hosts in
        ``skip`` (the best of the bests, by the order choose_host sorts in)."""
        choices: list[tuple[tuple[tuple[float, int, str], Rank], Placement]] = []
        for host_type in host_types:
            index = self._indexes.get((az, host_type))
            if index is None:
                continue
            best = index.best(request, skip)
            if isinstance(best, Placement):
                host_id = best.host_id
                key = (order_key(index.host(host_id), Strategy.SPREAD), index.rank(host_id))
                choices.append((key, best))
        return min(choices, key=lambda choice: choice[0])[1] if choices else None

    def _no_room(
        self, request: NumaRequest, flavor: Flavor, az: str, host_types: list[str]
    ) -> tuple[NoRoom, Rejection | None]:
        """Why nothing fits, and the closest host's numbers (None: no host at all), from the
        indexes: what ``closest_rejection`` and ``no_room_reason`` give over every host in the
        store's order, without looking at every host."""
        indexes = [i for t in host_types if (i := self._indexes.get((az, t))) is not None]
        closest = closest_in(request, indexes)
        count = sum(len(i) for i in indexes)
        most_free = max((i.most_free_vcpus() for i in indexes if len(i)), default=0)
        if closest is None:
            return no_room_counted(_NO_HOST, flavor.id, 0, 0), None
        return no_room_counted(closest, flavor.id, count, most_free), closest


_NO_HOST = Rejection("no candidate host", 0, 0, 0, 0)


class PoolCandidates:
    """One claim's view of an AZ's pool, made under the pool's lock (``PoolCapacity.candidates``);
    it answers the claim service's ``Candidates`` questions from the index."""

    def __init__(
        self,
        pool: PoolCapacity,
        store: PoolReads,
        flavor: Flavor,
        az: str,
        host_types: list[str],
        rule: RuleOf = _no_rule,
        fresh: bool = False,
    ) -> None:
        self._pool, self._store, self._flavor = pool, store, flavor
        self._request = numa_request(flavor)
        self._az, self._host_types = az, host_types
        self._rule_of = rule
        self._closed_by: GroupRule | None = None  # the rule that closed every host that fits
        #: the closest host's numbers, once ``no_room`` found no room (a what-if shows them)
        self.closest: Rejection | None = None
        self._fresh = fresh  # the AZ was read for this claim: no need to read it again

    def next(self) -> Placement | None:
        rule = self._rule_of()
        skip = rule.closed if rule is not None else frozenset()
        placement = self._pool._best(self._request, self._az, self._host_types, skip)
        if placement is None and not self._fresh:
            # The rare path, at most once a claim: has another process freed room? Only the
            # hosts changed since the last read are read, and without the lock.
            self._pool._catch_up(self._store, self._az)
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
        self._pool._reread(self._store, [placement.host_id])
