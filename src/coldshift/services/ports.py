"""What the services need from storage and from the job engine (implemented by adapters)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol

from coldshift.domain.groups import GroupRule, ServerGroup
from coldshift.domain.hosts import Host, HostChange, HostKind, Placement
from coldshift.domain.lifecycle import TaskChange
from coldshift.domain.quotas import QuotaGuard
from coldshift.domain.servers import Server, TaskState
from coldshift.jobs.model import Job, JobStatus, MaintenanceTask, NewJob


@dataclass(frozen=True, slots=True)
class TaskGuard:
    """Start a task on an idle, unlocked server for the job ``job_id`` (``change``: a
    transition from no task, see domain.lifecycle), or refuse the whole submission.

    ``vm_state`` and ``host_id``, when given, must still be what the request checked: a
    concurrent request may have changed them between the check and the submission.
    """

    server_id: str
    change: TaskChange
    job_id: str
    vm_state: str | None = None
    host_id: str | None = None


@dataclass(frozen=True, slots=True)
class HostFence:
    """A drain's fence: the DeH ``host_id`` takes no claim while the job ``job_id`` runs
    (recorded with the job; cleared in the transaction that ends it). Refused (HostDraining)
    when another drain fences it already."""

    host_id: str
    job_id: str


@dataclass(frozen=True, slots=True)
class ClientToken:
    """An ``X-Client-Token`` create: the same token and body within 24 h get the same answer."""

    project_id: str
    token: str
    body_hash: str
    response: dict[str, Any]


@dataclass(frozen=True, slots=True)
class GroupJoin:
    """The new servers of a submission join ECS group ``group_id``, which may then hold at
    most ``limit`` members (counted inside the submission's write)."""

    group_id: str
    limit: int


@dataclass(frozen=True, slots=True)
class ServerColumns:
    """Listing filters that are plain column equalities, so the store can filter and page in
    SQL instead of loading the whole project. ``None`` filters nothing."""

    flavor_id: str | None = None
    image_ref: str | None = None
    server_id: str | None = None
    availability_zone: str | None = None


@dataclass(frozen=True, slots=True)
class JobColumns:
    """Job listing filters, column equalities as ServerColumns are. ``None`` filters nothing."""

    status: JobStatus | None = None
    job_type: str | None = None


@dataclass(frozen=True, slots=True)
class JobPage:
    """One page of the job listing: each top-level job with its sub-jobs (in their order),
    and whether more jobs follow."""

    jobs: list[tuple[Job, list[Job]]]
    more: bool


@dataclass(frozen=True, slots=True)
class ServerPage:
    """One page of a listing: its servers, whether more follow, and (when asked) how many
    servers match in all."""

    servers: list[Server]
    more: bool
    total: int | None


@dataclass(frozen=True, slots=True)
class NodeShare:
    """One claim row: the room a server takes on one NUMA node of a host, and what for
    (``ClaimRole``)."""

    server_id: str
    host_id: str
    node_index: int
    vcpus: int
    memory_mb: int
    role: str


@dataclass(frozen=True, slots=True)
class PoolChanges:
    """Public pool hosts as ``HostReads.pool_changes`` read them: those changed since a mark,
    or all of them."""

    #: the pool hosts (in any state) changed since the mark, or every one, in the store's order
    hosts: list[Host]
    #: the ids of the pool hosts removed since the mark (none on a read of every host)
    removed: list[str]
    #: what to pass as ``since`` next time: every change committed after this read began
    #: is at or after it
    mark: int


class DuplicateSubmission(Exception):
    """Another request recorded the same client token first."""


class HostReads(Protocol):
    """The reads of hosts and of what they carry: what pool capacity and claims read."""

    def get_host(self, host_id: str) -> Host | None: ...

    def list_hosts(
        self,
        *,
        kind: HostKind | None = None,
        project_id: str | None = None,
        host_ids: Sequence[str] | None = None,
        availability_zone: str | None = None,
    ) -> list[Host]:
        """Hosts in allocation order (allocated_at, then name, then id)."""
        ...

    def servers_on_host(self, host_id: str) -> list[Server]:
        """The servers a host lists (api.md §5.7), oldest first: those placed there (except
        one switched onto it whose migration has not ended) and those leaving it."""
        ...

    def instance_ids_by_host(self, host_ids: Iterable[str]) -> dict[str, list[str]]:
        """``servers_on_host``'s ids for each of ``host_ids`` that lists any."""
        ...


class PoolReads(HostReads, Protocol):
    """The reads of the public pool's capacity index (services/pool_capacity.py)."""

    def pool_changes(self, availability_zone: str | None, since: int | None) -> PoolChanges:
        """The AZ's (None: every AZ's) public pool hosts changed or removed at or after the
        mark ``since`` (an earlier answer's ``mark``; None: every host). Another process's
        changes count too: nothing committed after the mark was taken is missed (a host
        changed twice is read once, as it is now)."""
        ...


class RegionReads(HostReads, Protocol):
    """The reads of the region's storage: all the query service needs."""

    def snapshot(self) -> AbstractContextManager[None]:
        """Reads made by this thread inside it see one state of the region (one read
        transaction), at the cost of one: a request's checks read together."""
        ...

    def get_server(self, project_id: str | None, server_id: str) -> Server | None: ...

    def list_servers(self, project_id: str) -> list[Server]:
        """The project's servers, newest first (created_at, then id, descending)."""
        ...

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
        """The ``limit`` matches, in ``list_servers`` order, past ``offset`` or after the
        match ``after`` (InvalidMarker when no match has that id)."""
        ...

    def count_servers(self, project_id: str) -> int: ...

    def job_tree(self, project_id: str, job_id: str) -> tuple[Job, list[Job]] | None:
        """A top-level job of the project and its children, in their order."""
        ...

    def node_shares(self, host_ids: Sequence[str]) -> list[NodeShare]:
        """Every claim on these hosts, by host, node, then server id."""
        ...

    def job_counts(self) -> dict[tuple[str, JobStatus], int]:
        """How many jobs (top-level and sub-jobs, every project) of each type and status."""
        ...

    def page_jobs(
        self, project_id: str, where: JobColumns, *, limit: int, after: str | None = None
    ) -> JobPage:
        """The ``limit`` top-level jobs of the project that match ``where``, newest first
        (created time, then id, descending), after the project's top-level job ``after``
        (InvalidMarker when it has none of that id; the marker need not match ``where``, as
        a job's status moves on between pages)."""
        ...


class ServerStore(Protocol):
    """The writes of servers: a job recorded with the server changes that start it, and the
    task changes its steps make."""

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
        """Record ``job`` with ``new_servers`` (members of ``group`` when given), the guards'
        task changes and the client token, all or nothing: ServerBusy when a guarded server
        is not idle (domain.lifecycle) or no longer has the checked vm_state or host,
        QuotaExceeded, GroupFull, ServerGroupNotFound, DuplicateSubmission, HostDraining."""
        ...

    def one_transaction(self) -> AbstractContextManager[None]:
        """The reads and writes this thread makes inside it share one write transaction,
        committed at its end, rolled back if it raises: a request's checks and the submission
        they allow, with one transaction's cost. What a check relies on must still be guarded
        by the write (TaskGuard): on PostgreSQL two reads in it may see two states."""
        ...

    def find_client_token(
        self, project_id: str, token: str, not_before: float
    ) -> ClientToken | None: ...

    def change_task(self, server_id: str, change: TaskChange) -> None:
        """Apply ``change`` as one guarded statement; IllegalTransition if the server's task
        is not one the transition starts from (nor already its target)."""
        ...

    def set_locked(self, server_id: str, locked: bool, frozen_during: frozenset[TaskState]) -> bool:
        """Set the lock unless one of the ``frozen_during`` tasks runs (False then)."""
        ...

    def delete_server(self, server_id: str) -> list[str]:
        """Remove the server, its claims and its group membership; the ids of the hosts
        whose room grew."""
        ...


class GroupStore(Protocol):
    """ECS groups and their members. The anti-affinity rule itself is kept by the claims:
    a member's claim on a host takes, in the claim's transaction, the group's one place on
    that host, so that of two members racing for one host exactly one wins."""

    def add_group(self, group: ServerGroup) -> None: ...

    def get_group(self, project_id: str, group_id: str) -> ServerGroup | None:
        """The project's group with its members; None for an unknown or foreign id."""
        ...

    def list_groups(self, project_id: str) -> list[ServerGroup]:
        """The project's groups, oldest first (created_at, then id)."""
        ...

    def delete_group(self, group_id: str) -> None:
        """Remove the group; its members leave it (the rule no longer binds them)."""
        ...

    def add_members(self, group_id: str, server_ids: Sequence[str], limit: int) -> None:
        """All or nothing: the servers join the group, each stopped and idle, and each
        taking the group's place on the host it is on. ServerGroupNotFound, GroupFull (more
        than ``limit`` members), ServerBusy (not stopped, or a task runs),
        GroupMembershipRefused (in another group, or its host holds another member).
        A server already in this group is left as it is."""
        ...

    def remove_members(self, group_id: str, server_ids: Sequence[str]) -> None:
        """All or nothing: the servers leave the group and give up its places on their
        hosts. ServerGroupNotFound; GroupMembershipRefused when one is not a member."""
        ...

    def group_rule(self, server_id: str) -> GroupRule | None:
        """The server's group and the hosts it closes to the server; None outside groups."""
        ...


class HostStore(Protocol):
    """The writes of hosts: the public pool's reconciliation and the DeH use cases."""

    def add_hosts(self, new_hosts: Sequence[Host], quota: QuotaGuard | None = None) -> None:
        """Add hosts with their NUMA nodes; QuotaExceeded (nothing added) when ``quota``,
        counted inside the write, refuses."""
        ...

    def remove_hosts(self, host_ids: Sequence[str]) -> None: ...

    def machines_in_use(self) -> set[str]:
        """The physical hosts that stand under a DeH that is not released."""
        ...

    def update_host(self, host_id: str, change: HostChange) -> None:
        """Rename a host or switch its auto placement (the fields ``change`` gives)."""
        ...

    def release_host(self, host_id: str) -> None:
        """Release a DeH; HostInUse (nothing changed) while a server is on it, migrates to
        it, or a claim holds room on it."""
        ...


class ClaimStore(Protocol):
    """The claims of NUMA room that place servers on hosts, and the moves between them."""

    def claim(
        self,
        server_id: str,
        placement: Placement,
        role: str = "placed",
        then: TaskChange | None = None,
    ) -> bool:
        """Atomically take the room of ``placement`` (and apply ``then`` with it); False,
        with nothing changed, when a concurrent claim took the room first."""
        ...

    def has_claims(self, server_id: str, role: str = "placed") -> bool: ...

    def claimed_host(self, server_id: str, role: str) -> str | None:
        """The host on which ``server_id`` holds claims of ``role``, if any."""
        ...

    def claimed_nodes(self, server_id: str, role: str) -> tuple[int, ...]:
        """The NUMA nodes of the host on which ``server_id`` holds claims of ``role``, in
        order (empty: none)."""
        ...

    def switch_over(self, server_id: str, change: TaskChange | None) -> bool:
        """In one transaction: the "incoming" claims become "placed", the old "placed" ones
        "outgoing", and the server takes ``change``. False (and nothing done) when the server
        holds no "incoming" claim, e.g. because the switch is already done."""
        ...

    def release_claims(
        self, server_id: str, role: str | None = None, then: TaskChange | None = None
    ) -> list[str]:
        """Give back the server's claims (all, or those of ``role``); the ids of the hosts
        whose room grew. Idempotent."""
        ...


class PlacementStore(PoolReads, ClaimStore, Protocol):
    """What a claim reads and writes: the hosts, and the claims on them."""

    def group_rule(self, server_id: str) -> GroupRule | None: ...


class PoolInventory(HostReads, HostStore, Protocol):
    """What reconciling the public pool with the catalog reads and writes."""


class RegionStore(RegionReads, PoolReads, ServerStore, HostStore, ClaimStore, GroupStore, Protocol):
    """Every port at once: what the composition root builds and ``Region.store`` holds."""


class MaintenanceLog(Protocol):
    def list_maintenance(self, *, pending_only: bool = True) -> list[MaintenanceTask]:
        """The clean-up tasks jobs left (jobs.maintenance), oldest first."""
        ...


class JobNotifier(Protocol):
    def notify(self, count: int = 1) -> None:
        """Jobs were recorded: wake a worker."""


class RegionObserver(Protocol):
    """Told what placement decided and how many bytes copies moved, for metrics. Called on
    a job's thread: it must be cheap and must not raise."""

    def placed(self, availability_zone: str, host_kind: str) -> None:
        """A claim took room on a host of ``host_kind`` (``HostKind``)."""

    def rejected(self, availability_zone: str, host_kind: str, cause: str) -> None:
        """Nothing could be claimed, for ``cause`` (``NoRoom.cause``)."""

    def bytes_copied(self, count: int) -> None:
        """A disk copy moved ``count`` more bytes."""


class NoRegionObserver:
    """The observer of a region nobody watches."""

    def placed(self, availability_zone: str, host_kind: str) -> None:
        pass

    def rejected(self, availability_zone: str, host_kind: str, cause: str) -> None:
        pass

    def bytes_copied(self, count: int) -> None:
        pass


NO_REGION_OBSERVER = NoRegionObserver()


class ChangeStamps(Protocol):
    """What lets a read be served again from a cache (persistence.change_feed implements it)."""

    def stamp(self, tables: Iterable[str]) -> int | None:
        """A number that differs from every earlier one once a commit made before this call
        wrote one of ``tables``; None when that cannot be vouched for (serve no cache)."""
        ...

    async def stamp_async(self, tables: Iterable[str]) -> int | None:
        """``stamp``, awaited on an event loop that it never blocks."""
        ...


class Uncached:
    """No stamps: nothing is served from a cache (a store without a change feed)."""

    def stamp(self, tables: Iterable[str]) -> int | None:
        return None

    async def stamp_async(self, tables: Iterable[str]) -> int | None:
        return None


UNCACHED = Uncached()
