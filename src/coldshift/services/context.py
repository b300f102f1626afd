"""What every service function needs: catalog, store, clock, job notifier, pool index, and
the read side built over the store."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from coldshift.domain.catalog import Catalog, Flavor
from coldshift.domain.errors import FlavorNotFound
from coldshift.domain.lifecycle import TaskChange
from coldshift.domain.quotas import QuotaGuard
from coldshift.domain.servers import Server
from coldshift.drivers.base import HypervisorDriver
from coldshift.jobs.model import NewJob
from coldshift.services.pool_capacity import PoolCapacity
from coldshift.services.ports import (
    NO_REGION_OBSERVER,
    UNCACHED,
    ChangeStamps,
    ClientToken,
    GroupJoin,
    HostFence,
    JobNotifier,
    MaintenanceLog,
    RegionObserver,
    RegionStore,
    TaskGuard,
)
from coldshift.services.queries import Queries


@dataclass(frozen=True)
class Region:
    catalog: Catalog
    store: RegionStore
    driver: HypervisorDriver
    notifier: JobNotifier
    clock: Callable[[], float]
    #: what jobs left to clean up, for admins
    maintenance: MaintenanceLog
    #: the public pool's capacity as this process last read it (bootstrap rebuilds it at start;
    #: otherwise each AZ is read at its first placement)
    pool: PoolCapacity = field(default_factory=PoolCapacity)
    #: told placement decisions and bytes copied (the metrics adapter, or nobody)
    observer: RegionObserver = NO_REGION_OBSERVER
    #: what the API's read cache checks its answers against (none: nothing is cached)
    changes: ChangeStamps = UNCACHED
    #: the read side over ``store``: built once here, so every caller (and the hot GET paths)
    #: shares one instance
    queries: Queries = field(init=False, repr=False, compare=False)
    # the submissions this thread made inside one_transaction, told to the workers at its end
    _in_transaction: threading.local = field(
        default_factory=threading.local, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        object.__setattr__(self, "queries", Queries(self.store, self.catalog))

    def flavor(self, flavor_id: str) -> Flavor:
        flavor = self.catalog.flavor(flavor_id)
        if flavor is None:
            raise FlavorNotFound(flavor_id)
        return flavor

    def server(self, project_id: str, server_id: str) -> Server:
        return self.queries.server(project_id, server_id)

    def submit(
        self,
        job: NewJob,
        *,
        new_servers: tuple[Server, ...] = (),
        guards: tuple[TaskGuard, ...] = (),
        client_token: ClientToken | None = None,
        quota: QuotaGuard | None = None,
        group: GroupJoin | None = None,
        fence: HostFence | None = None,
    ) -> None:
        self.store.submit(
            job,
            new_servers=new_servers,
            guards=guards,
            client_token=client_token,
            quota=quota,
            group=group,
            fence=fence,
        )
        runnable = max(1, len(job.children))
        deferred: list[int] | None = getattr(self._in_transaction, "runnable", None)
        if deferred is None:
            self.notifier.notify(runnable)
        else:
            deferred.append(runnable)  # told at the commit: see one_transaction

    @contextmanager
    def one_transaction(self) -> Iterator[None]:
        """A request's checks and the submission they allow in one write transaction
        (RegionStore.one_transaction). The workers are told of what ``submit`` recorded after
        the commit: woken inside the transaction they would not see the job yet."""
        deferred: list[int] = []
        self._in_transaction.runnable = deferred
        try:
            with self.store.one_transaction():
                yield
        finally:
            self._in_transaction.runnable = None
        for runnable in deferred:
            self.notifier.notify(runnable)

    def release_claims(
        self, server_id: str, role: str | None = None, then: TaskChange | None = None
    ) -> None:
        """Give back a server's claims; the pool index learns of the room given back."""
        self.pool.refresh(self.store, self.store.release_claims(server_id, role, then))

    def delete_server(self, server_id: str) -> None:
        """Remove a server and give back its capacity; the pool index learns of it too."""
        self.pool.refresh(self.store, self.store.delete_server(server_id))
