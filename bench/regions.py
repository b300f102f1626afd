"""Shared pieces of the region benchmarks (end_to_end, state_scale): a generated catalog with
zero simulated timings, pre-signed raw requests, and the median/min/max summary that
performance.md asks for."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson

from coldshift.api.signing import sign_request

FLAVOR = "b1.tiny.1"
HOST_TYPE = "b1"
AZ = "az-a"
IMAGE = "1b9c2f0e-8d7a-4c3b-9e21-5a6f7d8c9b01"
VPC = "3c4d5e6f-7a8b-4c9d-8e0f-1a2b3c4d5e6f"
SUBNET = "9e8d7c6b-5a49-4382-a1b0-c9d8e7f6a5b4"


@dataclass(frozen=True)
class Project:
    id: str
    access_key: str
    secret_key: str

    @property
    def creds(self) -> tuple[str, str, str]:
        """(project_id, ak, sk), as tests.e2e.harness takes them."""
        return (self.id, self.access_key, self.secret_key)


def bench_project(index: int) -> Project:
    """The ``index``-th benchmark project (keys for local use only)."""
    return Project(f"b{index:031x}", f"BENCHKEY{index:012d}", f"bench-secret-{index}")


@dataclass(frozen=True)
class CatalogShape:
    projects: int = 1
    pool_hosts: int = 1
    host_vcpus: int = 4096  # two NUMA nodes of half each
    dedicated_hosts_quota: int = 16
    instances_quota: int = 200_000


def write_catalog(path: Path, shape: CatalogShape) -> Path:
    """A one-AZ region of 2-vCPU guests on big two-node hosts, every simulated timing zero
    (jobs still pass through every state, cold-migration.md)."""
    lines = [
        '[region]\nid = "bench-1"\n',
        f'[[availability_zones]]\nname = "{AZ}"\n',
        f'[[flavors]]\nid = "{FLAVOR}"\nvcpus = 2\nram_mb = 2048\n',
        f'[[host_types]]\nhost_type = "{HOST_TYPE}"\nhost_type_name = "Bench"\nsockets = 2\n'
        f"cores = {shape.host_vcpus // 2}\nvcpus = {shape.host_vcpus}\n"
        f'memory_mb = {shape.host_vcpus * 2048}\nflavors = ["b1.*"]\n',
        f'[[public_pool]]\navailability_zone = "{AZ}"\nhost_type = "{HOST_TYPE}"\n'
        f"count = {shape.pool_hosts}\n",
    ]
    for index in range(1, shape.projects + 1):
        project = bench_project(index)
        lines.append(
            f'[[projects]]\nid = "{project.id}"\nname = "bench{index}"\n'
            f'access_key = "{project.access_key}"\nsecret_key = "{project.secret_key}"\n'
            f"[projects.quotas]\ndedicated_hosts = {shape.dedicated_hosts_quota}\n"
            f"instances = {shape.instances_quota}\n"
        )
    lines.append(
        '[driver]\nkind = "simulated"\n\n[driver.simulated]\naction_seconds = 0\n'
        "disk_copy_mb_per_s = 0\ndeh_allocate_seconds = 0\n"
    )
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def signed_headers(project: Project, method: str, url: str, body: bytes) -> dict[str, str]:
    return sign_request(
        access_key=project.access_key,
        secret_key=project.secret_key,
        method=method,
        url=url,
        headers={"Content-Type": "application/json;charset=utf-8", "X-Project-Id": project.id},
        body=body,
        when=datetime.now(UTC),
    )


def raw_request(method: str, url: str, project: Project, body: bytes = b"") -> bytes:
    """One whole HTTP/1.1 request, signed now as the SDK signs (valid for 15 minutes)."""
    headers = signed_headers(project, method, url, body)
    parts = urlsplit(url)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    head = [f"{method} {target} HTTP/1.1", f"Host: {parts.netloc}"]
    head += [f"{name}: {value}" for name, value in headers.items() if name.lower() != "host"]
    head.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body


def percentile(values: Sequence[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def spread(values: Sequence[float], unit: str = "", digits: int = 1) -> str:
    """``median (min .. max, n runs)``: the summary performance.md asks for."""
    return (
        f"{statistics.median(values):.{digits}f}{unit} "
        f"(min {min(values):.{digits}f}, max {max(values):.{digits}f}, {len(values)} runs)"
    )


class SignedClient:
    """JSON calls signed as the SDK signs, over any httpx client: a real socket to a
    ``coldshift serve`` or starlette's in-process TestClient."""

    def __init__(self, http: httpx.Client, base_url: str, project: Project) -> None:
        self._http = http
        self._base = base_url
        self.project = project

    def call(self, method: str, path: str, body: Any = None, expect: int = 200) -> Any:
        url = self._base + path.replace("{p}", self.project.id)
        data = orjson.dumps(body) if body is not None else b""
        headers = signed_headers(self.project, method, url, data)
        response = self._http.request(method, url, content=data, headers=headers)
        if response.status_code != expect:
            raise RuntimeError(f"{method} {path}: {response.status_code} {response.text}")
        return response.json() if response.content else None

    def wait_job(self, job_id: str, timeout: float = 600.0) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            job = self.call("GET", f"/v1/{{p}}/jobs/{job_id}")
            if job["status"] in ("SUCCESS", "FAIL"):
                return job
            time.sleep(0.05)
        raise TimeoutError(f"job {job_id} still running after {timeout}s")


