"""The composition root: the only module that wires every layer together."""

from __future__ import annotations

import logging
import os
import socket
import time
from dataclasses import dataclass

from coldshift.config import Settings
from coldshift.domain.catalog import Catalog
from coldshift.drivers.base import HostRefused, HypervisorDriver, InventoryDriver
from coldshift.drivers.simulated import SimulatedDriver
from coldshift.jobs.model import MaintenanceTask
from coldshift.jobs.worker import Worker
from coldshift.metrics import Metrics
from coldshift.persistence.change_listener import ChangeListener
from coldshift.persistence.db import (
    Database,
    DatabaseUnreachable,
    DatabaseUrlError,
    connect,
    normalise_url,
    sqlite_path,
)
from coldshift.persistence.invariants import check as check_invariants
from coldshift.persistence.job_signals import JobListener
from coldshift.persistence.job_store import SqlJobStore
from coldshift.persistence.maintenance_store import SqlMaintenanceStore
from coldshift.persistence.region_store import SqlRegionStore
from coldshift.persistence.upgrades import start_up_lock, upgrade
from coldshift.services.context import Region
from coldshift.services.region_setup import CatalogConflict, sync_host_states, sync_public_pool
from coldshift.services.workflows import build_registry

log = logging.getLogger(__name__)


@dataclass
class Container:
    settings: Settings
    catalog: Catalog
    db: Database
    region: Region
    driver: HypervisorDriver
    job_store: SqlJobStore
    worker: Worker
    #: this process's metrics (each process exposes its own: README, "Metrics")
    metrics: Metrics
    listener: JobListener | None = None
    #: other processes' commits, for the read cache (PostgreSQL only)
    changes: ChangeListener | None = None
    stopped: bool = False


def check_db_url(db_url: str) -> None:
    """Refuse (DatabaseUrlError) a URL that cannot work, before anything is bound or built."""
    normalise_url(db_url)


def build(settings: Settings, catalog: Catalog) -> Container:
    """Raises DatabaseUrlError for a URL that cannot work and DatabaseUnreachable when its
    server does not answer; nothing is left running then."""
    db = connect(settings.db_url)
    clock = time.time
    store = SqlRegionStore(db, clock)
    job_store = SqlJobStore(db, clock)
    driver = _driver(catalog)
    owner = f"{socket.gethostname()}:{os.getpid()}:{os.urandom(3).hex()}"
    notifier = _LateNotifier()
    metrics = Metrics(store, clock)
    region = Region(
        catalog=catalog,
        store=store,
        driver=driver,
        notifier=notifier,
        clock=clock,
        maintenance=job_store,
        observer=metrics,
        changes=db.changes,
    )
    worker = Worker(
        job_store,
        build_registry(region),
        owner=owner,
        concurrency=settings.workers,
        lease_seconds=settings.lease_seconds,
        poll_seconds=settings.poll_seconds,
        retention_seconds=settings.job_retention_seconds,
        clock=clock,
        observer=metrics,
    )
    notifier.target = worker
    # Several processes may share a PostgreSQL database: each hears the others' new jobs.
    listener = None if db.is_sqlite else JobListener(db, worker.notify)
    changes = None if db.is_sqlite else ChangeListener(db)
    return Container(
        settings, catalog, db, region, driver, job_store, worker, metrics, listener, changes
    )


def _driver(catalog: Catalog) -> HypervisorDriver:
    settings = catalog.driver.libvirt
    if catalog.driver.kind != "libvirt" or settings is None:
        return SimulatedDriver(catalog.driver.simulated)
    try:
        from coldshift.drivers.libvirt.driver import LibvirtDriver
    except ImportError as exc:
        raise CatalogConflict(
            "driver.kind = 'libvirt' needs the libvirt-python binding: install Debian's "
            "libvirt-dev and pkg-config, then pip install 'coldshift[libvirt]'"
        ) from exc
    return LibvirtDriver(settings, catalog)


def _probe_hosts(container: Container) -> None:
    """A libvirt region's hosts: their NUMA cells read, the unreachable ones set at fault."""
    driver = container.driver
    if not isinstance(driver, InventoryDriver):
        return
    try:
        statuses = driver.probe()
    except HostRefused as exc:
        raise CatalogConflict(str(exc)) from exc
    unreachable = {s.name for s in statuses if not s.reachable}
    faulty = sync_host_states(container.region.store, unreachable)
    for status in statuses:
        if not status.reachable:
            log.warning("host %s does not answer: %s", status.name, status.reason)
    if faulty:
        log.warning("hosts at fault, left out of placement: %s", ", ".join(faulty))


def prepare(container: Container) -> None:
    """Schema, public pool and its capacity index, and (single-process SQLite) the leases a
    dead process left."""
    with start_up_lock(container.db):
        upgrade(container.db)
        added, removed = sync_public_pool(container.region.store, container.catalog, time.time())
        _probe_hosts(container)
    log.info("public pool: %d hosts added, %d removed", added, removed)
    container.region.pool.rebuild(container.region.store)
    if container.db.is_sqlite:
        freed = container.job_store.release_all()
        if freed:
            log.info("took over %d unfinished jobs of a previous process", freed)


def start(container: Container) -> None:
    prepare(container)
    container.worker.start()
    if container.listener is not None:
        container.listener.start()
    if container.changes is not None:
        container.changes.start()


def stop(container: Container) -> None:
    """Graceful: running jobs reach their end (or are handed back), then the pool closes."""
    if container.stopped:
        return
    container.stopped = True
    if container.listener is not None:
        container.listener.stop()
    if container.changes is not None:
        container.changes.stop()
    released = container.worker.stop(drain_seconds=container.settings.drain_seconds)
    log.warning("coldshift stopped: job workers ended, %d jobs released mid-step", released)
    container.db.dispose()


class _LateNotifier:
    """Breaks the cycle region → worker → registry → region."""

    target: Worker | None = None

    def notify(self, count: int = 1) -> None:
        if self.target is not None:
            self.target.notify(count)


class NoDatabase(Exception):
    """``coldshift check`` was pointed at a SQLite file that does not exist."""


@dataclass(frozen=True)
class CheckReport:
    #: one line per broken invariant (cold-migration.md)
    drift: list[str]
    #: what jobs left to clean up: pending, not drift
    maintenance: list[MaintenanceTask]


def check_database(db_url: str) -> CheckReport:
    path = sqlite_path(db_url)
    if path is not None and not os.path.exists(path):
        # connecting would create an empty file and then fail on its missing tables
        raise NoDatabase(f"no database at {path}")
    database = connect(db_url)
    try:
        drift = [str(d) for d in check_invariants(database)]
        pending = SqlMaintenanceStore(database, time.time).list_maintenance()
    finally:
        database.dispose()
    return CheckReport(drift, pending)


__all__ = [
    "CheckReport",
    "Container",
    "DatabaseUnreachable",
    "DatabaseUrlError",
    "NoDatabase",
    "build",
    "check_database",
    "check_db_url",
    "prepare",
    "sqlite_path",
    "start",
    "stop",
]
