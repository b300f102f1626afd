"""The region's state in SQL: hosts, NUMA nodes, servers, claims; jobs recorded atomically."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence

from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    Connection,
    and_,
    bindparam,
    delete,
    exists,
    func,
    or_,
    select,
    text,
    union,
    update,
)
from sqlalchemy.exc import IntegrityError

from coldshift.domain.errors import HostInUse, InvalidMarker, ServerBusy
from coldshift.domain.hosts import (
    ClaimRole,
    Host,
    HostChange,
    HostKind,
    HostState,
    NumaNode,
    Placement,
)
from coldshift.domain.lifecycle import IllegalTransition, TaskChange
from coldshift.domain.quotas import QuotaGuard, Resource
from coldshift.domain.servers import Server, TaskState
from coldshift.jobs.model import Job, JobStatus, NewJob
from coldshift.persistence.db import Database
from coldshift.persistence.job_signals import announce
from coldshift.persistence.job_store import insert_job, load_job_tree
from coldshift.persistence.rows import (
    host_from_row,
    host_to_values,
    node_from_row,
    server_from_row,
    server_to_values,
)
from coldshift.persistence.tables import claims, client_tokens, hosts, jobs, numa_nodes, servers
from coldshift.services.ports import (
    ClientToken,
    DuplicateSubmission,
    ServerColumns,
    ServerPage,
    TaskGuard,
)

_ON_HOST = ClaimRole.PLACED.value
_INCOMING = ClaimRole.INCOMING.value
_OUTGOING = ClaimRole.OUTGOING.value
_SWITCHED_TASK = TaskState.RESIZE_FINISH.value
_UNFINISHED = (JobStatus.INIT.value, JobStatus.RUNNING.value)


# The reads of every GET of a server and of every migrate, built once: a request then pays
# neither building the statement nor computing its cache key.
_SERVER = select(servers).where(servers.c.id == bindparam("server_id"))
_PROJECT_SERVER = _SERVER.where(servers.c.project_id == bindparam("project_id"))
_HOST_WITH_NODES = (
    select(hosts, *(c for c in numa_nodes.c if c.name != "host_id"))
    .outerjoin(numa_nodes, numa_nodes.c.host_id == hosts.c.id)
    .where(hosts.c.id == bindparam("host_id"))
    .order_by(numa_nodes.c.node_index)
)


class SqlRegionStore:
    def __init__(self, db: Database, clock: Callable[[], float]) -> None:
        self._db = db
        self._clock = clock

    # ---- reads -------------------------------------------------------------------------

    def get_server(self, project_id: str | None, server_id: str) -> Server | None:
        query = _SERVER if project_id is None else _PROJECT_SERVER
        with self._db.read() as conn:
            row = conn.execute(query, {"server_id": server_id, "project_id": project_id}).first()
        return server_from_row(row) if row is not None else None

    def list_servers(self, project_id: str) -> list[Server]:
        query = (
            select(servers)
            .where(servers.c.project_id == project_id)
            .order_by(servers.c.created_at.desc(), servers.c.id.desc())
        )
        with self._db.read() as conn:
            return [server_from_row(r) for r in conn.execute(query)]

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
        matching = [servers.c.project_id == project_id, *_column_equalities(where)]
        with self._db.read() as conn:
            keyset = [] if after is None else [_past_marker(conn, matching, after)]
            # One row beyond the page tells whether more follow, without counting them.
            query = (
                select(servers)
                .where(*matching, *keyset)
                .order_by(servers.c.created_at.desc(), servers.c.id.desc())
                .offset(offset)
                .limit(limit + 1)
            )
            rows = conn.execute(query).all()
            total = _count(conn, matching) if with_total else None
        page = [server_from_row(r) for r in rows[:limit]]
        return ServerPage(servers=page, more=len(rows) > limit, total=total)

    def servers_on_host(self, host_id: str) -> list[Server]:
        listed = _listed_on([host_id]).subquery()
        query = (
            select(servers)
            .where(servers.c.id.in_(select(listed.c.server_id)))
            .order_by(servers.c.created_at, servers.c.id)
        )
        with self._db.read() as conn:
            return [server_from_row(r) for r in conn.execute(query)]

    def count_servers(self, project_id: str) -> int:
        with self._db.read() as conn:
            return _count(conn, [servers.c.project_id == project_id])

    def get_host(self, host_id: str) -> Host | None:
        with self._db.read() as conn:
            rows = conn.execute(_HOST_WITH_NODES, {"host_id": host_id}).all()
        if not rows:
            return None
        nodes = tuple(node_from_row(r) for r in rows if r.node_index is not None)
        return host_from_row(rows[0], nodes)

    def list_hosts(
        self,
        *,
        kind: HostKind | None = None,
        project_id: str | None = None,
        host_ids: Sequence[str] | None = None,
        availability_zone: str | None = None,
    ) -> list[Host]:
        query = select(hosts).order_by(hosts.c.allocated_at, hosts.c.name, hosts.c.id)
        if kind is not None:
            query = query.where(hosts.c.kind == kind.value)
        if project_id is not None:
            query = query.where(hosts.c.project_id == project_id)
        if host_ids is not None:
            query = query.where(hosts.c.id.in_(list(host_ids)))
        if availability_zone is not None:
            query = query.where(hosts.c.availability_zone == availability_zone)
        with self._db.read() as conn:
            rows = conn.execute(query).all()
            nodes = _nodes_by_host(conn, [r.id for r in rows])
        return [host_from_row(r, nodes.get(r.id, ())) for r in rows]

    def instance_ids_by_host(self, host_ids: Iterable[str]) -> dict[str, list[str]]:
        listed = _listed_on(list(host_ids)).subquery()
        query = select(listed.c.host_id, listed.c.server_id).order_by(
            listed.c.created_at, listed.c.server_id
        )
        result: dict[str, list[str]] = defaultdict(list)
        with self._db.read() as conn:
            for host_id, server_id in conn.execute(query):
                result[host_id].append(server_id)
        return result

    def job_tree(self, project_id: str, job_id: str) -> tuple[Job, list[Job]] | None:
        with self._db.read() as conn:
            return load_job_tree(conn, project_id, job_id)

    # ---- writes ------------------------------------------------------------------------

    def submit(
        self,
        job: NewJob,
        *,
        new_servers: Sequence[Server] = (),
        guards: Sequence[TaskGuard] = (),
        client_token: ClientToken | None = None,
        quota: QuotaGuard | None = None,
    ) -> None:
        """Record a job with the server changes that start it, in one transaction.

        Each guard moves a server from "no task" to a task; if another request got there
        first the whole submission is refused (ServerBusy) and nothing is recorded.
        """
        now = self._clock()
        try:
            with self._db.write() as conn:
                if quota is not None:
                    _check_quota(conn, quota)
                for guard in guards:
                    _apply_guard(conn, guard, now)
                if new_servers:
                    conn.execute(servers.insert(), [server_to_values(s) for s in new_servers])
                announce(conn, insert_job(conn, job, now))
                if client_token is not None:
                    conn.execute(
                        client_tokens.insert().values(
                            project_id=client_token.project_id,
                            token=client_token.token,
                            body_hash=client_token.body_hash,
                            response=client_token.response,
                            created_at=now,
                        )
                    )
        except IntegrityError as exc:
            if client_token is None:
                raise
            raise DuplicateSubmission(client_token.token) from exc

    def find_client_token(
        self, project_id: str, token: str, not_before: float
    ) -> ClientToken | None:
        query = select(client_tokens).where(
            client_tokens.c.project_id == project_id,
            client_tokens.c.token == token,
            client_tokens.c.created_at >= not_before,
        )
        with self._db.read() as conn:
            row = conn.execute(query).first()
        if row is None:
            return None
        return ClientToken(row.project_id, row.token, row.body_hash, dict(row.response))

    def add_hosts(self, new_hosts: Sequence[Host], quota: QuotaGuard | None = None) -> None:
        with self._db.write() as conn:
            if quota is not None:
                _check_quota(conn, quota)
            _insert_hosts(conn, new_hosts)

    def remove_hosts(self, host_ids: Sequence[str]) -> None:
        if not host_ids:
            return
        with self._db.write() as conn:
            conn.execute(delete(numa_nodes).where(numa_nodes.c.host_id.in_(list(host_ids))))
            conn.execute(delete(hosts).where(hosts.c.id.in_(list(host_ids))))

    def update_host(self, host_id: str, change: HostChange) -> None:
        values = {
            column: value
            for column, value in (("name", change.name), ("auto_placement", change.auto_placement))
            if value is not None
        }
        if not values:
            return
        with self._db.write() as conn:
            conn.execute(update(hosts).where(hosts.c.id == host_id).values(**values))

    def release_host(self, host_id: str) -> None:
        """Release a DeH unless a server is on it or a claim (e.g. a migration) holds it."""
        with self._db.write() as conn:
            # Update first: the row lock makes concurrent claims on this host wait (see _claim_in)
            conn.execute(
                update(hosts)
                .where(hosts.c.id == host_id)
                .values(state=HostState.RELEASED.value, released_at=self._clock())
            )
            busy = conn.execute(
                select(
                    exists().where(servers.c.host_id == host_id)
                    | exists().where(servers.c.migrating_to == host_id)
                    | exists().where(claims.c.host_id == host_id)
                )
            ).scalar()
            if busy:  # raising rolls the release back
                raise HostInUse(host_id)

    def change_task(self, server_id: str, change: TaskChange) -> None:
        with self._db.write() as conn:
            _change_task(conn, server_id, change, self._clock())

    def claim(
        self,
        server_id: str,
        placement: Placement,
        role: str = _ON_HOST,
        then: TaskChange | None = None,
    ) -> bool:
        """Atomically take the capacity of ``placement`` for ``server_id``.

        Each NUMA node is decremented by a compare-and-set; if any node no longer has room
        (a concurrent claim won), the transaction rolls back and False is returned.
        """
        try:
            with self._db.write() as conn:
                _claim_in(conn, server_id, placement, role)
                if then is not None:
                    _change_task(conn, server_id, then, self._clock())
        except _ClaimLost:
            return False
        return True

    def has_claims(self, server_id: str, role: str = _ON_HOST) -> bool:
        with self._db.read() as conn:
            return bool(
                conn.execute(
                    select(exists().where(claims.c.server_id == server_id, claims.c.role == role))
                ).scalar()
            )

    def claimed_host(self, server_id: str, role: str) -> str | None:
        query = select(claims.c.host_id).where(
            claims.c.server_id == server_id, claims.c.role == role
        )
        with self._db.read() as conn:
            return conn.execute(query.limit(1)).scalar()

    def switch_over(self, server_id: str, change: TaskChange | None) -> bool:
        with self._db.write() as conn:
            incoming = conn.execute(
                select(claims.c.id)
                .where(claims.c.server_id == server_id, claims.c.role == _INCOMING)
                .with_for_update()
            ).all()
            if not incoming:
                return False
            _set_role(conn, server_id, _ON_HOST, _OUTGOING)
            _set_role(conn, server_id, _INCOMING, _ON_HOST)
            if change is not None:
                _change_task(conn, server_id, change, self._clock())
        return True

    def set_locked(self, server_id: str, locked: bool, frozen_during: frozenset[TaskState]) -> bool:
        with self._db.write() as conn:
            result = conn.execute(
                update(servers)
                .where(
                    servers.c.id == server_id,
                    servers.c.task_state.is_(None)
                    | servers.c.task_state.not_in(sorted(t.value for t in frozen_during)),
                )
                .values(locked=locked, updated_at=self._clock())
            )
        return result.rowcount == 1

    def release_claims(
        self, server_id: str, role: str | None = None, then: TaskChange | None = None
    ) -> list[str]:
        """Give back a server's claims (all, or one role). Idempotent. The hosts given room."""
        with self._db.write() as conn:
            freed = _release(conn, server_id, role)
            if then is not None:
                _change_task(conn, server_id, then, self._clock())
        return freed

    def delete_server(self, server_id: str) -> list[str]:
        """Remove a server and give back all its capacity. Idempotent. The hosts given room."""
        with self._db.write() as conn:
            freed = _release(conn, server_id, None)
            conn.execute(delete(servers).where(servers.c.id == server_id))
        return freed


