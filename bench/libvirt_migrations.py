"""Cold migrations on real (stand-in) hosts, and what they cost the API while they copy.

Five session daemons (coldshift.testing.hypervisors): one public-pool host and four hosts
allocated as DeHs. A `coldshift serve` with the libvirt driver (SQLite). Four stopped servers on
the pool host, each with ``--dense-mib`` MiB of random data on its data disk. Then, measured:

- GET server latency (signed, one client) with nothing running: the baseline;
- the same GET, sampled without pause while the four servers migrate at once, pool → four
  DeHs (four copies relayed by the one process at a time): p50/p99, against the goal p99 < 50 ms;
- the migrations' wall time and the aggregate MB/s of the data moved.

Usage: python -m bench.libvirt_migrations [--dense-mib 512] [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

from tests.e2e import rawhttp
from tests.e2e.harness import ALPHA, ServerProcess, deh_client, ecs_client
from tests.e2e.sdk import allocate, migrate, show, stop, wait_job
from tests.libvirt.kvm_region import MIB, Machine, catalog_text, create_server, write_random

from bench.regions import percentile
from coldshift.testing.hypervisors import start_daemons, stop_daemons, unavailable_reason

MACHINES = (Machine("kvm-p1", "pool"), *(Machine(f"kvm-d{i}", "deh") for i in range(1, 5)))
SERVERS = 4


def _get_latencies(url: str, server_id: str, until: float, at_least: int = 0) -> list[float]:
    path = f"{url}/v1/{ALPHA[0]}/cloudservers/{server_id}"
    samples: list[float] = []
    while time.monotonic() < until or len(samples) < at_least:
        started = time.perf_counter()
        response = rawhttp.signed("GET", path, ALPHA)
        samples.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.text
    return samples


def one_run(tmp: Path, dense_mib: int) -> dict[str, float]:
    daemons = start_daemons([m.name for m in MACHINES], tmp)  # short: socket paths
    try:
        catalog = tmp / "kvm.toml"
        catalog.write_text(catalog_text(daemons, MACHINES))
        server = ServerProcess(f"sqlite:///{tmp / 'region.db'}", catalog=catalog).start()
        try:
            return _measure(server.url, {d.name: d.pool_path for d in daemons}, dense_mib)
        finally:
            server.stop()
    finally:
        stop_daemons(daemons)


def _measure(url: str, pools: dict[str, Path], dense_mib: int) -> dict[str, float]:
    ecs, dehs = ecs_client(url), allocate(deh_client(url), quantity=SERVERS, host_type="k1")
    servers = []
    for i in range(SERVERS):
        response = create_server(ecs, name=f"bench-{i}")
        created = wait_job(ecs, response.job_id, 120)
        assert created.status == "SUCCESS", created.fail_reason
        servers.append(str(response.server_ids[0]))
    assert wait_job(ecs, stop(ecs, *servers).job_id, 120).status == "SUCCESS"
    for server_id in servers:
        data_volume = show(ecs, server_id).os_extended_volumesvolumes_attached[1].id
        write_random(pools["kvm-p1"] / f"{data_volume}.img", [(0, dense_mib)])
    os.sync()
    idle = _get_latencies(url, servers[0], time.monotonic() + 3)
    started = time.monotonic()
    jobs = [migrate(ecs, s, d) for s, d in zip(servers, dehs, strict=True)]
    busy: list[float] = []
    for job_id in jobs:
        while True:
            busy += _get_latencies(url, servers[0], 0, at_least=20)
            final = ecs.show_job(_job_request(job_id))
            if final.status in ("SUCCESS", "FAIL"):
                assert final.status == "SUCCESS", final.fail_reason
                break
    wall = time.monotonic() - started
    return {
        "idle_p50": percentile(idle, 0.5),
        "idle_p99": percentile(idle, 0.99),
        "busy_p50": percentile(busy, 0.5),
        "busy_p99": percentile(busy, 0.99),
        "busy_samples": float(len(busy)),
        "wall_s": wall,
        "mb_s": SERVERS * dense_mib * MIB / wall / 1e6,
    }


def _job_request(job_id: str) -> object:
    from huaweicloudsdkecs.v2 import model

    return model.ShowJobRequest(job_id=job_id)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dense-mib", type=int, default=512)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    reason = unavailable_reason()
    if reason:
        raise SystemExit(f"libvirt is not usable here: {reason}")
    results = []
    for run in range(args.runs):
        with tempfile.TemporaryDirectory(prefix="csb-") as tmp:
            os.chmod(tmp, 0o755)
            result = one_run(Path(tmp), args.dense_mib)
        results.append(result)
        print(f"run {run + 1}: " + ", ".join(f"{k} {v:.1f}" for k, v in result.items()))
    print(
        f"\n{SERVERS} migrations at once, {args.dense_mib} MiB of data each; medians of {args.runs}"
    )
    for key, label in (
        ("idle_p50", "GET server p50, idle (ms)"),
        ("idle_p99", "GET server p99, idle (ms)"),
        ("busy_p50", "GET server p50, 4 copies running (ms)"),
        ("busy_p99", "GET server p99, 4 copies running (ms)  goal < 50"),
        ("wall_s", "wall time of the 4 migrations (s)"),
        ("mb_s", "data moved (MB/s, all 4)"),
    ):
        print(f"  {label:<52} {statistics.median(r[key] for r in results):8.1f}")


if __name__ == "__main__":
    main()
