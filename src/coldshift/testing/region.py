"""An in-memory region store with the SQL store's semantics, for service tests and demos."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import astuple, dataclass, replace
from enum import Enum
from typing import Any

from coldshift.domain.errors import (
    HostDraining,
    HostInUse,
    InvalidMarker,
    MachineTaken,
    ServerBusy,
)
from coldshift.domain.hosts import (
    ClaimRole,
    Host,
    HostChange,
    HostKind,
    HostState,
    NumaNode,
    Placement,
)
from coldshift.domain.job_types import FENCING_JOB_TYPES
from coldshift.domain.lifecycle import IllegalTransition, TaskChange
from coldshift.domain.quotas import QuotaGuard, Resource
from coldshift.domain.servers import Server, TaskState
from coldshift.jobs.model import Job, JobStatus, NewJob
from coldshift.services.ports import (
    ClientToken,
    DuplicateSubmission,
    GroupJoin,
    HostFence,
    JobColumns,
    JobPage,
    NodeShare,
    PoolChanges,
    ServerColumns,
    ServerPage,
    TaskGuard,
)
from coldshift.testing.fakes import InMemoryJobStore
from coldshift.testing.groups import InMemoryGroups


@dataclass(frozen=True, slots=True)
class _Claim:
    """One NUMA node's share of a server's claim (a row of the SQL ``claims`` table)."""

    server_id: str
    host_id: str
    node_index: int
    vcpus: int
    memory_mb: int
    role: str


class InMemoryRegionStore(InMemoryGroups):
    """Implements services.ports.RegionStore in memory, as persistence.SqlRegionStore does in
    SQL: the same guards, compare-and-set claims, orders and errors. One lock stands for the
    SQL store's transactions: every write checks everything first, then changes, so a refused
    write leaves nothing behind.

    Jobs are recorded into ``jobs`` (an InMemoryJobStore), whose statuses the submit guard
    reads: a server is idle only once the job of its last task has ended."""

    def __init__(self, jobs: InMemoryJobStore, clock: Callable[[], float]) -> None:
        self._jobs = jobs
        jobs.on_parent_end = self._lift_fence
        self._clock = clock
        self._lock = threading.RLock()
        self._servers: dict[str, Server] = {}
        self._hosts: dict[str, Host] = {}
        self._claims: list[_Claim] = []
        self._tokens: dict[tuple[str, str], tuple[ClientToken, float]] = {}
        # Generations, as the SQL store's: the last stamp, each host's, the removals (stamped).
        self._generation = 0
        self._changed_at: dict[str, int] = {}
        self._removals: dict[str, tuple[Host, int]] = {}
        self._init_groups()

    # ---- reads -------------------------------------------------------------------------

    def snapshot(self) -> AbstractContextManager[None]:
        return nullcontext()  # every read sees the dicts as they are

    def get_server(self, project_id: str | None, server_id: str) -> Server | None:
        with self._lock:
            server = self._servers.get(server_id)
        if server is None or project_id not in (None, server.project_id):
            return None
        return server

    def list_servers(self, project_id: str) -> list[Server]:
        with self._lock:
            return _newest_first(s for s in self._servers.values() if s.project_id == project_id)

    def page_servers(
        self,
        project_id: str,
        where: ServerColumns,
        *,
        limit: int,
        offset: int = 0,
        after: str | None = None,
        with_total: bool = False,
    ) -> ServerPage:
        matching = [s for s in self.list_servers(project_id) if _matches(s, where)]
        start = offset
        if after is not None:
            ids = [s.id for s in matching]
            if after not in ids:
                raise InvalidMarker(after)
            start += ids.index(after) + 1
        page = matching[start : start + limit]
        more = len(matching) > start + limit
        return ServerPage(servers=page, more=more, total=len(matching) if with_total else None)

    def servers_on_host(self, host_id: str) -> list[Server]:
        with self._lock:
            return [self._servers[i] for i in self._listed_on(host_id)]

    def count_servers(self, project_id: str) -> int:
        with self._lock:
            return sum(1 for s in self._servers.values() if s.project_id == project_id)

    def get_host(self, host_id: str) -> Host | None:
        with self._lock:
            return self._hosts.get(host_id)

    def list_hosts(
        self,
        *,
        kind: HostKind | None = None,
        project_id: str | None = None,
        host_ids: Sequence[str] | None = None,
        availability_zone: str | None = None,
    ) -> list[Host]:
        wanted = {
            "kind": kind,
            "project_id": project_id,
            "availability_zone": availability_zone,
        }
        with self._lock:
            found = [
                h
                for h in self._hosts.values()
                if all(v is None or getattr(h, k) == v for k, v in wanted.items())
                and (host_ids is None or h.id in host_ids)
            ]
        return sorted(found, key=lambda h: (h.allocated_at, h.name, h.id))

    def pool_changes(self, availability_zone: str | None, since: int | None) -> PoolChanges:
        def wanted(host: Host) -> bool:
            return host.kind is HostKind.POOL and availability_zone in (
                None,
                host.availability_zone,
            )

        with self._lock:
            first = 0 if since is None else since
            changed = [
                h for h in self._hosts.values() if wanted(h) and self._changed_at[h.id] >= first
            ]
            removed = [
                host_id
                for host_id, (host, at) in self._removals.items()
                if since is not None and wanted(host) and at >= since
            ]
            mark = self._generation + 1
        changed.sort(key=lambda h: (h.allocated_at, h.name, h.id))
        return PoolChanges(changed, removed, mark)

    def instance_ids_by_host(self, host_ids: Iterable[str]) -> dict[str, list[str]]:
        with self._lock:
            listed = {h: self._listed_on(h) for h in host_ids}
        return {h: ids for h, ids in listed.items() if ids}

    def job_tree(self, project_id: str, job_id: str) -> tuple[Job, list[Job]] | None:
        job = self._jobs.jobs.get(job_id)
        if job is None or job.project_id != project_id or job.parent_id is not None:
            return None
        return job, self._jobs.children(job_id)

    def node_shares(self, host_ids: Sequence[str]) -> list[NodeShare]:
        wanted = set(host_ids)
        with self._lock:
            found = [NodeShare(*astuple(c)) for c in self._claims if c.host_id in wanted]
        return sorted(found, key=lambda c: (c.host_id, c.node_index, c.server_id))

    def job_counts(self) -> dict[tuple[str, JobStatus], int]:
        with self._lock:
            return dict(Counter((j.job_type, j.status) for j in self._jobs.jobs.values()))

    def page_jobs(
        self, project_id: str, where: JobColumns, *, limit: int, after: str | None = None
    ) -> JobPage:
        # begin_time is the creation time in both stores (nothing changes it after)
        top = sorted(
            (j for j in self._jobs.jobs.values() if j.project_id == project_id and not j.parent_id),
            key=lambda j: (j.begin_time, j.id),
            reverse=True,
        )
        start = 0
        if after is not None:
            ids = [j.id for j in top]
            if after not in ids:
                raise InvalidMarker(after)
            start = ids.index(after) + 1
        matching = [
            j
            for j in top[start:]
            if where.status in (None, j.status) and where.job_type in (None, j.job_type)
        ]
        found = [(j, self._jobs.children(j.id)) for j in matching[:limit]]
        return JobPage(jobs=found, more=len(matching) > limit)

    # ---- servers -----------------------------------------------------------------------

    def _lift_fence(self, ended: Job) -> None:
        """As the SQL store, in the transaction ending the job: its DeH takes servers again."""
        if ended.job_type not in FENCING_JOB_TYPES:
            return
        with self._lock:
            for host in list(self._hosts.values()):
                if host.draining_job == ended.id:
                    self._set_host(replace(host, draining_job=None))

    def one_transaction(self) -> AbstractContextManager[None]:
        return nullcontext()  # each write is atomic under the lock; its guards re-check

    def submit(
        self,
        job: NewJob,
        *,
        new_servers: Sequence[Server] = (),
        guards: Sequence[TaskGuard] = (),
        client_token: ClientToken | None = None,
        quota: QuotaGuard | None = None,
        group: GroupJoin | None = None,
        fence: HostFence | None = None,
    ) -> None:
        """Record a job with the server changes that start it, all or nothing (see
        ServerStore.submit)."""
        now = self._clock()
        with self._lock:
            if fence is not None and job.job_type not in FENCING_JOB_TYPES:
                raise ValueError(f"a {job.job_type} job cannot fence a DeH")  # as the SQL store
            fenced = self._hosts.get(fence.host_id) if fence is not None else None
            if fence is not None and (fenced is None or fenced.draining_job is not None):
                raise HostDraining(fence.host_id)
            if quota is not None:
                quota.check(self._used(quota))
            # Guards apply one after the other, as the SQL statements do: a server guarded
            # twice is busy the second time.
            servers = dict(self._servers)
            for guard in guards:
                servers[guard.server_id] = self._guarded(servers.get(guard.server_id), guard, now)
            if client_token is not None:
                self._check_token_free(client_token)
            new_ids = [s.id for s in new_servers]
            if group is not None:
                self._join_new(group.group_id, new_ids, group.limit)
            servers.update((s.id, s) for s in new_servers)
            self._servers = servers
            if fence is not None and fenced is not None:
                self._set_host(replace(fenced, draining_job=fence.job_id))
            if group is not None:
                self._joined_new(group.group_id, new_ids)
            if client_token is not None:
                key = (client_token.project_id, client_token.token)
                self._tokens[key] = (client_token, now)
        # Outside this store's lock: the job store's effects run under its own lock and call
        # back into this store, so holding both here could deadlock.
        self._jobs.add(job)

    def find_client_token(
        self, project_id: str, token: str, not_before: float
    ) -> ClientToken | None:
        with self._lock:
            found = self._tokens.get((project_id, token))
        if found is None or found[1] < not_before:
            return None
        return found[0]

    def change_task(self, server_id: str, change: TaskChange) -> None:
        with self._lock:
            self._apply(server_id, change)

    def set_locked(self, server_id: str, locked: bool, frozen_during: frozenset[TaskState]) -> bool:
        frozen = {t.value for t in frozen_during}
        with self._lock:
            server = self._servers.get(server_id)
            if server is None or server.task_state in frozen:
                return False
            self._servers[server_id] = replace(server, locked=locked, updated_at=self._clock())
        return True

    def delete_server(self, server_id: str) -> list[str]:
        """Remove a server and give back all its room. Idempotent. The hosts given room."""
        with self._lock:
            freed = self._release(server_id, None)
            self._leave(server_id)
            self._servers.pop(server_id, None)
        return freed

    # ---- hosts -------------------------------------------------------------------------

    def add_hosts(self, new_hosts: Sequence[Host], quota: QuotaGuard | None = None) -> None:
        with self._lock:
            if quota is not None:
                quota.check(self._used(quota))
            taken = [h.id for h in new_hosts if h.id in self._hosts]
            if taken:
                raise ValueError(f"hosts already recorded: {taken}")
            in_use = self.machines_in_use()
            machines = [h.machine for h in new_hosts if h.machine]
            if len(set(machines)) < len(machines) or in_use.intersection(machines):
                raise MachineTaken(machines)
            for host in new_hosts:
                self._removals.pop(host.id, None)
                self._set_host(host)

    def machines_in_use(self) -> set[str]:
        with self._lock:
            return {h.machine for h in self._hosts.values() if h.machine}

    def remove_hosts(self, host_ids: Sequence[str]) -> None:
        with self._lock:
            for host_id in host_ids:
                host = self._hosts.pop(host_id, None)
                if host is not None:
                    self._removals[host_id] = (host, self._next_generation())

    def update_host(self, host_id: str, change: HostChange) -> None:
        with self._lock:
            host = self._hosts.get(host_id)
            if host is None:
                return
            changed = replace(
                host,
                name=host.name if change.name is None else change.name,
                auto_placement=(
                    host.auto_placement if change.auto_placement is None else change.auto_placement
                ),
                state=host.state if change.state is None else change.state,
            )
            self._set_host(changed)

    def release_host(self, host_id: str) -> None:
        with self._lock:
            if self._in_use(host_id):
                raise HostInUse(
                    f"dedicated host {host_id} still has ECSs on it or migrating "
                    "to or from it; move or delete them first"
                )
            host = self._hosts.get(host_id)
            if host is not None:
                released = replace(
                    host, state=HostState.RELEASED, released_at=self._clock(), machine=None
                )
                self._set_host(released)

    # ---- claims ------------------------------------------------------------------------

    def claim(
        self,
        server_id: str,
        placement: Placement,
        role: str = ClaimRole.PLACED,
        then: TaskChange | None = None,
    ) -> bool:
        """Take the room of ``placement`` node by node, compare-and-set: a node without room
        refuses the whole claim (False), and nothing changes."""
        with self._lock:
            host = self._hosts.get(placement.host_id)
            if host is None or host.state is not HostState.AVAILABLE or host.draining_job:
                return False
            nodes = _taken(host.nodes, placement)
            if nodes is None or not self._place_free(server_id, host.id):
                return False
            changed = self._changed(server_id, then) if then is not None else None
            self._set_host(replace(host, nodes=nodes))
            self._claims.extend(_claims_of(server_id, placement, role))
            self._take_place(server_id, host.id)
            if changed is not None:
                self._servers[server_id] = changed
        return True

    def has_claims(self, server_id: str, role: str = ClaimRole.PLACED) -> bool:
        with self._lock:
            return any(c.server_id == server_id and c.role == role for c in self._claims)

    def claimed_host(self, server_id: str, role: str) -> str | None:
        with self._lock:
            found = (c.host_id for c in self._claims if c.server_id == server_id and c.role == role)
            return next(found, None)

    def claimed_nodes(self, server_id: str, role: str) -> tuple[int, ...]:
        with self._lock:
            return tuple(
                sorted(
                    c.node_index
                    for c in self._claims
                    if c.server_id == server_id and c.role == role
                )
            )

    def switch_over(self, server_id: str, change: TaskChange | None) -> bool:
        with self._lock:
            if not self.has_claims(server_id, ClaimRole.INCOMING):
                return False
            changed = self._changed(server_id, change) if change is not None else None
            moved: dict[str, str] = {
                ClaimRole.PLACED: ClaimRole.OUTGOING,
                ClaimRole.INCOMING: ClaimRole.PLACED,
            }
            self._claims = [
                replace(c, role=moved[c.role])
                if c.server_id == server_id and c.role in moved
                else c
                for c in self._claims
            ]
            if changed is not None:
                self._servers[server_id] = changed
        return True

    def release_claims(
        self, server_id: str, role: str | None = None, then: TaskChange | None = None
    ) -> list[str]:
        """Give back a server's claims (all, or one role). Idempotent. The hosts given room."""
        with self._lock:
            changed = self._changed(server_id, then) if then is not None else None
            freed = self._release(server_id, role)
            if changed is not None:
                self._servers[server_id] = changed
        return freed

    # ---- inside the lock ---------------------------------------------------------------

    def _next_generation(self) -> int:
        self._generation += 1
        return self._generation

    def _set_host(self, host: Host) -> None:
        """Record ``host`` as it is now, stamped as changed."""
        self._hosts[host.id] = host
        self._changed_at[host.id] = self._next_generation()

    def _used(self, quota: QuotaGuard) -> int:
        if quota.resource is Resource.INSTANCES:
            return sum(1 for s in self._servers.values() if s.project_id == quota.project_id)
        return sum(
            1
            for h in self._hosts.values()
            if h.project_id == quota.project_id
            and h.kind is HostKind.DEH
            and h.state is not HostState.RELEASED
        )

    def _guarded(self, server: Server | None, guard: TaskGuard, now: float) -> Server:
        """``server`` as the guard's task change leaves it, or ServerBusy when it is not idle
        (domain.lifecycle) or no longer what the request checked."""
        if (
            server is None
            or server.task_state is not None
            or server.locked
            or self._job_unfinished(server.task_job_id)
            or guard.vm_state not in (None, server.vm_state)
            or guard.host_id not in (None, server.host_id)
        ):
            raise ServerBusy(
                f"the ECS {guard.server_id} is locked, changed state, or another operation is "
                "in progress on it; retry when it has finished"
            )
        values = _plain(guard.change.values())
        return replace(server, task_job_id=guard.job_id, updated_at=now, **values)

    def _job_unfinished(self, job_id: str | None) -> bool:
        job = self._jobs.jobs.get(job_id) if job_id is not None else None
        return job is not None and not job.status.terminal

    def _check_token_free(self, token: ClientToken) -> None:
        # The SQL table's primary key is (project, token): an expired token still holds it.
        if (token.project_id, token.token) in self._tokens:
            raise DuplicateSubmission(token.token)

    def _changed(self, server_id: str, change: TaskChange) -> Server:
        """The server after ``change``, or IllegalTransition (domain.lifecycle)."""
        server = self._servers.get(server_id)
        if server is None:
            raise IllegalTransition(server_id, change.transition, "(no such ECS)")
        if not change.transition.allows(server.task_state):
            raise IllegalTransition(server_id, change.transition, server.task_state)
        return replace(server, updated_at=self._clock(), **_plain(change.values()))

    def _apply(self, server_id: str, change: TaskChange) -> None:
        self._servers[server_id] = self._changed(server_id, change)

    def _release(self, server_id: str, role: str | None) -> list[str]:
        gone = [c for c in self._claims if c.server_id == server_id and role in (None, c.role)]
        self._claims = [c for c in self._claims if c not in gone]
        self._give_up_places(server_id)
        for claim in gone:
            host = self._hosts.get(claim.host_id)
            if host is not None:
                self._set_host(replace(host, nodes=_given_back(host.nodes, claim)))
        return sorted({c.host_id for c in gone})

    def _in_use(self, host_id: str) -> bool:
        return any(host_id in (s.host_id, s.migrating_to) for s in self._servers.values()) or any(
            c.host_id == host_id for c in self._claims
        )

    def _listed_on(self, host_id: str) -> list[str]:
        """The ids of the servers ``host_id`` lists, oldest first (see HostReads)."""
        placed = {
            s.id
            for s in self._servers.values()
            if s.host_id == host_id and s.task_state != TaskState.RESIZE_FINISH.value
        }
        leaving = {
            c.server_id
            for c in self._claims
            if c.host_id == host_id and c.role == ClaimRole.OUTGOING
        }
        listed = [self._servers[i] for i in placed | leaving if i in self._servers]
        return [s.id for s in sorted(listed, key=lambda s: (s.created_at, s.id))]


