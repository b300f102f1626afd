"""Stateful property: the store's NUMA capacity stays exact through servers' and migrations' lives.

A hypothesis state machine drives the real ``SqlRegionStore`` (SQLite and PostgreSQL) through the
life cycle of servers and cold migrations: place a server ("placed"), start a migration (an
"incoming" claim on another host), abort it, switch over ("incoming" → "placed", "placed" →
"outgoing"), confirm (give "outgoing" back), delete the server, and release hosts. Placements are
decided as the services decide them (``choose_host`` on a fresh snapshot), and some claims are
aimed at hand-picked nodes that may lack room, or not exist, to exercise the refusal path.

Beside the database the machine keeps a plain model: every claim row it expects and every node's
expected free capacity. After every step:

* no node's free vCPUs or memory is below 0, in the model or in the database;
* every node's free capacity is its size minus the claims held on it (any role), in the model
  and in the database, and the database's claim rows are exactly the model's;
* ``invariants.check`` reports no capacity drift (invariant 1);

and on every claim: it succeeds iff the model says each chosen node has room, and a refused
claim changes nothing.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import combinations

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import select

from coldshift.domain.errors import HostInUse
from coldshift.domain.hosts import Host, HostState
from coldshift.persistence.db import Database
from coldshift.persistence.invariants import check
from coldshift.persistence.region_store import SqlRegionStore
from coldshift.persistence.tables import claims, numa_nodes
from coldshift.placement import (
    HostView,
    NumaFit,
    NumaRequest,
    Placement,
    Rejection,
    Strategy,
    choose_host,
    host_view,
)
from tests.integration.hosts import deh_with_nodes

PLACED, INCOMING, OUTGOING = "placed", "incoming", "outgoing"
ROLES = (PLACED, INCOMING, OUTGOING)

NodeKey = tuple[str, int]
MAX_HOSTS = 6

#: nodes of a few vCPUs, so that a few servers fill them and claims get refused
node_sizes = st.tuples(st.integers(2, 12), st.sampled_from([4096, 8192, 16384]))
host_shapes = st.lists(node_sizes, min_size=1, max_size=3)
requests = st.builds(
    lambda nodes, cpu, mem: NumaRequest(cpu * nodes, mem * nodes, nodes),
    st.sampled_from([1, 1, 2]),
    st.integers(1, 4),
    st.sampled_from([512, 1024, 2048, 4096]),
)
#: index 3 never exists (hosts have at most 3 nodes): the claim must be refused
chosen_nodes = st.lists(st.integers(0, 3), min_size=1, max_size=3, unique=True).map(tuple)
chosen_vcpus = st.integers(1, 13)
chosen_memory = st.sampled_from([512, 2048, 4096, 8192, 16384, 32768])


@dataclass(frozen=True, slots=True)
class Share:
    """One expected claims row: a server's share of one NUMA node, in one role."""

    server_id: str
    role: str
    host_id: str
    node_index: int
    vcpus: int
    memory_mb: int


