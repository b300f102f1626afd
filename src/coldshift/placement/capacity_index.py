"""An in-memory index of hosts' NUMA-node free capacity, so that a decision scans no hosts.

``choose_host`` checks every host and sorts the ones that fit: O(n log n) per decision. The
index keeps, for every request shape asked so far (vCPUs and MiB per node, number of nodes),
the hosts that fit that shape in the strategy's order. The best host for a request is then the
first of its shape's list, and changing one host costs O(shapes · log n). Guests come in a few
flavors, so there are few shapes.
"""

from __future__ import annotations

from collections.abc import Iterable
from itertools import islice

from sortedcontainers import SortedList

from coldshift.placement.engine import closest_rejection, order_key
from coldshift.placement.numa_fit import fit_numa, nodes_with_room
from coldshift.placement.types import HostView, NumaFit, NumaRequest, Placement, Rejection, Strategy

#: (vCPUs per node, MiB per node, nodes): requests of one shape fit exactly the same hosts
Shape = tuple[int, int, int]
#: (the strategy's order key, insertion number, host id): the insertion number breaks a tie of
#: keys as choose_host's stable sort does, by the order in which the hosts were given
_Entry = tuple[tuple[float, int, str], int, str]


class CapacityIndex:
    """The hosts of one pool (e.g. one AZ and host type), ordered as ``choose_host`` orders
    them under ``strategy``. Not thread-safe: the caller serialises access."""

    def __init__(self, strategy: Strategy, hosts: Iterable[HostView] = ()) -> None:
        self.strategy = strategy
        self._hosts: dict[str, HostView] = {}
        self._entries: dict[str, _Entry] = {}
        self._fitting: dict[Shape, SortedList[_Entry]] = {}
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

    def put(self, host: HostView) -> None:
        """Add ``host``, or replace the host of the same id with these node capacities."""
        old = self._hosts.get(host.host_id)
        old_entry = self._entries.get(host.host_id)
        seq = old_entry[1] if old_entry is not None else self._next_seq()
        entry = (order_key(host, self.strategy), seq, host.host_id)
        for shape, fitting in self._fitting.items():
            if old is not None and old_entry is not None and _fits(shape, old):
                fitting.remove(old_entry)
            if _fits(shape, host):
                fitting.add(entry)
        self._hosts[host.host_id] = host
        self._entries[host.host_id] = entry

    def remove(self, host_id: str) -> None:
        old = self._hosts.pop(host_id, None)
        entry = self._entries.pop(host_id, None)
        if old is None or entry is None:
            return
        for shape, fitting in self._fitting.items():
            if _fits(shape, old):
                fitting.remove(entry)

    def best(
        self, request: NumaRequest, skip: frozenset[str] = frozenset()
    ) -> Placement | Rejection:
        """What ``choose_host`` would put first for these hosts but those in ``skip`` (an ECS
        group's hosts: a few), or its Rejection. Looks at most ``len(skip) + 1`` entries."""
        fitting = self._fitting_for(_shape(request))
        first = next((e for e in islice(fitting, len(skip) + 1) if e[2] not in skip), None)
        if first is None:
            others = (h for h in self._hosts.values() if h.host_id not in skip)
            return closest_rejection(request, others)
        host = self._hosts[first[2]]
        fit = fit_numa(request, host.nodes)
        assert isinstance(fit, NumaFit), "a shape's list holds only hosts that fit it"
        return Placement(host.host_id, fit)

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


def _shape(request: NumaRequest) -> Shape:
    return (request.vcpus_per_node, request.memory_per_node, request.nodes)


def _fits(shape: Shape, host: HostView) -> bool:
    vcpus, memory, nodes = shape
    return nodes_with_room(vcpus, memory, host.nodes) >= nodes
