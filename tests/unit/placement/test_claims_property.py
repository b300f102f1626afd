"""Property tests: random claims and releases decided by fit_numa/choose_host never overcommit.

A tiny mutable model of the region's NUMA capacity is driven by the pure placement functions,
the way the services drive the database: decide on a frozen snapshot, then take the chosen
share off the chosen nodes; a release gives one earlier claim back exactly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import combinations

from hypothesis import given, settings
from hypothesis import strategies as st

from coldshift.domain.hosts import NumaNode
from coldshift.placement import (
    HostView,
    NumaFit,
    NumaRequest,
    Rejection,
    Strategy,
    choose_host,
    fit_numa,
)

SETTINGS = settings(max_examples=200, deadline=None)


@dataclass
class Node:
    index: int
    vcpus_total: int
    memory_total: int
    vcpus_free: int
    memory_free: int

    def view(self) -> NumaNode:
        return NumaNode(
            self.index, self.vcpus_total, self.memory_total, self.vcpus_free, self.memory_free
        )


@dataclass
class ModelHost:
    name: str
    nodes: list[Node]

    def view(self) -> HostView:
        return HostView(f"id-{self.name}", self.name, tuple(n.view() for n in self.nodes))


@dataclass(frozen=True)
class Claim:
    host: str
    node_indexes: tuple[int, ...]
    vcpus_per_node: int
    memory_per_node: int


@dataclass
class Region:
    hosts: dict[str, ModelHost]
    live: list[Claim] = field(default_factory=list)

    def snapshot(self) -> list[HostView]:
        return [h.view() for h in self.hosts.values()]

    def claim(self, host_id: str, fit: NumaFit) -> Claim:
        host = self.hosts[host_id.removeprefix("id-")]
        for i in fit.node_indexes:
            host.nodes[i].vcpus_free -= fit.vcpus_per_node
            host.nodes[i].memory_free -= fit.memory_per_node
        claim = Claim(host.name, fit.node_indexes, fit.vcpus_per_node, fit.memory_per_node)
        self.live.append(claim)
        return claim

    def release(self, claim: Claim) -> None:
        self.live.remove(claim)
        host = self.hosts[claim.host]
        for i in claim.node_indexes:
            host.nodes[i].vcpus_free += claim.vcpus_per_node
            host.nodes[i].memory_free += claim.memory_per_node

    def check_invariants(self) -> None:
        used: dict[tuple[str, int], list[int]] = {}
        for c in self.live:
            for i in c.node_indexes:
                cpu_mem = used.setdefault((c.host, i), [0, 0])
                cpu_mem[0] += c.vcpus_per_node
                cpu_mem[1] += c.memory_per_node
        for host in self.hosts.values():
            for node in host.nodes:
                assert 0 <= node.vcpus_free <= node.vcpus_total
                assert 0 <= node.memory_free <= node.memory_total
                cpu, mem = used.get((host.name, node.index), (0, 0))
                assert node.vcpus_free == node.vcpus_total - cpu
                assert node.memory_free == node.memory_total - mem


# --- strategies ----------------------------------------------------------------------------------

node_sizes = st.tuples(st.integers(0, 16), st.sampled_from([0, 1024, 2048, 4096, 8192]))


@st.composite
def regions(draw: st.DrawFn) -> Region:
    count = draw(st.integers(1, 3))
    hosts: dict[str, ModelHost] = {}
    for h in range(count):
        sizes = draw(st.lists(node_sizes, min_size=1, max_size=4))
        nodes = [Node(i, cpu, mem, cpu, mem) for i, (cpu, mem) in enumerate(sizes)]
        hosts[f"host-{h}"] = ModelHost(f"host-{h}", nodes)
    return Region(hosts)


@st.composite
def requests(draw: st.DrawFn) -> NumaRequest:
    numa_nodes = draw(st.sampled_from([1, 1, 2, 3]))
    per_node_cpu = draw(st.integers(1, 10))
    per_node_mem = draw(st.sampled_from([0, 512, 1024, 2048, 4096]))
    return NumaRequest(per_node_cpu * numa_nodes, per_node_mem * numa_nodes, numa_nodes)


#: ("claim", request, strategy) or ("release", which live claim, modulo their number)
operations = st.lists(
    st.one_of(
        st.tuples(st.just("claim"), requests(), st.sampled_from(list(Strategy))),
        st.tuples(st.just("release"), st.integers(0, 1000), st.none()),
    ),
    max_size=25,
)


def fits_somewhere(request: NumaRequest, hosts: list[HostView]) -> bool:
    """Brute force: is there a host with ``request.nodes`` distinct nodes that each hold a share?"""
    for host in hosts:
        for node_set in combinations(host.nodes, request.nodes):
            if all(
                n.vcpus_free >= request.vcpus_per_node and n.memory_free >= request.memory_per_node
                for n in node_set
            ):
                return True
    return False


def run(region: Region, ops: list[tuple[str, object, object]]) -> None:
    region.check_invariants()
    for kind, arg, strategy in ops:
        if kind == "release":
            if region.live:
                assert isinstance(arg, int)
                region.release(region.live[arg % len(region.live)])
        else:
            assert isinstance(arg, NumaRequest) and isinstance(strategy, Strategy)
            snapshot = region.snapshot()
            decision = choose_host(arg, snapshot, strategy)
            if isinstance(decision, Rejection):
                assert not fits_somewhere(arg, snapshot)
            else:
                assert decision, "choose_host returns a Rejection, never an empty list"
                best = decision[0]
                view = next(h for h in snapshot if h.host_id == best.host_id)
                decided_on = {n.index: n for n in view.nodes}
                assert len(set(best.fit.node_indexes)) == arg.nodes
                if arg.nodes == 1:
                    (only,) = best.fit.node_indexes
                    assert best.fit.vcpus_per_node == arg.vcpus
                    assert best.fit.memory_per_node == arg.memory_mb
                    assert decided_on[only].vcpus_free >= arg.vcpus
                    assert decided_on[only].memory_free >= arg.memory_mb
                for i in best.fit.node_indexes:
                    assert decided_on[i].vcpus_free >= best.fit.vcpus_per_node
                    assert decided_on[i].memory_free >= best.fit.memory_per_node
                region.claim(best.host_id, best.fit)
        region.check_invariants()


@SETTINGS
@given(region=regions(), ops=operations)
def test_claims_and_releases_never_overcommit(
    region: Region, ops: list[tuple[str, object, object]]
) -> None:
    run(region, ops)


@SETTINGS
@given(region=regions(), ops=operations)
def test_releasing_everything_restores_every_node(
    region: Region, ops: list[tuple[str, object, object]]
) -> None:
    run(region, ops)

    for claim in list(reversed(region.live)):
        region.release(claim)
        region.check_invariants()

    for host in region.hosts.values():
        for node in host.nodes:
            assert (node.vcpus_free, node.memory_free) == (node.vcpus_total, node.memory_total)


@SETTINGS
@given(region=regions(), ops=operations, request_=requests())
def test_every_fitting_host_is_offered_and_only_those(
    region: Region, ops: list[tuple[str, object, object]], request_: NumaRequest
) -> None:
    run(region, ops)
    snapshot = region.snapshot()

    decision = choose_host(request_, snapshot, Strategy.SPREAD)

    fitting = {h.host_id for h in snapshot if fits_somewhere(request_, [h])}
    offered = [] if isinstance(decision, Rejection) else [p.host_id for p in decision]
    assert len(offered) == len(set(offered))
    assert set(offered) == fitting


@SETTINGS
@given(region=regions(), ops=operations, request_=requests())
def test_single_node_fit_is_the_best_fit(
    region: Region, ops: list[tuple[str, object, object]], request_: NumaRequest
) -> None:
    run(region, ops)
    single = NumaRequest(request_.vcpus_per_node, request_.memory_per_node, 1)

    for host in region.snapshot():
        fit = fit_numa(single, host.nodes)
        candidates = [
            (n.vcpus_free, n.memory_free, n.index)
            for n in host.nodes
            if n.vcpus_free >= single.vcpus and n.memory_free >= single.memory_mb
        ]
        if not candidates:
            assert isinstance(fit, Rejection)
            continue
        assert isinstance(fit, NumaFit)
        assert fit.node_indexes == (min(candidates)[2],)
