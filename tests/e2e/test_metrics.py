"""GET /metrics after a known sequence of operations on one region: the counters and gauges
have the values the sequence makes, and no tenant's identifier appears."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e import admin, sdk
from tests.e2e.conftest import Region, region_on
from tests.e2e.harness import ALPHA, BETA

GIB = 1024**3
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@pytest.fixture(scope="module")
def region(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Region]:
    with region_on("sqlite", tmp_path_factory.mktemp("metrics")) as region:
        region.start()
        yield region


def scrape(url: str) -> tuple[str, Samples]:
    response = httpx.get(f"{url}/metrics", timeout=10)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    samples: Samples = {}
    for family in text_string_to_metric_families(response.text):
        for s in family.samples:
            samples[(s.name, frozenset(s.labels.items()))] = s.value
    return response.text, samples


def value(samples: Samples, name: str, **labels: str) -> float:
    """The sample's value; 0 for a labelled series never touched (never exposed)."""
    return samples.get((name, frozenset(labels.items())), 0.0)


def total(samples: Samples, name: str, **labels: str) -> float:
    """The sum over every series of ``name`` whose labels include ``labels``."""
    wanted = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and wanted <= ls)


def test_metrics_after_a_known_sequence(region: Region) -> None:
    ecs, deh = region.ecs(), region.deh()
    (host_id,) = sdk.allocate(deh, name="metrics-deh")
    (small,) = sdk.stopped_servers(ecs, name="small")  # t1.large.2: 2 vCPUs, 4 GiB
    (big,) = sdk.stopped_servers(ecs, name="big", flavor="t1.4xlarge.2")  # 16 vCPUs, 2 nodes
    moved = sdk.migrate_and_wait(ecs, small, host_id)
    assert moved.status == "SUCCESS"
    admin.fail_next(region.url, "copy_disks")
    assert sdk.migrate_and_wait(ecs, small).status == "FAIL"  # back to the pool: copy fails
    # the DeH's two nodes have 6 and 8 vCPUs left: the 2-node guest needs 8 on each
    refused = sdk.migrate_and_wait(ecs, big, host_id)
    assert refused.status == "FAIL"
    assert httpx.get(f"{region.url}/v1/{ALPHA[0]}/cloudservers").status_code == 401

    text, samples = scrape(region.url)

    finished = "coldshift_jobs_finished_total"
    assert value(samples, finished, job_type="createSingleServer", status="SUCCESS") == 2
    assert value(samples, finished, job_type="stopServer", status="SUCCESS") == 2
    assert value(samples, finished, job_type="migrateSingleServer", status="SUCCESS") == 1
    assert value(samples, finished, job_type="migrateSingleServer", status="FAIL") == 2
    jobs = "coldshift_jobs"  # from the database: parents too
    assert value(samples, jobs, job_type="migrateServer", status="SUCCESS") == 1
    assert value(samples, jobs, job_type="migrateServer", status="FAIL") == 2
    assert value(samples, jobs, job_type="createServer", status="SUCCESS") == 2
    duration = "coldshift_job_duration_seconds_count"
    assert value(samples, duration, job_type="migrateSingleServer", status="FAIL") == 2
    steps = "coldshift_job_step_duration_seconds_count"
    copies = {"job_type": "migrateSingleServer", "step": "copy_disks"}
    assert value(samples, steps, **copies, outcome="ok") == 1
    assert value(samples, steps, **copies, outcome="failed") == 1

    # the one copy that ran moved the small server's 40 GB root disk once
    assert value(samples, "coldshift_copied_bytes_total") == 40 * GIB

    decisions = "coldshift_placement_decisions_total"
    az = {"availability_zone": "az-a"}
    # pool: two creates and the failed migration's claim; DeH: the migration there
    assert value(samples, decisions, **az, host_kind="pool", outcome="placed") == 3
    assert value(samples, decisions, **az, host_kind="deh", outcome="placed") == 1
    assert value(samples, decisions, **az, host_kind="deh", outcome="rejected") == 1
    rejections = "coldshift_placement_rejections_total"
    assert value(samples, rejections, **az, host_kind="deh", reason="numa_split") == 1

    node = {"host": host_id, "host_kind": "deh", "host_type": "t1", **az}
    free = [value(samples, "coldshift_host_vcpus_free", **node, numa_node=n) for n in "01"]
    assert sorted(free) == [6, 8]
    memory_free = total(samples, "coldshift_host_memory_free_bytes", **node)
    assert memory_free == 32 * GIB - 4 * GIB
    pool = {"host_kind": "pool", "availability_zone": "az-a"}
    # the 16-vCPU guest fills one pool host; the small one left the pool for the DeH
    assert total(samples, "coldshift_host_vcpus_free", **pool) == 32 - 16
    assert total(samples, "coldshift_host_vcpus", **pool) == 32

    http = "coldshift_http_requests_total"
    refused_route = {"method": "GET", "route": "unmatched", "status": "401"}
    assert value(samples, http, **refused_route) == 1
    job_route = {"method": "GET", "route": "/v1/{project_id}/jobs/{job_id}", "status": "200"}
    assert value(samples, http, **job_route) >= 5
    latency = "coldshift_http_request_duration_seconds_count"
    assert value(samples, latency, method="GET", route=job_route["route"]) == value(
        samples, http, **job_route
    )

    for tenant_id in (ALPHA[0], BETA[0], ALPHA[1], small, big, moved.job_id):
        assert tenant_id not in text