def _listed_on(host_ids: list[str]) -> CompoundSelect[tuple[str, str, float]]:
    """(host_id, server_id, created_at) of the servers each host lists (api.md §5.7): those
    placed there, except one whose migration has switched onto it and not yet ended; and
    those migrating away from it, until their job ends (their "outgoing" claims)."""
    placed = select(
        servers.c.host_id.label("host_id"),
        servers.c.id.label("server_id"),
        servers.c.created_at,
    ).where(
        servers.c.host_id.in_(host_ids),
        or_(servers.c.task_state.is_(None), servers.c.task_state != _SWITCHED_TASK),
    )
    leaving = (
        select(claims.c.host_id, servers.c.id, servers.c.created_at)
        .join(servers, servers.c.id == claims.c.server_id)
        .where(claims.c.role == _OUTGOING, claims.c.host_id.in_(host_ids))
    )
    return union(placed, leaving)  # UNION also drops the duplicate rows of a multi-node claim


def _check_quota(conn: Connection, quota: QuotaGuard) -> None:
    if conn.dialect.name == "postgresql":
        # One transaction-scoped lock per (project, resource): concurrent writers of the same
        # quota count one after the other. (SQLite's BEGIN IMMEDIATE already serialises.)
        key = int(
            hashlib.sha1(f"{quota.project_id}/{quota.resource}".encode()).hexdigest()[:15], 16
        )
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})
    if quota.resource is Resource.INSTANCES:
        used_query = (
            select(func.count())
            .select_from(servers)
            .where(servers.c.project_id == quota.project_id)
        )
    else:
        used_query = (
            select(func.count())
            .select_from(hosts)
            .where(
                hosts.c.project_id == quota.project_id,
                hosts.c.kind == HostKind.DEH.value,
                hosts.c.state != HostState.RELEASED.value,
            )
        )
    quota.check(conn.execute(used_query).scalar_one())


