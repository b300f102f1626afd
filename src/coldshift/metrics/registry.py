"""One process's metrics: counters and histograms its job threads and requests feed, and the
region's gauges read from the store when Prometheus scrapes.

No label holds a tenant's identifier: jobs are counted by type and status, placement by AZ
and host kind, capacity by AZ, host type, host kind, host id and NUMA node.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.metrics_core import Metric

from coldshift.domain.hosts import HostState
from coldshift.jobs.model import Job, JobStatus
from coldshift.services.ports import RegionReads

CONTENT_TYPE = CONTENT_TYPE_LATEST
MIB = 1024 * 1024
#: a request is well under a millisecond to a few seconds
HTTP_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5)
#: a step or a job: milliseconds (a claim) to an hour (a large disk copy)
JOB_BUCKETS = (0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600)


class Metrics:
    """Implements ``jobs.ports.JobObserver`` and ``services.ports.RegionObserver``; its own
    registry (not the library's global one), so that several can live in one process."""

    def __init__(self, store: RegionReads, clock: Callable[[], float] = time.time) -> None:
        self.registry = CollectorRegistry()
        self._clock = clock
        r = self.registry
        self.jobs_finished = Counter(
            "coldshift_jobs_finished",
            "Jobs this process ran to their end, by type and final status",
            ["job_type", "status"],
            registry=r,
        )
        self.job_seconds = Histogram(
            "coldshift_job_duration_seconds",
            "From a job's recording to its end (this process ended it)",
            ["job_type", "status"],
            buckets=JOB_BUCKETS,
            registry=r,
        )
        self.step_seconds = Histogram(
            "coldshift_job_step_duration_seconds",
            "One step's run, retries included",
            ["job_type", "step", "outcome"],
            buckets=JOB_BUCKETS,
            registry=r,
        )
        self.copied = Counter(
            "coldshift_copied_bytes", "Bytes disk copies moved (this process)", registry=r
        )
        self.decisions = Counter(
            "coldshift_placement_decisions",
            "Claims of room: taken (outcome=placed) or refused (outcome=rejected)",
            ["availability_zone", "host_kind", "outcome"],
            registry=r,
        )
        self.rejections = Counter(
            "coldshift_placement_rejections",
            "Claims refused, by reason (numa_single_node, numa_split, no_host, anti_affinity, "
            "contention)",
            ["availability_zone", "host_kind", "reason"],
            registry=r,
        )
        self.http_requests = Counter(
            "coldshift_http_requests",
            "HTTP requests, by method, route template and status",
            ["method", "route", "status"],
            registry=r,
        )
        self.http_seconds = Histogram(
            "coldshift_http_request_duration_seconds",
            "Time from a request's arrival to its response's end, by method and route template",
            ["method", "route"],
            buckets=HTTP_BUCKETS,
            registry=r,
        )
        r.register(RegionCollector(store))

    # ---- jobs.ports.JobObserver ------------------------------------------------------------
    def step_ended(self, job_type: str, step: str, seconds: float, ok: bool) -> None:
        outcome = "ok" if ok else "failed"
        self.step_seconds.labels(job_type, step, outcome).observe(seconds)

    def job_ended(self, job: Job, success: bool) -> None:
        status = JobStatus.SUCCESS if success else JobStatus.FAIL
        self.jobs_finished.labels(job.job_type, status.value).inc()
        seconds = max(0.0, self._clock() - job.begin_time)
        self.job_seconds.labels(job.job_type, status.value).observe(seconds)

    # ---- services.ports.RegionObserver -----------------------------------------------------
    def placed(self, availability_zone: str, host_kind: str) -> None:
        self.decisions.labels(availability_zone, host_kind, "placed").inc()

    def rejected(self, availability_zone: str, host_kind: str, cause: str) -> None:
        self.decisions.labels(availability_zone, host_kind, "rejected").inc()
        self.rejections.labels(availability_zone, host_kind, cause).inc()

    def bytes_copied(self, count: int) -> None:
        if count > 0:
            self.copied.inc(count)

    # ---- exposition ------------------------------------------------------------------------
    def render(self) -> bytes:
        """The text format; reads the store (call it off the event loop)."""
        return generate_latest(self.registry)


class RegionCollector:
    """The region's state, read at each scrape: the same in every process of a region."""

    def __init__(self, store: RegionReads) -> None:
        self._store = store

    def describe(self) -> list[Metric]:
        return []  # nothing is read when the collector is registered

    def collect(self) -> Iterator[Metric]:
        jobs = GaugeMetricFamily(
            "coldshift_jobs",
            "Jobs in the database (every process's, every project's), by type and status",
            labels=["job_type", "status"],
        )
        for (job_type, status), count in sorted(self._store.job_counts().items()):
            jobs.add_metric([job_type, status.value], count)
        yield jobs
        yield from self._capacity()

    def _capacity(self) -> Iterator[Metric]:
        labels = ["availability_zone", "host_type", "host_kind", "host", "numa_node"]
        families = {
            name: GaugeMetricFamily(f"coldshift_host_{name}", text, labels=labels)
            for name, text in (
                ("vcpus", "vCPUs of a host's NUMA node"),
                ("vcpus_free", "vCPUs of a host's NUMA node that no claim holds"),
                ("memory_bytes", "Memory of a host's NUMA node"),
                ("memory_free_bytes", "Memory of a host's NUMA node that no claim holds"),
            )
        }
        for host in self._store.list_hosts():
            if host.state is HostState.RELEASED:
                continue
            for node in host.nodes:
                where = [
                    host.availability_zone,
                    host.host_type,
                    host.kind.value,
                    host.id,
                    str(node.index),
                ]
                families["vcpus"].add_metric(where, node.vcpus_total)
                families["vcpus_free"].add_metric(where, node.vcpus_free)
                families["memory_bytes"].add_metric(where, node.memory_total * MIB)
                families["memory_free_bytes"].add_metric(where, node.memory_free * MIB)
        yield from families.values()
