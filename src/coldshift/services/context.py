"""What every service function needs: catalog, store, clock, job notifier, pool index."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from coldshift.domain.catalog import Catalog, Flavor
from coldshift.domain.errors import FlavorNotFound, ServerNotFound
from coldshift.domain.servers import Server
from coldshift.drivers.base import HypervisorDriver
from coldshift.jobs.model import NewJob
from coldshift.services.pool_capacity import PoolCapacity
from coldshift.services.ports import (
    ClientToken,
    JobNotifier,
    QuotaGuard,
    RegionStore,
    TaskGuard,
)


@dataclass(frozen=True)
class Region:
    catalog: Catalog
    store: RegionStore
    driver: HypervisorDriver
    notifier: JobNotifier
    clock: Callable[[], float]
    #: the public pool's capacity as this process last read it (bootstrap rebuilds it at start;
    #: otherwise each AZ is read at its first placement)
    pool: PoolCapacity = field(default_factory=PoolCapacity)

    def flavor(self, flavor_id: str) -> Flavor:
        flavor = self.catalog.flavor(flavor_id)
        if flavor is None:
            raise FlavorNotFound(flavor_id)
        return flavor

    def server(self, project_id: str, server_id: str) -> Server:
        server = self.store.get_server(project_id, server_id)
        if server is None:
            raise ServerNotFound(server_id)
        return server

    def submit(
        self,
        job: NewJob,
        *,
        new_servers: tuple[Server, ...] = (),
        guards: tuple[TaskGuard, ...] = (),
        client_token: ClientToken | None = None,
        quota: QuotaGuard | None = None,
    ) -> None:
        self.store.submit(
            job, new_servers=new_servers, guards=guards, client_token=client_token, quota=quota
        )
        self.notifier.notify(max(1, len(job.children)))

    def release_claims(
        self, server_id: str, role: str | None = None, server_values: dict[str, Any] | None = None
    ) -> None:
        """Give back a server's claims; the pool index learns of the room given back."""
        self.pool.refresh(self.store, self.store.release_claims(server_id, role, server_values))

    def delete_server(self, server_id: str) -> None:
        """Remove a server and give back its capacity; the pool index learns of it too."""
        self.pool.refresh(self.store, self.store.delete_server(server_id))