def _change_task(conn: Connection, server_id: str, change: TaskChange, now: float) -> None:
    """The guarded statement of domain.lifecycle: the task moves only from a state the
    transition starts from, or stays at its target (a step re-run after a crash)."""
    transition = change.transition
    starts = {transition.target, *transition.sources}
    named = sorted(s.value for s in starts if s is not None)
    allowed: ColumnElement[bool] = servers.c.task_state.in_(named)
    if None in starts:
        allowed = or_(allowed, servers.c.task_state.is_(None))
    result = conn.execute(
        update(servers)
        .where(servers.c.id == server_id, allowed)
        .values(updated_at=now, **change.values())
    )
    if result.rowcount != 1:
        found = conn.execute(select(servers.c.task_state).where(servers.c.id == server_id)).first()
        raise IllegalTransition(server_id, transition, found[0] if found else "(no such ECS)")


def _apply_guard(conn: Connection, guard: TaskGuard, now: float) -> None:
    """Start a task on an idle server (domain.lifecycle): no task, unlocked, and the job of
    its last task has ended."""
    last_job_running = (
        exists()
        .where(jobs.c.id == servers.c.task_job_id, jobs.c.status.in_(_UNFINISHED))
        .correlate(servers)
    )
    query = update(servers).where(
        servers.c.id == guard.server_id,
        servers.c.task_state.is_(None),
        servers.c.locked.is_(False),
        ~last_job_running,
    )
    if guard.vm_state is not None:
        query = query.where(servers.c.vm_state == guard.vm_state)
    if guard.host_id is not None:
        query = query.where(servers.c.host_id == guard.host_id)
    result = conn.execute(
        query.values(task_job_id=guard.job_id, updated_at=now, **guard.change.values())
    )
    if result.rowcount != 1:
        raise ServerBusy(
            f"the ECS {guard.server_id} is locked, changed state, or another operation is "
            "in progress on it; retry when it has finished"
        )