def _newest_first(servers: Iterable[Server]) -> list[Server]:
    return sorted(servers, key=lambda s: (s.created_at, s.id), reverse=True)


def _matches(server: Server, where: ServerColumns) -> bool:
    wanted = {
        "flavor_id": where.flavor_id,
        "image_ref": where.image_ref,
        "id": where.server_id,
        "availability_zone": where.availability_zone,
    }
    return all(v is None or getattr(server, k) == v for k, v in wanted.items())


def _plain(values: dict[str, Any]) -> dict[str, Any]:
    """Enum members as the plain values a database row gives back."""
    return {k: v.value if isinstance(v, Enum) else v for k, v in values.items()}


def _taken(nodes: tuple[NumaNode, ...], placement: Placement) -> tuple[NumaNode, ...] | None:
    """The nodes once ``placement`` took its room, or None when one of them lacks it."""
    fit = placement.fit
    by_index = {n.index: n for n in nodes}
    chosen = [by_index.get(i) for i in fit.node_indexes]
    for node in chosen:
        if node is None or node.vcpus_free < fit.vcpus_per_node:
            return None
        if node.memory_free < fit.memory_per_node:
            return None
    return tuple(
        replace(
            n,
            vcpus_free=n.vcpus_free - fit.vcpus_per_node,
            memory_free=n.memory_free - fit.memory_per_node,
        )
        if n.index in fit.node_indexes
        else n
        for n in nodes
    )


def _claims_of(server_id: str, placement: Placement, role: str) -> list[_Claim]:
    fit = placement.fit
    return [
        _Claim(server_id, placement.host_id, i, fit.vcpus_per_node, fit.memory_per_node, role)
        for i in fit.node_indexes
    ]


def _given_back(nodes: tuple[NumaNode, ...], claim: _Claim) -> tuple[NumaNode, ...]:
    return tuple(
        replace(
            n,
            vcpus_free=n.vcpus_free + claim.vcpus,
            memory_free=n.memory_free + claim.memory_mb,
        )
        if n.index == claim.node_index
        else n
        for n in nodes
    )