@dataclass(frozen=True)
class Fleet:
    """Stopped servers spread round-robin over ``sources``; ``targets`` pair with them."""

    servers: tuple[tuple[str, int], ...]  # (server id, index of its DeH pair)
    sources: tuple[str, ...]
    targets: tuple[str, ...]

    def reversed(self) -> Fleet:
        return Fleet(self.servers, self.targets, self.sources)


def allocate_dehs(client: SignedClient, quantity: int) -> list[str]:
    body = {"name": "bench", "availability_zone": AZ, "host_type": HOST_TYPE, "quantity": quantity}
    return list(client.call("POST", "/v1.0/{p}/dedicated-hosts", body)["dedicated_host_ids"])


def stopped_fleet(client: SignedClient, servers: int, pairs: int) -> Fleet:
    """``servers`` stopped ECSs on ``pairs`` source DeHs, and ``pairs`` empty target DeHs."""
    dehs = allocate_dehs(client, 2 * pairs)
    sources, targets = tuple(dehs[:pairs]), tuple(dehs[pairs:])
    placed: list[tuple[str, int]] = []
    for start in range(0, servers, 100):  # the API creates at most 100 at once
        pair = (start // 100) % pairs
        count = min(100, servers - start)
        created = client.call("POST", "/v1/{p}/cloudservers", _server_body(sources[pair], count))
        job = client.wait_job(created["job_id"])
        if job["status"] != "SUCCESS":
            raise RuntimeError(f"create failed: {job}")
        ids = created["serverIds"]
        stop = {"os-stop": {"servers": [{"id": i} for i in ids], "type": "HARD"}}
        client.wait_job(client.call("POST", "/v1/{p}/cloudservers/action", stop)["job_id"])
        placed += [(server_id, pair) for server_id in ids]
    return Fleet(tuple(placed), sources, targets)


def _server_body(dedicated_host_id: str, count: int) -> dict[str, Any]:
    return {
        "server": {
            "name": "bench",
            "imageRef": IMAGE,
            "flavorRef": FLAVOR,
            "vpcid": VPC,
            "nics": [{"subnet_id": SUBNET}],
            "root_volume": {"volumetype": "SSD", "size": 40},
            "count": count,
            "availability_zone": AZ,
            "os:scheduler_hints": {"tenancy": "dedicated", "dedicated_host_id": dedicated_host_id},
        }
    }


def migrate_path(server_id: str) -> str:
    return f"/v1/{{p}}/cloudservers/{server_id}/migrate"


def migrate_body(fleet: Fleet, pair: int) -> dict[str, Any]:
    return {"migrate": {"dedicated_host_id": fleet.targets[pair]}}


def start_load(spec: dict[str, Any], path: Path) -> Callable[[], dict[str, Any]]:
    """Start bench.loadgen on ``spec`` in its own process; answer a function that waits for
    it and returns its result (several may run at once)."""
    spec_path, out_path = path.with_suffix(".spec.json"), path.with_suffix(".out.json")
    spec_path.write_text(json.dumps({**spec, "out": str(out_path)}), encoding="utf-8")
    process = subprocess.Popen([sys.executable, "-m", "bench.loadgen", str(spec_path)])

    def result() -> dict[str, Any]:
        if process.wait(timeout=float(spec["seconds"]) + 120) != 0:
            raise RuntimeError(f"bench.loadgen failed on {spec_path}")
        answer: dict[str, Any] = json.loads(out_path.read_text(encoding="utf-8"))
        if answer["errors"]:
            raise RuntimeError(f"unexpected answers: {answer['errors']} {answer['error_bodies']}")
        return answer

    return result
