"""An in-memory index of hosts' NUMA-node free capacity, so that a decision scans no hosts.

``choose_host`` checks every host and sorts the ones that fit: O(n log n) per decision. The
index keeps, for every request shape asked so far (vCPUs and MiB per node, number of nodes),
the hosts that fit that shape in the strategy's order. The best host for a request is then the
first of its shape's list, and changing one host costs O(shapes · log n). Guests come in a few
flavors, so there are few shapes.

When nothing fits, the closest host (``closest_rejection``: the largest free node, by vCPUs
then memory, the first in the hosts' order on a tie) does not depend on the request: the index
keeps every host in that order too, and the most free vCPUs of any host (``no_room_reason``),
so "no room" with its numbers costs O(1) as well, not a scan.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from itertools import islice

from sortedcontainers import SortedList

from coldshift.placement.engine import closest_rejection, order_key
from coldshift.placement.numa_fit import fit_numa, nodes_with_room
from coldshift.placement.types import HostView, NumaFit, NumaRequest, Placement, Rejection, Strategy

#: (vCPUs per node, MiB per node, nodes): requests of one shape fit exactly the same hosts
Shape = tuple[int, int, int]
#: where a host comes among equal ones: the order the caller's hosts come in (choose_host's
#: stable sort keeps it). The caller's own (the store's: allocated at, name, id), or by
#: default the order in which the hosts were first put: (that number, "", "")
Rank = tuple[float, str, str]
#: (the strategy's order key, rank, host id)
_Entry = tuple[tuple[float, int, str], Rank, str]
#: (minus the largest free node's vCPUs, minus its MiB, rank, host id): the closest host first
_Nearest = tuple[int, int, Rank, str]


class CapacityIndex:
    """The hosts of one pool (e.g. one AZ and host type), ordered as ``choose_host`` orders
    them under ``strategy``. Not thread-safe: the caller serialises access."""

    def __init__(self, strategy: Strategy, hosts: Iterable[HostView] = ()) -> None:
        self.strategy = strategy
        self._hosts: dict[str, HostView] = {}
        self._entries: dict[str, _Entry] = {}
        self._fitting: dict[Shape, SortedList[_Entry]] = {}
        self._nearest: SortedList[_Nearest] = SortedList()
        self._vcpus_free: SortedList[int] = SortedList()
        self._inserted = 0
        for host in hosts:
            self.put(host)

    def __len__(self) -> int:
        return len(self._hosts)

    def __contains__(self, host_id: object) -> bool:
        return host_id in self._hosts

    def host(self, host_id: str) -> HostView:
        return self._hosts[host_id]

    def hosts(self) -> list[HostView]:
        """Every host, in the order they were first put."""
        return list(self._hosts.values())

    def rank(self, host_id: str) -> Rank:
        return self._entries[host_id][1]

    def put(self, host: HostView, rank: Rank | None = None) -> None:
        """Add ``host``, or replace the host of the same id with these node capacities; at
        ``rank`` among equal hosts (None: a host already here keeps its own, a new one comes
        after every host put so far)."""
        old = self._hosts.get(host.host_id)
        if old is not None:
            self._drop(old)
        old_entry = self._entries.get(host.host_id)
        if rank is None:
            rank = old_entry[1] if old_entry is not None else (self._next_seq(), "", "")
        entry = (order_key(host, self.strategy), rank, host.host_id)
        for shape, fitting in self._fitting.items():
            if _fits(shape, host):
                fitting.add(entry)
        self._nearest.add(_nearest(host, rank))
        self._vcpus_free.add(host.vcpus_free)
        self._hosts[host.host_id] = host
        self._entries[host.host_id] = entry

    def remove(self, host_id: str) -> None:
        old = self._hosts.get(host_id)
        if old is not None:
            self._drop(old)
            del self._hosts[host_id]
            del self._entries[host_id]

    def best(
        self, request: NumaRequest, skip: frozenset[str] = frozenset()
    ) -> Placement | Rejection:
        """What ``choose_host`` would put first for these hosts but those in ``skip`` (an ECS
        group's hosts: a few), or its Rejection. Looks at most ``len(skip) + 1`` entries."""
        fitting = self._fitting_for(_shape(request))
        first = next((e for e in islice(fitting, len(skip) + 1) if e[2] not in skip), None)
        if first is None:
            # Every host that fits is skipped: the others fit not, and the nearest is closest.
            nearest = self.nearest(skip)
            return closest_rejection(request, [nearest] if nearest is not None else [])
        host = self._hosts[first[2]]
        fit = fit_numa(request, host.nodes)
        assert isinstance(fit, NumaFit), "a shape's list holds only hosts that fit it"
        return Placement(host.host_id, fit)

    def nearest(self, skip: frozenset[str] = frozenset()) -> HostView | None:
        """The host with the largest free NUMA node (vCPUs, then MiB), the first by rank on a
        tie, but those in ``skip``: the host ``closest_rejection`` names when none fits."""
        found = next((n for n in islice(self._nearest, len(skip) + 1) if n[3] not in skip), None)
        return self._hosts[found[3]] if found is not None else None

    def most_free_vcpus(self) -> int:
        """The most free vCPUs of any host (0 when there is none)."""
        return self._vcpus_free[-1] if self._vcpus_free else 0

    def _drop(self, old: HostView) -> None:
        entry = self._entries[old.host_id]
        for shape, fitting in self._fitting.items():
            if _fits(shape, old):
                fitting.remove(entry)
        self._nearest.remove(_nearest(old, entry[1]))
        self._vcpus_free.remove(old.vcpus_free)

    def _fitting_for(self, shape: Shape) -> SortedList[_Entry]:
        fitting = self._fitting.get(shape)
        if fitting is None:
            # The first request of a shape scans every host once; later ones scan none.
            fitting = SortedList(
                self._entries[h.host_id] for h in self._hosts.values() if _fits(shape, h)
            )
            self._fitting[shape] = fitting
        return fitting

    def _next_seq(self) -> int:
        self._inserted += 1
        return self._inserted


def closest_in(request: NumaRequest, indexes: Sequence[CapacityIndex]) -> Rejection | None:
    """``closest_rejection`` over every host of ``indexes`` when none fits, their ranks
    ordering them (the ranks must be comparable across them: the store's); None when they
    hold no host. Looks at one host per index."""
    nearest = [
        _nearest(host, index.rank(host.host_id))
        for index in indexes
        if (host := index.nearest()) is not None
    ]
    if not nearest:
        return None
    host_id = min(nearest)[3]
    host = next(index.host(host_id) for index in indexes if host_id in index)
    return closest_rejection(request, [host])


def _nearest(host: HostView, rank: Rank) -> _Nearest:
    largest = max(host.nodes, key=lambda n: (n.vcpus_free, n.memory_free), default=None)
    if largest is None:
        return (0, 0, rank, host.host_id)
    return (-largest.vcpus_free, -largest.memory_free, rank, host.host_id)


def _shape(request: NumaRequest) -> Shape:
    return (request.vcpus_per_node, request.memory_per_node, request.nodes)


def _fits(shape: Shape, host: HostView) -> bool:
    vcpus, memory, nodes = shape
    return nodes_with_room(vcpus, memory, host.nodes) >= nodes
