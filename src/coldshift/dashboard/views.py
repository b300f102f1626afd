"""What the dashboard shows, read through the query service and cut to what a key may see.

An admin key sees every host of the region (DeHs with their project, pool hosts by name) and
every project's jobs; a tenant key sees its own DeHs, the pool nodes its own servers are on
(unnamed, without the occupancy other projects make) and its own jobs.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from coldshift.domain.catalog import Catalog, Project
from coldshift.domain.hosts import Host, HostKind
from coldshift.domain.job_types import COPIED_BYTES
from coldshift.domain.servers import DEDICATED, Server
from coldshift.jobs.model import Job, JobStatus
from coldshift.services.queries import JobColumns, NodeShare, Queries

#: a job type's step names, in order (empty: not known)
StepNames = Callable[[str], Sequence[str]]
RUNNING_LIMIT = 20
FAILED_LIMIT = 8


@dataclass(frozen=True, slots=True)
class ServerChip:
    name: str
    server_id: str
    status: str
    #: "placed", or "incoming"/"outgoing" while a migration moves it
    role: str
    vcpus: int
    memory_mb: int


@dataclass(frozen=True, slots=True)
class NodeBar:
    index: int
    vcpus_total: int
    vcpus_used: int
    memory_total: int
    memory_used: int
    servers: tuple[ServerChip, ...]
    #: False on a pool host seen by a tenant: the other projects' use is not shown
    occupancy: bool = True

    @property
    def vcpus_pct(self) -> int:
        return round(100 * self.vcpus_used / self.vcpus_total) if self.vcpus_total else 0

    @property
    def memory_pct(self) -> int:
        return round(100 * self.memory_used / self.memory_total) if self.memory_total else 0


@dataclass(frozen=True, slots=True)
class HostCard:
    id: str
    label: str
    kind: str
    host_type: str
    state: str
    project_id: str | None
    nodes: tuple[NodeBar, ...]


@dataclass
class ZoneView:
    name: str
    dehs: list[HostCard] = field(default_factory=list)
    pool: list[HostCard] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class SubJobRow:
    id: str
    job_type: str
    status: str
    server_id: str
    step: str
    copied: int | None
    total: int | None
    error_code: str | None
    fail_reason: str | None

    @property
    def copy_pct(self) -> int | None:
        if self.copied is None or not self.total:
            return None
        return min(100, round(100 * self.copied / self.total))


@dataclass(frozen=True, slots=True)
class JobRow:
    id: str
    project_id: str
    job_type: str
    status: str
    begin_time: float
    end_time: float | None
    sub_jobs: tuple[SubJobRow, ...]


@dataclass(frozen=True, slots=True)
class JobsView:
    running: list[JobRow]
    failed: list[JobRow]

    @property
    def signature(self) -> str:
        """Changes whenever a job starts or ends: the page then reads the hosts again."""
        return ",".join(f"{j.id}:{j.status}" for j in self.running)


class Dashboard:
    def __init__(self, queries: Queries, catalog: Catalog, step_names: StepNames) -> None:
        self._queries = queries
        self._catalog = catalog
        self._step_names = step_names

    @property
    def queries(self) -> Queries:
        return self._queries

    @property
    def catalog(self) -> Catalog:
        return self._catalog

    def projects_of(self, project: Project) -> list[Project]:
        return list(self._catalog.projects) if project.admin else [project]

    # ---- hosts -----------------------------------------------------------------------------
    def zones(self, project: Project) -> list[ZoneView]:
        servers = self._servers(project)
        hosts = self._hosts(project, servers)
        by_host: dict[str, list[NodeShare]] = defaultdict(list)
        for share in self._queries.node_shares([h.id for h in hosts]):
            by_host[share.host_id].append(share)
        zones = {az: ZoneView(az) for az in self._catalog.availability_zones}
        for host in sorted(hosts, key=lambda h: (h.availability_zone, h.kind, h.name, h.id)):
            zone = zones.setdefault(host.availability_zone, ZoneView(host.availability_zone))
            shares = by_host[host.id]
            if host.kind is HostKind.DEH:
                zone.dehs.append(_card(host, host.name, shares, servers, admin=True))
            elif project.admin:
                zone.pool.append(_card(host, host.name, shares, servers, admin=True))
            else:
                label = f"public pool host {len(zone.pool) + 1}"
                zone.pool.append(_card(host, label, shares, servers, admin=False))
        return [zones[name] for name in sorted(zones)]

    def _hosts(self, project: Project, servers: dict[str, Server]) -> list[Host]:
        """Every host (admin); or the project's DeHs and the pool hosts its servers are on."""
        if project.admin:
            return self._queries.hosts_in_use(None)
        pool = [s for s in servers.values() if s.tenancy != DEDICATED and s.host_id]
        return self._queries.hosts_in_use(project.id) + list(self._queries.hosts_of(pool).values())

    def _servers(self, project: Project) -> dict[str, Server]:
        return {
            s.id: s for p in self.projects_of(project) for s in self._queries.project_servers(p.id)
        }

    # ---- jobs ------------------------------------------------------------------------------
    def jobs(self, project: Project) -> JobsView:
        running: list[JobRow] = []
        failed: list[JobRow] = []
        for p in self.projects_of(project):
            for status in (JobStatus.INIT, JobStatus.RUNNING):
                running += self._page(p.id, status, RUNNING_LIMIT)
            failed += self._page(p.id, JobStatus.FAIL, FAILED_LIMIT)
        running.sort(key=lambda j: (j.begin_time, j.id))
        failed.sort(key=lambda j: (j.end_time or j.begin_time, j.id), reverse=True)
        return JobsView(running[:RUNNING_LIMIT], failed[:FAILED_LIMIT])

    def _page(self, project_id: str, status: JobStatus, limit: int) -> list[JobRow]:
        page = self._queries.job_page(project_id, JobColumns(status=status), limit=limit)
        return [self._row(job, children) for job, children in page.jobs]

    def _row(self, job: Job, children: list[Job]) -> JobRow:
        subs = tuple(self._sub_row(c) for c in (children or [job]))
        return JobRow(
            job.id,
            job.project_id,
            job.job_type,
            job.status.value,
            job.begin_time,
            job.end_time,
            subs,
        )

    def _sub_row(self, job: Job) -> SubJobRow:
        copied = job.progress.get(COPIED_BYTES)
        return SubJobRow(
            job.id,
            job.job_type,
            job.status.value,
            str(job.entities.get("server_id", "")),
            self._step(job),
            int(copied[0]) if copied else None,
            int(copied[1]) if copied else None,
            job.error_code,
            job.fail_reason,
        )

    def _step(self, job: Job) -> str:
        if job.status is JobStatus.INIT:
            return "queued"
        if job.status.terminal:
            return job.status.value.lower()
        names = self._step_names(job.job_type)
        if not names:
            return f"step {job.steps_done + 1}"
        index = min(job.steps_done, len(names) - 1)
        if job.compensating:
            return f"undoing {names[index]}"
        return f"{names[index]} ({index + 1}/{len(names)})"


def _card(
    host: Host, label: str, shares: list[NodeShare], servers: dict[str, Server], *, admin: bool
) -> HostCard:
    """A host drawn for a viewer; ``admin`` False: a pool host as a tenant may see it (no id,
    no occupancy, only the tenant's own servers)."""
    nodes = []
    for node in host.nodes:
        chips = tuple(
            ServerChip(
                servers[s.server_id].name,
                s.server_id,
                servers[s.server_id].status,
                str(s.role),
                s.vcpus,
                s.memory_mb,
            )
            for s in shares
            if s.node_index == node.index and s.server_id in servers
        )
        vcpus_used = node.vcpus_total - node.vcpus_free
        memory_used = node.memory_total - node.memory_free
        bar = NodeBar(
            node.index, node.vcpus_total, vcpus_used, node.memory_total, memory_used, chips, admin
        )
        nodes.append(bar)
    return HostCard(
        host.id if admin else "",
        label,
        host.kind.value,
        host.host_type,
        host.state.value,
        host.project_id if admin else None,
        tuple(nodes),
    )


__all__ = ["Dashboard", "JobsView", "StepNames", "ZoneView"]