@dataclass
class Model:
    """Expected claims and free capacity, updated by hand so it can disagree with the store."""

    size: dict[NodeKey, tuple[int, int]] = field(default_factory=dict)
    free: dict[NodeKey, tuple[int, int]] = field(default_factory=dict)
    available: set[str] = field(default_factory=set)
    shares: list[Share] = field(default_factory=list)

    def add_host(self, host: Host) -> None:
        self.available.add(host.id)
        for node in host.nodes:
            self.size[(host.id, node.index)] = (node.vcpus_total, node.memory_total)
            self.free[(host.id, node.index)] = (node.vcpus_free, node.memory_free)

    def has_room(self, placement: Placement) -> bool:
        fit = placement.fit
        return placement.host_id in self.available and all(
            (placement.host_id, i) in self.free
            and self.free[(placement.host_id, i)][0] >= fit.vcpus_per_node
            and self.free[(placement.host_id, i)][1] >= fit.memory_per_node
            for i in fit.node_indexes
        )

    def fits_anywhere(self, request: NumaRequest, host_ids: Iterable[str]) -> bool:
        """Brute force over every node set of every host, independent of ``fit_numa``."""
        for host_id in host_ids:
            indexes = sorted(i for h, i in self.free if h == host_id)
            for node_set in combinations(indexes, request.nodes):
                fit = NumaFit(node_set, request.vcpus_per_node, request.memory_per_node)
                if self.has_room(Placement(host_id, fit)):
                    return True
        return False

    def take(self, server_id: str, role: str, placement: Placement) -> None:
        fit = placement.fit
        for i in fit.node_indexes:
            share = Share(
                server_id, role, placement.host_id, i, fit.vcpus_per_node, fit.memory_per_node
            )
            self.shares.append(share)
            self._adjust(share, -1)

    def give_back(self, server_id: str, role: str | None = None) -> None:
        for share in self.held(server_id, role):
            self.shares.remove(share)
            self._adjust(share, +1)

    def switch_over(self, server_id: str) -> bool:
        if not self.held(server_id, INCOMING):
            return False
        renamed = {PLACED: OUTGOING, INCOMING: PLACED}
        self.shares = [
            Share(s.server_id, renamed[s.role], s.host_id, s.node_index, s.vcpus, s.memory_mb)
            if s.server_id == server_id and s.role in renamed
            else s
            for s in self.shares
        ]
        return True

    def held(self, server_id: str, role: str | None = None) -> list[Share]:
        return [s for s in self.shares if s.server_id == server_id and role in (None, s.role)]

    def servers_with(self, role: str, without: Sequence[str] = ()) -> list[str]:
        """Servers holding a ``role`` claim and none of the ``without`` roles, in a stable order."""
        holding = {s.server_id for s in self.shares if s.role == role}
        excluded = {s.server_id for s in self.shares if s.role in without}
        return sorted(holding - excluded)

    def _adjust(self, share: Share, sign: int) -> None:
        key = (share.host_id, share.node_index)
        cpu, mem = self.free[key]
        self.free[key] = (cpu + sign * share.vcpus, mem + sign * share.memory_mb)


def _pick(data: st.DataObject, choices: Sequence[str]) -> str:
    return data.draw(st.sampled_from(sorted(choices)))


