"""Which of coldshift's modules one cold migration runs through, and its largest modules and
longest functions: the figures of issue 10's note, measured rather than counted by hand.

One process on a fresh SQLite file: two DeHs, a stopped ECS on the first; then, profiled,
``POST migrate`` through the real ASGI app with a signed request, the job run to its end by
the worker, and ``GET job``. Every coldshift source file whose code ran is listed, by phase.

    .venv/bin/python -m bench.migration_path
"""

from __future__ import annotations

import argparse
import ast
import json
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

from fastapi.testclient import TestClient
from tests.e2e import rawhttp
from tests.e2e.harness import ALPHA

import coldshift
from coldshift import bootstrap
from coldshift.api.app import create_app
from coldshift.catalog import load_catalog
from coldshift.config import Settings
from coldshift.domain.commands import AllocateHosts, CreateServers
from coldshift.services.hosts import allocate_hosts
from coldshift.services.servers import batch_action, create_servers

CATALOG = Path(__file__).parents[1] / "tests" / "e2e" / "catalog.toml"
SOURCE = Path(coldshift.__file__).parent
PROJECT = ALPHA[0]


@contextmanager
def files_run(into: set[str]) -> Iterator[None]:
    """Collect the coldshift source files whose functions are called, in every thread."""

    def profile(frame: FrameType, event: str, _arg: Any) -> None:
        if event == "call":
            name = frame.f_code.co_filename
            if name.startswith(str(SOURCE)):
                into.add(str(Path(name).relative_to(SOURCE)))

    # The test client serves each request in a thread of its own: profile new threads too.
    sys.setprofile(profile)
    threading.setprofile(profile)
    try:
        yield
    finally:
        threading.setprofile(None)
        sys.setprofile(None)


def region_with_a_stopped_server(data: Path) -> tuple[bootstrap.Container, str, str]:
    settings = Settings(db_url=f"sqlite:///{data / 'coldshift.db'}", workers=1)
    container = bootstrap.build(settings, load_catalog(str(CATALOG)))
    bootstrap.prepare(container)
    region = container.region
    deh_a, deh_b = (
        allocate_hosts(region, AllocateHosts(PROJECT, f"deh-{x}", "az-a", "t1", 1))[0] for x in "ab"
    )
    create = CreateServers(
        project_id=PROJECT,
        name="traced",
        flavor_id="t1.large.2",
        image_ref="image-1",
        vpc_id="vpc-1",
        subnet_ids=("subnet-1",),
        root_volume_type="SSD",
        root_volume_size=40,
        count=1,
        availability_zone="az-a",
        tenancy="dedicated",
        dedicated_host_id=deh_a,
    )
    (server_id,) = create_servers(region, create).server_ids
    container.worker.run_until_idle()
    batch_action(region, PROJECT, "stop", [server_id])
    container.worker.run_until_idle()
    return container, server_id, deh_b


def call(client: TestClient, method: str, path: str, body: bytes = b"") -> Any:
    url = f"http://testserver{path}"
    response = client.request(
        method, url, content=body, headers=rawhttp.signed_headers(method, url, ALPHA, body)
    )
    assert response.status_code == 200, response.text
    return response.json()


def trace_one_migration() -> dict[str, list[str]]:
    with tempfile.TemporaryDirectory() as data:
        container, server_id, target = region_with_a_stopped_server(Path(data))
        client = TestClient(create_app(container.region))
        phases: dict[str, set[str]] = {"request": set(), "job": set(), "poll": set()}
        body = json.dumps({"migrate": {"dedicated_host_id": target}}).encode()
        path = f"/v1/{PROJECT}/cloudservers/{server_id}/migrate"
        with files_run(phases["request"]):
            job_id = call(client, "POST", path, body)["job_id"]
        with files_run(phases["job"]):
            container.worker.run_until_idle()
        with files_run(phases["poll"]):
            job = call(client, "GET", f"/v1/{PROJECT}/jobs/{job_id}")
        assert job["status"] == "SUCCESS", job
        container.db.dispose()
    return {phase: sorted(files) for phase, files in phases.items()}


def module_sizes() -> list[tuple[int, str]]:
    return sorted(
        ((len(p.read_text().splitlines()), str(p.relative_to(SOURCE))) for p in _sources()),
        reverse=True,
    )


def function_lengths() -> list[tuple[int, str]]:
    found: list[tuple[int, str]] = []
    for path in _sources():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                found.append((length, f"{path.relative_to(SOURCE)}::{node.name}"))
    return sorted(found, reverse=True)


def _sources() -> list[Path]:
    return [p for p in SOURCE.rglob("*.py") if "migrations" not in p.parts]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--top", type=int, default=5, help="largest modules/functions shown")
    args = parser.parse_args(argv)
    phases = trace_one_migration()
    every = sorted(set().union(*map(set, phases.values())))
    print(f"files one cold migration runs through: {len(every)}")
    for phase, files in phases.items():
        print(f"  {phase} ({len(files)}): {', '.join(files)}")

    def show(rows: list[tuple[int, str]]) -> str:
        return ", ".join(f"{name} {n}" for n, name in rows[: args.top])

    lengths = function_lengths()
    median = sorted(n for n, _ in lengths)[len(lengths) // 2]
    print(f"largest modules (lines): {show(module_sizes())}")
    print(f"longest functions (lines): {show(lengths)}; median {median}, {len(lengths)} in all")


if __name__ == "__main__":
    main()
