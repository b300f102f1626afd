"""The query service's own decisions, over a stub of the storage reads that records what it
was asked (its answers to real data are covered by the e2e and integration suites)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager, nullcontext

import pytest

from coldshift.catalog.loader import load_default_catalog
from coldshift.domain.errors import DedicatedHostNotFound, JobNotFound, ServerNotFound
from coldshift.domain.hosts import Host, HostKind, HostState
from coldshift.domain.servers import Server
from coldshift.jobs.model import Job, JobStatus
from coldshift.services.ports import NodeShare
from coldshift.services.queries import JobColumns, JobPage, Queries, ServerColumns, ServerPage

JOB_ID = "0" * 32


class StubReads:
    """Answers from two dicts and logs each call, so a test sees what was read."""

    def __init__(self, servers: Sequence[Server] = (), hosts: Sequence[Host] = ()) -> None:
        self.servers = {s.id: s for s in servers}
        self.hosts = {h.id: h for h in hosts}
        self.calls: list[tuple[str, object]] = []

    def snapshot(self) -> AbstractContextManager[None]:
        return nullcontext()

    def get_server(self, project_id: str | None, server_id: str) -> Server | None:
        self.calls.append(("get_server", server_id))
        server = self.servers.get(server_id)
        return server if server is not None and server.project_id == project_id else None

    def list_servers(self, project_id: str) -> list[Server]:
        return [s for s in self.servers.values() if s.project_id == project_id]

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
        self.calls.append(("page_servers", (project_id, where, limit, offset, after, with_total)))
        return ServerPage([], more=False, total=None)

    def servers_on_host(self, host_id: str) -> list[Server]:
        self.calls.append(("servers_on_host", host_id))
        return [s for s in self.servers.values() if s.host_id == host_id]

    def count_servers(self, project_id: str) -> int:
        return len(self.list_servers(project_id))

    def get_host(self, host_id: str) -> Host | None:
        self.calls.append(("get_host", host_id))
        return self.hosts.get(host_id)

    def list_hosts(
        self,
        *,
        kind: HostKind | None = None,
        project_id: str | None = None,
        host_ids: Sequence[str] | None = None,
        availability_zone: str | None = None,
    ) -> list[Host]:
        self.calls.append(("list_hosts", host_ids))
        return [h for h in self.hosts.values() if host_ids is None or h.id in host_ids]

    def instance_ids_by_host(self, host_ids: Iterable[str]) -> dict[str, list[str]]:
        return {}

    def node_shares(self, host_ids: Sequence[str]) -> list[NodeShare]:
        return []

    def job_counts(self) -> dict[tuple[str, JobStatus], int]:
        return {}

    def job_tree(self, project_id: str, job_id: str) -> tuple[Job, list[Job]] | None:
        self.calls.append(("job_tree", job_id))
        return None

    def page_jobs(
        self, project_id: str, where: JobColumns, *, limit: int, after: str | None = None
    ) -> JobPage:
        self.calls.append(("page_jobs", after))
        return JobPage(jobs=[], more=False)


def _server(server_id: str, host_id: str | None, project_id: str = "p1") -> Server:
    return Server(
        id=server_id,
        project_id=project_id,
        name=server_id,
        flavor_id="s6.small.1",
        availability_zone="az-a",
        vm_state="active",
        task_state=None,
        power_state=1,
        locked=False,
        host_id=host_id,
        tenancy="shared",
        dedicated_host_id=None,
        image_ref="image",
        vpc_id="vpc",
        details={},
        created_at=0.0,
        updated_at=0.0,
        launched_at=None,
    )


def _deh(host_id: str, project_id: str | None = "p1") -> Host:
    return Host(
        id=host_id,
        kind=HostKind.DEH,
        name=host_id,
        project_id=project_id,
        availability_zone="az-a",
        host_type="s6",
        state=HostState.AVAILABLE,
        auto_placement="off",
        vcpus=8,
        memory_mb=8192,
        sockets=1,
        cores=8,
        allocated_at=0.0,
        released_at=None,
    )


def _queries(store: StubReads) -> Queries:
    return Queries(store, load_default_catalog())


def test_a_hostless_server_is_answered_without_a_host_read() -> None:
    store = StubReads([_server("a", None)])
    assert _queries(store).server_and_host("p1", "a") == (store.servers["a"], None)
    assert store.calls == [("get_server", "a")]


def test_another_projects_server_is_not_found() -> None:
    store = StubReads([_server("a", None, project_id="p2")])
    with pytest.raises(ServerNotFound):
        _queries(store).server("p1", "a")


def test_the_hosts_of_servers_are_read_once_by_their_distinct_sorted_ids() -> None:
    store = StubReads([], [_deh("h1"), _deh("h2")])
    servers = [_server("a", "h2"), _server("b", "h1"), _server("c", "h2"), _server("d", None)]
    assert _queries(store).hosts_of(servers) == store.hosts
    assert store.calls == [("list_hosts", ["h1", "h2"])]


def test_servers_on_no_host_need_no_read() -> None:
    store = StubReads()
    assert _queries(store).hosts_of([_server("a", None)]) == {}
    assert store.calls == []


def test_a_text_that_is_no_job_id_is_not_found_without_a_read() -> None:
    store = StubReads()
    with pytest.raises(JobNotFound):
        _queries(store).job("p1", "not-a-job")
    assert store.calls == []


def test_an_absent_job_is_not_found() -> None:
    store = StubReads()
    with pytest.raises(JobNotFound):
        _queries(store).job("p1", JOB_ID)
    assert store.calls == [("job_tree", JOB_ID)]


@pytest.mark.parametrize("host", [_deh("h1", project_id="p2"), _deh("h1", project_id=None)])
def test_a_deh_of_another_project_is_not_found_and_its_servers_are_not_read(host: Host) -> None:
    store = StubReads([_server("a", "h1")], [host])
    with pytest.raises(DedicatedHostNotFound):
        _queries(store).deh_servers("p1", "h1")
    assert ("servers_on_host", "h1") not in store.calls


def test_a_server_page_is_asked_of_the_store_as_given() -> None:
    store = StubReads()
    where = ServerColumns(flavor_id="f")
    _queries(store).server_page("p1", where, limit=5, offset=10, with_total=True)
    assert store.calls == [("page_servers", ("p1", where, 5, 10, None, True))]