def _set_role(conn: Connection, server_id: str, old: str, new: str) -> None:
    conn.execute(
        update(claims).where(claims.c.server_id == server_id, claims.c.role == old).values(role=new)
    )


class _ClaimLost(Exception):
    """A NUMA node no longer had room: a concurrent claim won. Rolls the transaction back."""


def _claim_in(conn: Connection, server_id: str, placement: Placement, role: str) -> None:
    # Touching the host row first serialises this claim with a concurrent release of the host
    # (which updates the same row), so that a released host never receives a claim.
    held = conn.execute(
        update(hosts)
        .where(hosts.c.id == placement.host_id, hosts.c.state == HostState.AVAILABLE.value)
        .values(state=hosts.c.state)
    )
    if held.rowcount != 1 or not _take_nodes(conn, placement):
        raise _ClaimLost
    conn.execute(
        claims.insert(),
        [
            dict(
                server_id=server_id,
                host_id=placement.host_id,
                node_index=i,
                vcpus=placement.fit.vcpus_per_node,
                memory_mb=placement.fit.memory_per_node,
                role=role,
            )
            for i in placement.fit.node_indexes
        ],
    )


def _take_nodes(conn: Connection, placement: Placement) -> bool:
    fit = placement.fit
    for index in fit.node_indexes:
        result = conn.execute(
            update(numa_nodes)
            .where(
                numa_nodes.c.host_id == placement.host_id,
                numa_nodes.c.node_index == index,
                numa_nodes.c.vcpus_free >= fit.vcpus_per_node,
                numa_nodes.c.memory_free >= fit.memory_per_node,
            )
            .values(
                vcpus_free=numa_nodes.c.vcpus_free - fit.vcpus_per_node,
                memory_free=numa_nodes.c.memory_free - fit.memory_per_node,
            )
        )
        if result.rowcount != 1:
            return False
    return True


