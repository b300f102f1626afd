"""The read side: what the API and the dashboard ask about servers, hosts and jobs.

It answers from the storage port and never changes the region; the write side lives in the
other service modules.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from coldshift.domain.catalog import Catalog
from coldshift.domain.errors import DedicatedHostNotFound, JobNotFound, ServerNotFound
from coldshift.domain.hosts import Host, HostKind, HostState
from coldshift.domain.ids import is_job_id
from coldshift.domain.servers import Server
from coldshift.jobs.model import Job
from coldshift.services.ports import (
    ChangeStamps,
    JobColumns,
    JobPage,
    NodeShare,
    RegionReads,
    ServerColumns,
    ServerPage,
)

# Listing callers name the filters and read the page, and the API's read cache checks its
# stamps, without reaching for the storage port.
__all__ = [
    "ChangeStamps",
    "JobColumns",
    "JobPage",
    "NodeShare",
    "Queries",
    "QuotaLine",
    "ServerColumns",
    "ServerPage",
    "deh_quota",
]


@dataclass(frozen=True, slots=True)
class QuotaLine:
    resource: str
    hard_limit: int
    used: int


def deh_quota(catalog: Catalog, project_id: str) -> int:
    """How many DeHs the project may hold (0 for a project the catalog does not know)."""
    project = catalog.project(project_id)
    return project.quotas.dedicated_hosts if project else 0


@dataclass(frozen=True, slots=True)
class Queries:
    store: RegionReads
    catalog: Catalog

    def server(self, project_id: str, server_id: str) -> Server:
        """A server of the project; another project's answers exactly like an unknown one."""
        server = self.store.get_server(project_id, server_id)
        if server is None:
            raise ServerNotFound(server_id)
        return server

    def server_and_host(self, project_id: str, server_id: str) -> tuple[Server, Host | None]:
        """A server of the project and the host it is on (None while it is on none)."""
        server = self.server(project_id, server_id)
        return server, self.store.get_host(server.host_id) if server.host_id else None

    def project_servers(self, project_id: str) -> list[Server]:
        """Every server of the project, in listing order."""
        return self.store.list_servers(project_id)

    def server_page(
        self,
        project_id: str,
        where: ServerColumns,
        *,
        limit: int,
        offset: int = 0,
        after: str | None = None,
        with_total: bool = False,
    ) -> ServerPage:
        """One page of the project's servers that match ``where`` (see RegionReads)."""
        return self.store.page_servers(
            project_id, where, limit=limit, offset=offset, after=after, with_total=with_total
        )

    def hosts_of(self, servers: Iterable[Server]) -> dict[str, Host]:
        """The hosts these servers are on, by id."""
        host_ids = {s.host_id for s in servers if s.host_id}
        if not host_ids:
            return {}
        return {h.id: h for h in self.store.list_hosts(host_ids=sorted(host_ids))}

    def job(self, project_id: str, job_id: str) -> tuple[Job, list[Job]]:
        """A job of the project and its sub-jobs; another project's job, or an id that is not
        a job id, answers exactly like an unknown one."""
        tree = self.store.job_tree(project_id, job_id) if is_job_id(job_id) else None
        if tree is None:
            raise JobNotFound(job_id)
        return tree

    def job_page(
        self, project_id: str, where: JobColumns, *, limit: int, after: str | None = None
    ) -> JobPage:
        """One page of the project's top-level jobs, newest first (see RegionReads)."""
        return self.store.page_jobs(project_id, where, limit=limit, after=after)

    def deh(self, project_id: str, host_id: str) -> Host:
        """A DeH of the project; another project's DeH answers exactly like an unknown one."""
        host = self.store.get_host(host_id)
        if host is None or host.kind is not HostKind.DEH or host.project_id != project_id:
            raise DedicatedHostNotFound(host_id)
        return host

    def deh_servers(self, project_id: str, host_id: str) -> list[Server]:
        """The servers on a DeH of the project."""
        return self.store.servers_on_host(self.deh(project_id, host_id).id)

    def project_dehs(self, project_id: str, include_released: bool = False) -> list[Host]:
        return [
            h
            for h in self.store.list_hosts(kind=HostKind.DEH, project_id=project_id)
            if include_released or h.state is not HostState.RELEASED
        ]

    def all_dehs(self) -> list[Host]:
        """Every project's DeHs, released ones too."""
        return self.store.list_hosts(kind=HostKind.DEH)

    def hosts_in_use(self, project_id: str | None) -> list[Host]:
        """The hosts not released: a project's DeHs, or (None) every host of the region."""
        if project_id is not None:
            return self.project_dehs(project_id)
        return [h for h in self.store.list_hosts() if h.state is not HostState.RELEASED]

    def node_shares(self, host_ids: Sequence[str]) -> list[NodeShare]:
        """Who takes room on which NUMA node of these hosts (placed, incoming, outgoing)."""
        return self.store.node_shares(host_ids) if host_ids else []

    def instance_ids_by_host(self, host_ids: Iterable[str]) -> dict[str, list[str]]:
        """The ids of the servers on each of these hosts (hosts with none are left out)."""
        return self.store.instance_ids_by_host(host_ids)

    def quota(self, project_id: str, resource: str | None) -> list[QuotaLine]:
        """One line per host type; the DeH quota is shared by every type, so each line shows
        it."""
        dehs = self.project_dehs(project_id)
        limit = deh_quota(self.catalog, project_id)
        lines = [
            QuotaLine(t.host_type, limit, sum(1 for h in dehs if h.host_type == t.host_type))
            for t in self.catalog.host_types
        ]
        return [q for q in lines if resource is None or q.resource == resource]
