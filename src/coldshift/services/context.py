"""What every service function needs: catalog, store, clock, job notifier."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from coldshift.domain.catalog import Catalog, Flavor
from coldshift.domain.errors import FlavorNotFound, ServerNotFound
from coldshift.domain.servers import Server
from coldshift.drivers.base import HypervisorDriver
from coldshift.jobs.model import NewJob
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