def _release(conn: Connection, server_id: str, role: str | None) -> list[str]:
    query = select(claims).where(claims.c.server_id == server_id)
    if role is not None:
        query = query.where(claims.c.role == role)
    rows = conn.execute(query.with_for_update()).all()
    for row in rows:
        conn.execute(
            update(numa_nodes)
            .where(numa_nodes.c.host_id == row.host_id, numa_nodes.c.node_index == row.node_index)
            .values(
                vcpus_free=numa_nodes.c.vcpus_free + row.vcpus,
                memory_free=numa_nodes.c.memory_free + row.memory_mb,
            )
        )
    if rows:
        conn.execute(delete(claims).where(claims.c.id.in_([r.id for r in rows])))
    return sorted({r.host_id for r in rows})


def _insert_hosts(conn: Connection, new_hosts: Sequence[Host]) -> None:
    if not new_hosts:
        return
    conn.execute(hosts.insert(), [host_to_values(h) for h in new_hosts])
    conn.execute(
        numa_nodes.insert(),
        [
            dict(
                host_id=h.id,
                node_index=n.index,
                vcpus_total=n.vcpus_total,
                memory_total=n.memory_total,
                vcpus_free=n.vcpus_free,
                memory_free=n.memory_free,
            )
            for h in new_hosts
            for n in h.nodes
        ],
    )


def _column_equalities(where: ServerColumns) -> list[ColumnElement[bool]]:
    wanted = {
        servers.c.flavor_id: where.flavor_id,
        servers.c.image_ref: where.image_ref,
        servers.c.id: where.server_id,
        servers.c.availability_zone: where.availability_zone,
    }
    return [column == value for column, value in wanted.items() if value is not None]


def _past_marker(
    conn: Connection, matching: list[ColumnElement[bool]], marker: str
) -> ColumnElement[bool]:
    """The listing's rows after the matching server ``marker`` (newest first, id breaking
    ties), as a keyset condition that the project's created_at index serves."""
    # PostgreSQL refuses NUL in text, and no id holds one.
    found = None
    if "\x00" not in marker:
        found = conn.execute(
            select(servers.c.created_at, servers.c.id).where(*matching, servers.c.id == marker)
        ).first()
    if found is None:
        raise InvalidMarker(marker)
    created_at, server_id = found
    return or_(
        servers.c.created_at < created_at,
        and_(servers.c.created_at == created_at, servers.c.id < server_id),
    )


def _count(conn: Connection, matching: list[ColumnElement[bool]]) -> int:
    count: int = conn.execute(
        select(func.count()).select_from(servers).where(*matching)
    ).scalar_one()
    return count


def _nodes_by_host(conn: Connection, host_ids: list[str]) -> dict[str, tuple[NumaNode, ...]]:
    result: dict[str, list[NumaNode]] = defaultdict(list)
    if host_ids:
        query = (
            select(numa_nodes)
            .where(numa_nodes.c.host_id.in_(host_ids))
            .order_by(numa_nodes.c.host_id, numa_nodes.c.node_index)
        )
        for row in conn.execute(query):
            result[row.host_id].append(node_from_row(row))
    return {k: tuple(v) for k, v in result.items()}
