"""A whole region in memory: the fake store, the in-memory job store, the simulated driver
with the test catalog's instant timings, and a worker run in the test's thread."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from coldshift.catalog.loader import load_catalog
from coldshift.domain.catalog import Catalog
from coldshift.domain.commands import AllocateHosts, CreateServers
from coldshift.domain.errors import ColdshiftError
from coldshift.domain.hosts import Host
from coldshift.domain.servers import DEDICATED, SHARED, Server
from coldshift.drivers.simulated import SimulatedDriver
from coldshift.jobs.model import Job
from coldshift.jobs.retry import RetryPolicy
from coldshift.jobs.worker import Worker
from coldshift.services.context import Region
from coldshift.services.hosts import allocate_hosts
from coldshift.services.region_setup import sync_public_pool
from coldshift.services.servers import batch_action, create_servers
from coldshift.services.workflows import build_registry
from coldshift.testing import FrozenClock, InMemoryJobStore, InMemoryRegionStore

CATALOG_PATH = Path(__file__).parents[2] / "e2e" / "catalog.toml"
ALPHA = "11111111111111111111111111111111"
BETA = "22222222222222222222222222222222"
#: two tries of a step, no wait between them: a fault injected more often fails the job
QUICK_RETRY = RetryPolicy(max_attempts=2, first_delay=0.0, factor=1.0, max_delay=0.0)


@dataclass
class CountingNotifier:
    """A JobNotifier that counts the jobs it was told of (the test runs the worker itself)."""

    told: int = 0

    def notify(self, count: int = 1) -> None:
        self.told += count


@dataclass
class World:
    catalog: Catalog
    clock: FrozenClock
    jobs: InMemoryJobStore
    store: InMemoryRegionStore
    driver: SimulatedDriver
    region: Region
    worker: Worker
    notifier: CountingNotifier = field(default_factory=CountingNotifier)

    def run(self) -> None:
        self.worker.run_until_idle()

    def job(self, job_id: str, project_id: str = ALPHA) -> tuple[Job, list[Job]]:
        return self.region.queries.job(project_id, job_id)

    def dehs(self, quantity: int = 1, az: str = "az-a", project_id: str = ALPHA) -> list[str]:
        return allocate_hosts(self.region, AllocateHosts(project_id, "deh", az, "t1", quantity))

    def servers(
        self,
        count: int = 1,
        *,
        flavor: str = "t1.large.2",
        deh: str | None = None,
        az: str | None = None,
        project_id: str = ALPHA,
    ) -> list[str]:
        """Created, placed and stopped servers, on ``deh`` or in the pool."""
        cmd = create_command(
            project_id, flavor, count, az=az, tenancy=DEDICATED if deh else SHARED, deh=deh
        )
        ids = list(create_servers(self.region, cmd).server_ids)
        self.run()
        batch_action(self.region, project_id, "stop", ids)
        self.run()
        return ids

    def server(self, server_id: str) -> Server:
        found = self.store.get_server(None, server_id)
        assert found is not None
        return found

    def host(self, host_id: str) -> Host:
        found = self.store.get_host(host_id)
        assert found is not None
        return found

    def free(self, host_id: str) -> list[int]:
        """Free vCPUs of each NUMA node of the host."""
        return [n.vcpus_free for n in self.host(host_id).nodes]

    def refused(self, error: type[ColdshiftError], call: Callable[[], object]) -> str:
        """``call`` raises ``error`` and leaves everything as it was; the error's message."""
        before = self.snapshot()
        with pytest.raises(error) as raised:
            call()
        assert self.snapshot() == before
        return str(raised.value)

    def snapshot(self) -> tuple[object, ...]:
        """Everything a refused request must leave as it was."""
        return (
            [self.store.list_servers(p.id) for p in self.catalog.projects],
            self.store.list_hosts(),
            sorted(self.jobs.jobs),
            self.notifier.told,
        )


def create_command(
    project_id: str,
    flavor: str,
    count: int = 1,
    *,
    az: str | None = None,
    tenancy: str = SHARED,
    deh: str | None = None,
    client_token: str | None = None,
    body_hash: str = "",
) -> CreateServers:
    return CreateServers(
        project_id=project_id,
        name="web",
        flavor_id=flavor,
        image_ref="image-1",
        vpc_id="vpc-1",
        subnet_ids=("subnet-1",),
        root_volume_type="SSD",
        root_volume_size=40,
        count=count,
        availability_zone=az,
        tenancy=tenancy,
        dedicated_host_id=deh,
        client_token=client_token,
        body_hash=body_hash,
    )


def build_world() -> World:
    catalog = load_catalog(CATALOG_PATH)
    clock = FrozenClock()
    jobs = InMemoryJobStore(clock)
    store = InMemoryRegionStore(jobs, clock)
    driver = SimulatedDriver(catalog.driver.simulated, sleep=lambda _: None)
    notifier = CountingNotifier()
    region = Region(catalog, store, driver, notifier, clock, maintenance=jobs)
    sync_public_pool(store, catalog, clock())
    region.pool.rebuild(store)
    worker = Worker(jobs, build_registry(region), owner="unit", clock=clock, retry=QUICK_RETRY)
    return World(catalog, clock, jobs, store, driver, region, worker, notifier)