class ClaimsMachine(RuleBasedStateMachine):
    def __init__(self, db: Database) -> None:
        super().__init__()
        self.db = db
        self.store = SqlRegionStore(db, time.time)
        # Every run shares the test's database: unique ids keep runs from seeing each other.
        self.prefix = uuid.uuid4().hex[:12]
        self.model = Model()
        self.host_ids: list[str] = []
        self.server_ids: list[str] = []

    # ---- set-up ------------------------------------------------------------------------------

    # At least two hosts, so that a migration has somewhere to go.
    @initialize(shapes=st.lists(host_shapes, min_size=2, max_size=3))
    def add_hosts(self, shapes: list[list[tuple[int, int]]]) -> None:
        new = [
            deh_with_nodes(f"{self.prefix}-h{len(self.host_ids) + i}", s)
            for i, s in enumerate(shapes)
        ]
        self.store.add_hosts(new)
        for host in new:
            self.model.add_host(host)
            self.host_ids.append(host.id)

    # Released hosts take no claims: new ones keep the region from running dry.
    @precondition(lambda self: len(self.host_ids) < MAX_HOSTS)
    @rule(shape=host_shapes)
    def add_host(self, shape: list[tuple[int, int]]) -> None:
        self.add_hosts([shape])

    # ---- a server's life ---------------------------------------------------------------------

    @rule(request=requests, strategy=st.sampled_from(list(Strategy)))
    def create_server(self, request: NumaRequest, strategy: Strategy) -> None:
        self._place(self._new_server(), request, strategy, PLACED, self.host_ids)

    @rule(data=st.data(), nodes=chosen_nodes, vcpus=chosen_vcpus, memory=chosen_memory)
    def create_server_on_chosen_nodes(
        self, data: st.DataObject, nodes: tuple[int, ...], vcpus: int, memory: int
    ) -> None:
        placement = Placement(_pick(data, self.host_ids), NumaFit(nodes, vcpus, memory))
        self._claim(self._new_server(), placement, PLACED)

    @precondition(lambda self: self.model.servers_with(PLACED, without=(INCOMING, OUTGOING)))
    @rule(data=st.data(), strategy=st.sampled_from(list(Strategy)))
    def start_migration(self, data: st.DataObject, strategy: Strategy) -> None:
        server_id = _pick(data, self.model.servers_with(PLACED, without=(INCOMING, OUTGOING)))
        sources = {s.host_id for s in self.model.held(server_id, PLACED)}
        assert self.store.claimed_host(server_id, PLACED) in sources
        targets = [h for h in self.host_ids if h not in sources]
        self._place(server_id, self._flavor_of(server_id), strategy, INCOMING, targets)

    @precondition(lambda self: self.model.servers_with(PLACED))
    @rule(data=st.data(), nodes=chosen_nodes)
    def start_migration_to_chosen_nodes(self, data: st.DataObject, nodes: tuple[int, ...]) -> None:
        # Any server holding a placed claim, even mid-migration: whatever order its callers use,
        # the store must keep capacity exact.
        server_id = _pick(data, self.model.servers_with(PLACED))
        flavor = self._flavor_of(server_id)
        fit = NumaFit(nodes, flavor.vcpus_per_node, flavor.memory_per_node)
        self._claim(server_id, Placement(_pick(data, self.host_ids), fit), INCOMING)

    @precondition(lambda self: self.model.servers_with(INCOMING))
    @rule(data=st.data())
    def abort_migration(self, data: st.DataObject) -> None:
        server_id = _pick(data, self.model.servers_with(INCOMING))
        self.store.release_claims(server_id, INCOMING)
        self.model.give_back(server_id, INCOMING)
        assert self.store.claimed_host(server_id, INCOMING) is None

    @precondition(lambda self: self.model.servers_with(INCOMING))
    @rule(data=st.data())
    def switch_over(self, data: st.DataObject) -> None:
        server_id = _pick(data, self.model.servers_with(INCOMING))
        targets = {s.host_id for s in self.model.held(server_id, INCOMING)}
        target = self.store.claimed_host(server_id, INCOMING)
        assert target in targets
        assert self.store.switch_over(server_id, None)
        assert self.model.switch_over(server_id)
        assert self.store.claimed_host(server_id, PLACED) in targets
        assert self.store.claimed_host(server_id, INCOMING) is None

    @precondition(lambda self: self._without_incoming())
    @rule(data=st.data())
    def switch_over_without_incoming(self, data: st.DataObject) -> None:
        # Already switched, aborted, deleted or never migrated: the switch must be a no-op.
        server_id = _pick(data, self._without_incoming())
        before = self._db_state()
        assert not self.store.switch_over(server_id, None)
        assert not self.model.switch_over(server_id)
        assert self._db_state() == before

    @precondition(lambda self: self.model.servers_with(OUTGOING))
    @rule(data=st.data())
    def confirm(self, data: st.DataObject) -> None:
        server_id = _pick(data, self.model.servers_with(OUTGOING))
        self.store.release_claims(server_id, OUTGOING)
        self.model.give_back(server_id, OUTGOING)

    @precondition(lambda self: self.server_ids)
    @rule(data=st.data(), through_delete=st.booleans())
    def delete_server(self, data: st.DataObject, through_delete: bool) -> None:
        # Deleted servers stay pickable: deleting twice must be harmless.
        server_id = _pick(data, self.server_ids)
        if through_delete:
            self.store.delete_server(server_id)
        else:
            self.store.release_claims(server_id)
        self.model.give_back(server_id)

    @precondition(lambda self: self.server_ids)
    @rule(data=st.data(), role=st.sampled_from(ROLES))
    def release_one_role_twice(self, data: st.DataObject, role: str) -> None:
        server_id = _pick(data, self.server_ids)
        self.store.release_claims(server_id, role)
        self.model.give_back(server_id, role)
        after_first = self._db_state()
        self.store.release_claims(server_id, role)
        assert self._db_state() == after_first

    # Keep two hosts besides the one released, so that placements and migrations still happen.
    @precondition(lambda self: len(self.model.available) > 2)
    @rule(data=st.data())
    def release_host(self, data: st.DataObject) -> None:
        host_id = _pick(data, list(self.model.available))
        in_use = any(s.host_id == host_id for s in self.model.shares)
        if in_use:
            with pytest.raises(HostInUse):
                self.store.release_host(host_id)
        else:
            self.store.release_host(host_id)
            self.model.available.discard(host_id)
        host = self.store.get_host(host_id)
        assert host is not None
        assert (host.state is HostState.AVAILABLE) == in_use

    # ---- invariants --------------------------------------------------------------------------

    @invariant()
    def model_is_consistent(self) -> None:
        used: dict[NodeKey, tuple[int, int]] = {k: (0, 0) for k in self.model.size}
        for s in self.model.shares:
            cpu, mem = used[(s.host_id, s.node_index)]
            used[(s.host_id, s.node_index)] = (cpu + s.vcpus, mem + s.memory_mb)
        for key, (cpu_total, mem_total) in self.model.size.items():
            cpu_free, mem_free = self.model.free[key]
            assert cpu_free >= 0 and mem_free >= 0, key
            assert (cpu_free, mem_free) == (cpu_total - used[key][0], mem_total - used[key][1])

    @invariant()
    def database_matches_model(self) -> None:
        nodes, rows = self._db_state()
        assert all(cpu >= 0 and mem >= 0 for cpu, mem in nodes.values()), nodes
        assert nodes == self.model.free
        assert rows == Counter(self.model.shares)
        # And as the services see it, through the store's own reads.
        hosts = self.store.list_hosts(host_ids=self.host_ids)
        assert {(h.id, n.index): (n.vcpus_free, n.memory_free) for h in hosts for n in h.nodes} == (
            self.model.free
        )

    @invariant()
    def no_capacity_drift(self) -> None:
        # Servers are not inserted, so placement drift (invariant 2) is expected and ignored.
        assert [str(d) for d in check(self.db) if d.invariant == 1] == []

    def teardown(self) -> None:
        # Leave the shared database as found: check() reads every node, so leftovers from earlier
        # runs would make each step (and shrinking) slower and slower. No assertion here, so a
        # failing step's error is never masked by one raised while cleaning up after it.
        for server_id in self.server_ids:
            self.store.release_claims(server_id)
        self.store.remove_hosts(self.host_ids)

    # ---- helpers -----------------------------------------------------------------------------

    def _new_server(self) -> str:
        server_id = f"{self.prefix}-s{len(self.server_ids)}"
        self.server_ids.append(server_id)
        return server_id

    def _without_incoming(self) -> list[str]:
        return sorted(set(self.server_ids) - set(self.model.servers_with(INCOMING)))

    def _flavor_of(self, server_id: str) -> NumaRequest:
        # One host's shares only: a chosen-node migration may have left it placed on two.
        first, *_ = held = self.model.held(server_id, PLACED)
        nodes = sum(1 for s in held if s.host_id == first.host_id)
        return NumaRequest(first.vcpus * nodes, first.memory_mb * nodes, nodes)

    def _place(
        self,
        server_id: str,
        request: NumaRequest,
        strategy: Strategy,
        role: str,
        candidates: Sequence[str],
    ) -> None:
        """Decide on a fresh snapshot and claim, as the services do."""
        views: list[HostView] = [
            host_view(h)
            for h in self.store.list_hosts(host_ids=candidates)
            if h.state is HostState.AVAILABLE
        ]
        decision = choose_host(request, views, strategy)
        if isinstance(decision, Rejection):
            assert not self.model.fits_anywhere(request, self.model.available & set(candidates))
            return
        assert all(self.model.has_room(p) for p in decision)
        self._claim(server_id, decision[0], role)

    def _claim(self, server_id: str, placement: Placement, role: str) -> None:
        expected = self.model.has_room(placement)
        before = self._db_state()
        assert self.store.claim(server_id, placement, role) == expected
        if expected:
            self.model.take(server_id, role, placement)
        else:
            assert self._db_state() == before

    def _db_state(self) -> tuple[dict[NodeKey, tuple[int, int]], Counter[Share]]:
        """This run's nodes' free capacity and claim rows, read straight from the tables."""
        with self.db.read() as conn:
            node_rows = conn.execute(
                select(numa_nodes).where(numa_nodes.c.host_id.in_(self.host_ids))
            ).all()
            claim_rows = conn.execute(
                select(claims).where(claims.c.host_id.in_(self.host_ids))
            ).all()
        nodes = {(n.host_id, n.node_index): (n.vcpus_free, n.memory_free) for n in node_rows}
        shares = Counter(
            Share(c.server_id, c.role, c.host_id, c.node_index, c.vcpus, c.memory_mb)
            for c in claim_rows
        )
        return nodes, shares


def test_claims_stay_exact_through_migrations(db: Database) -> None:
    # A factory is documented as accepted; hypothesis's annotation only names the class form.
    run_state_machine_as_test(
        lambda: ClaimsMachine(db),  # type: ignore[arg-type]
        settings=settings(max_examples=40, stateful_step_count=30, deadline=None),
    )
