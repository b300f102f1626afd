"""The region's state in SQL: hosts, NUMA nodes, servers, claims; jobs recorded atomically."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager

from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    Connection,
    Table,
    and_,
    bindparam,
    func,
    or_,
    select,
    union,
)

from coldshift.domain.errors import InvalidMarker
from coldshift.domain.hosts import ClaimRole, Host, HostKind, NumaNode
from coldshift.domain.servers import Server, TaskState
from coldshift.jobs.model import Job, JobStatus
from coldshift.persistence.claim_store import SqlClaimStore
from coldshift.persistence.generations import mark_in
from coldshift.persistence.group_store import SqlGroupStore
from coldshift.persistence.host_store import SqlHostStore
from coldshift.persistence.job_store import job_from_row, load_job_tree
from coldshift.persistence.prepared import Prepared
from coldshift.persistence.rows import host_from_row, node_from_row, server_from_row
from coldshift.persistence.server_store import SqlServerStore
from coldshift.persistence.tables import claims, host_removals, hosts, jobs, numa_nodes, servers
from coldshift.services.ports import (
    JobColumns,
    JobPage,
    NodeShare,
    PoolChanges,
    ServerColumns,
    ServerPage,
)

_OUTGOING = ClaimRole.OUTGOING.value
_SWITCHED_TASK = TaskState.RESIZE_FINISH.value


# The reads of every GET of a server, every migrate and every job step: prepared once
# (persistence.prepared).
_SERVER_SELECT = select(servers).where(servers.c.id == bindparam("server_id"))
_SERVER = Prepared(_SERVER_SELECT)
_PROJECT_SERVER = Prepared(_SERVER_SELECT.where(servers.c.project_id == bindparam("project_id")))
_HOST_WITH_NODES = Prepared(
    select(hosts, *(c for c in numa_nodes.c if c.name != "host_id"))
    .outerjoin(numa_nodes, numa_nodes.c.host_id == hosts.c.id)
    .where(hosts.c.id == bindparam("host_id"))
    .order_by(numa_nodes.c.node_index)
)
_POOL = HostKind.POOL.value


class SqlRegionStore(SqlServerStore, SqlHostStore, SqlClaimStore, SqlGroupStore):
    """services.ports.RegionStore in SQL: the reads here, the writes by port in
    server_store, host_store, claim_store and group_store."""

    # ---- reads -------------------------------------------------------------------------

    def snapshot(self) -> AbstractContextManager[None]:
        return self._db.snapshot()

    def get_server(self, project_id: str | None, server_id: str) -> Server | None:
        with self._db.read() as conn:
            if project_id is None:
                row = _SERVER.execute(conn, {"server_id": server_id}).first()
            else:
                given = {"server_id": server_id, "project_id": project_id}
                row = _PROJECT_SERVER.execute(conn, given).first()
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
            keyset = [] if after is None else [_past_marker(conn, servers, matching, after)]
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
            rows = _HOST_WITH_NODES.execute(conn, {"host_id": host_id}).rows
        if not rows:
            return None
        nodes = tuple(node_from_row(r) for r in rows if r.node_index is not None)
        return host_from_row(rows[0], nodes)

    def pool_changes(self, availability_zone: str | None, since: int | None) -> PoolChanges:
        """One read transaction: the mark first, then the removals, the hosts and their
        nodes (persistence/generations.py says why nothing is missed; on PostgreSQL each
        statement sees a state after the mark, and what changed between them is read again
        next time)."""
        where = [hosts.c.kind == _POOL]
        gone = [host_removals.c.kind == _POOL, host_removals.c.generation >= (since or 0)]
        if since is not None:
            # By ix_hosts_generation alone: the AZ is filtered below, since with it here
            # SQLite would read the AZ by ix_hosts_az_type, every host of it
            where.append(hosts.c.generation >= since)
        elif availability_zone is not None:
            where.append(hosts.c.availability_zone == availability_zone)
        host_query = select(hosts).where(*where)
        removals = select(host_removals.c.host_id, host_removals.c.availability_zone)
        with self._db.read() as conn:
            mark = mark_in(conn)
            gone_rows = conn.execute(removals.where(*gone)).all() if since is not None else []
            host_rows = conn.execute(
                host_query.order_by(hosts.c.allocated_at, hosts.c.name, hosts.c.id)
            ).all()
            if since is None:  # every node in key order, rather than a list of every host
                nodes = _nodes_of_pool(conn, where)
            else:  # by the few hosts' ids: a join could scan every node
                nodes = _nodes_by_host(conn, [r.id for r in host_rows])
        found = [host_from_row(r, nodes.get(r.id, ())) for r in host_rows]
        if availability_zone is not None:
            found = [h for h in found if h.availability_zone == availability_zone]
            gone_rows = [r for r in gone_rows if r.availability_zone == availability_zone]
        return PoolChanges(found, [r.host_id for r in gone_rows], mark)

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

    def node_shares(self, host_ids: Sequence[str]) -> list[NodeShare]:
        query = (
            select(
                claims.c.server_id,
                claims.c.host_id,
                claims.c.node_index,
                claims.c.vcpus,
                claims.c.memory_mb,
                claims.c.role,
            )
            .where(claims.c.host_id.in_(list(host_ids)))
            .order_by(claims.c.host_id, claims.c.node_index, claims.c.server_id)
        )
        with self._db.read() as conn:
            return [NodeShare(*row) for row in conn.execute(query)]

    def job_counts(self) -> dict[tuple[str, JobStatus], int]:
        query = select(jobs.c.job_type, jobs.c.status, func.count()).group_by(
            jobs.c.job_type, jobs.c.status
        )
        with self._db.read() as conn:
            return {(t, JobStatus(s)): n for t, s, n in conn.execute(query)}

    def page_jobs(
        self, project_id: str, where: JobColumns, *, limit: int, after: str | None = None
    ) -> JobPage:
        top = [jobs.c.project_id == project_id, jobs.c.parent_id.is_(None)]
        status = where.status.value if where.status else None
        wanted = {jobs.c.status: status, jobs.c.job_type: where.job_type}
        matching = [*top, *(column == value for column, value in wanted.items() if value)]
        with self._db.read() as conn:
            keyset = [] if after is None else [_past_marker(conn, jobs, top, after)]
            # The page's ids (one beyond it tells whether more follow) and, in the same
            # statement, their sub-jobs: one query however many jobs the page holds.
            page = (
                select(jobs.c.id)
                .where(*matching, *keyset)
                .order_by(jobs.c.created_at.desc(), jobs.c.id.desc())
                .limit(limit + 1)
                .scalar_subquery()
            )
            rows = conn.execute(
                select(jobs)
                .where(or_(jobs.c.id.in_(page), jobs.c.parent_id.in_(page)))
                .order_by(jobs.c.created_at.desc(), jobs.c.id.desc(), jobs.c.position)
            ).all()
        parents = [r for r in rows if r.parent_id is None]
        children: dict[str, list[Job]] = defaultdict(list)
        for row in sorted((r for r in rows if r.parent_id), key=lambda r: r.position):
            children[row.parent_id].append(job_from_row(row))
        found = [(job_from_row(r), children[r.id]) for r in parents[:limit]]
        return JobPage(jobs=found, more=len(parents) > limit)


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


def _column_equalities(where: ServerColumns) -> list[ColumnElement[bool]]:
    wanted = {
        servers.c.flavor_id: where.flavor_id,
        servers.c.image_ref: where.image_ref,
        servers.c.id: where.server_id,
        servers.c.availability_zone: where.availability_zone,
    }
    return [column == value for column, value in wanted.items() if value is not None]


def _past_marker(
    conn: Connection, table: Table, matching: list[ColumnElement[bool]], marker: str
) -> ColumnElement[bool]:
    """A listing's rows of ``table`` after the matching row ``marker`` (newest first, id
    breaking ties), as a keyset condition that the created_at indexes serve."""
    # PostgreSQL refuses NUL in text, and no id holds one.
    found = None
    if "\x00" not in marker:
        found = conn.execute(
            select(table.c.created_at, table.c.id).where(*matching, table.c.id == marker)
        ).first()
    if found is None:
        raise InvalidMarker(marker)
    created_at, row_id = found
    return or_(
        table.c.created_at < created_at,
        and_(table.c.created_at == created_at, table.c.id < row_id),
    )


def _count(conn: Connection, matching: list[ColumnElement[bool]]) -> int:
    count: int = conn.execute(
        select(func.count()).select_from(servers).where(*matching)
    ).scalar_one()
    return count


def _nodes_of_pool(
    conn: Connection, where: list[ColumnElement[bool]]
) -> dict[str, tuple[NumaNode, ...]]:
    query = (
        select(numa_nodes)
        .join(hosts, hosts.c.id == numa_nodes.c.host_id)
        .where(*where)
        .order_by(numa_nodes.c.host_id, numa_nodes.c.node_index)
    )
    result: dict[str, list[NumaNode]] = defaultdict(list)
    for row in conn.execute(query):
        result[row.host_id].append(node_from_row(row))
    return {k: tuple(v) for k, v in result.items()}


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
