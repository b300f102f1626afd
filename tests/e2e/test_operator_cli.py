"""The operator commands (operations.md) driven as a person would: the installed `coldshift`
command against a real `coldshift serve`, the SDK checking what they did."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from tests.conftest import PG_URL, require_pg
from tests.e2e import sdk
from tests.e2e.conftest import Region, region_on
from tests.e2e.harness import ALPHA, ServerProcess, free_port, fresh_pg_database

COLDSHIFT = str(Path(sys.executable).parent / "coldshift")


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Region]:
    """One region for the module; each test allocates the DeHs it fills."""
    with region_on("sqlite", tmp_path_factory.mktemp("operator")) as region:
        region.start()
        yield region


def cli(region: Region | None, *args: str, creds: tuple[str, str, str] = ALPHA) -> Any:
    """Run the installed command with the SDK's environment variables."""
    project, ak, sk = creds
    env = {
        **os.environ,
        "HUAWEICLOUD_SDK_AK": ak,
        "HUAWEICLOUD_SDK_SK": sk,
        "HUAWEICLOUD_SDK_PROJECT_ID": project,
        "COLDSHIFT_ENDPOINT": region.url if region else f"http://127.0.0.1:{free_port()}",
        "COLUMNS": "200",
    }
    return subprocess.run(
        [COLDSHIFT, *args], capture_output=True, text=True, timeout=120, env=env, check=False
    )


def split_deh(region: Region) -> tuple[str, list[str]]:
    """A DeH (2 NUMA nodes of 8 vCPUs) with 4 vCPUs free on each node, held by two stopped
    t1.xlarge.2 guests (the seed's case: 8 vCPUs free, not on one node)."""
    ecs, deh = region.ecs(), region.deh()
    host = sdk.allocate(deh, name="split")[0]
    ids = [
        sdk.create_and_wait(ecs, flavor="t1.xlarge.2", dedicated_host_id=host, tenancy="dedicated")[
            0
        ]
        for _ in range(4)
    ]
    # best fit filled node 0 with the first two, node 1 with the last two: free one of each
    assert sdk.wait_job(ecs, sdk.delete(ecs, ids[1], ids[3]).job_id).status == "SUCCESS"
    kept = [ids[0], ids[2]]
    assert sdk.wait_job(ecs, sdk.stop(ecs, *kept).job_id).status == "SUCCESS"
    return host, kept


def stopped_guest(region: Region, flavor: str = "t1.2xlarge.2") -> str:
    return sdk.stopped_servers(region.ecs(), flavor=flavor)[0]


def snapshot(db_url: str) -> dict[str, list[tuple[Any, ...]]]:
    engine = sa.create_engine(db_url)
    try:
        meta = sa.MetaData()
        meta.reflect(engine)
        with engine.connect() as conn:
            return {
                name: sorted(map(tuple, conn.execute(sa.select(table))), key=repr)
                for name, table in meta.tables.items()
            }
    finally:
        engine.dispose()


def test_what_if_explains_the_single_node_rule_and_why_advice_followed_makes_it_fit(
    live: Region,
) -> None:
    host, kept = split_deh(live)
    guest = stopped_guest(live)
    before = snapshot(live.db_url)

    dry = cli(live, "migrate", guest, "--to", host, "--dry-run", "--json")
    assert dry.returncode == 1, dry.stderr
    answer = json.loads(dry.stdout)
    assert answer["fits"] is False and answer["host"] is None
    assert answer["rule"] == "single-NUMA-node rule"
    assert answer["error_code"] == "Ecs.0319"
    numbers = answer["numbers"]
    assert (numbers["vcpus_per_node"], numbers["largest_free_vcpus"]) == (8, 4)
    assert answer["advice"] is not None and len(answer["advice"]["moves"]) == 1
    fits = cli(live, "migrate", kept[0], "--to-pool", "--dry-run")
    assert fits.returncode == 0 and "fits, on pool host" in fits.stdout, fits.stdout
    refused = cli(live, "migrate", guest, "--to-pool", "--dry-run")  # a pool ECS needs a DeH
    assert refused.returncode == 2 and "Ecs." in refused.stderr, refused.stderr

    assert snapshot(live.db_url) == before  # a what-if changes nothing, ever

    why = cli(live, "why", guest, "--to", host)
    assert why.returncode == 0, why.stderr
    assert "single-NUMA-node rule" in why.stdout and "advice: 1 move(s)" in why.stdout
    move = answer["advice"]["moves"][0]
    assert move["server_id"] in kept
    failed = cli(live, "migrate", guest, "--to", host, "--wait")
    assert failed.returncode == 1 and "Ecs.0319" in failed.stderr, failed.stderr
    to = ["--to-pool"] if move["to"] == "pool" else ["--to", move["to"]]
    assert cli(live, "migrate", move["server_id"], *to, "--wait").returncode == 0
    done = cli(live, "migrate", guest, "--to", host, "--wait")
    assert done.returncode == 0, done.stderr
    assert f"DeH {host}" in done.stdout and "elapsed" in done.stdout
    assert sdk.host_of(live.ecs(), guest) == f"deh-{host}"


def test_why_says_no_advice_when_no_moves_make_room(live: Region) -> None:
    guest = stopped_guest(live, flavor="t1.4xlarge.2")  # 16 vCPUs over 2 nodes
    host = sdk.allocate(live.deh(), name="busy")[0]
    sdk.create_and_wait(
        live.ecs(), flavor="t1.large.2", dedicated_host_id=host, tenancy="dedicated"
    )
    result = cli(live, "why", guest, "--to", host)  # the guest on it is running: not movable
    assert result.returncode == 0, result.stderr
    assert "no advice" in result.stdout


def test_hosts_and_jobs_json_agree_with_the_sdk(live: Region) -> None:
    host = sdk.allocate(live.deh(), name="listed")[0]
    server = sdk.create_and_wait(
        live.ecs(), flavor="t1.large.2", dedicated_host_id=host, tenancy="dedicated"
    )[0]
    listed = cli(live, "hosts", "--json", "--deh-only")
    assert listed.returncode == 0, listed.stderr
    found = {h["id"]: h for h in json.loads(listed.stdout)["hosts"]}
    assert all(h["kind"] == "deh" for h in found.values())
    shown = sdk.show_deh(live.deh(), host)
    nodes = found[host]["numa_nodes"]
    assert sum(n["available_vcpus"] for n in nodes) == shown.available_vcpus
    assert [s["id"] for n in nodes for s in n["servers"]] == [server]
    table = cli(live, "hosts")
    assert table.returncode == 0 and "█" in table.stdout and host in table.stdout

    jobs = cli(live, "jobs", "--json", "--limit", "3")
    assert jobs.returncode == 0, jobs.stderr
    newest = json.loads(jobs.stdout)["jobs"][0]
    assert set(newest) >= {"job_id", "job_type", "status", "entities", "error_code"}
    assert sdk.job(live.ecs(), newest["job_id"]).status == newest["status"]
    assert newest["job_id"] in cli(live, "jobs").stdout


def test_exit_codes_and_error_lines(live: Region) -> None:
    unreachable = cli(None, "jobs")
    assert unreachable.returncode == 3 and "cannot reach the region" in unreachable.stderr
    unknown = cli(live, "migrate", "no-such-server", "--to-pool")
    assert unknown.returncode == 2
    assert unknown.stderr.startswith("coldshift: Ecs.") and "Traceback" not in unknown.stderr
    both = cli(live, "migrate", "x", "--to", "y", "--to-pool")
    assert both.returncode == 2 and "exactly one" in both.stderr
    bad_key = cli(live, "jobs", creds=(ALPHA[0], ALPHA[1], "wrong"))
    assert bad_key.returncode == 2 and "Common.0013" in bad_key.stderr
    project, ak, _ = ALPHA
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUAWEICLOUD_SDK")}
    missing = subprocess.run(
        [COLDSHIFT, "jobs", "--ak", ak, "--project-id", project, "--endpoint", live.url],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert missing.returncode == 2 and "HUAWEICLOUD_SDK_SK" in missing.stderr


def test_docs_and_redoc_need_no_signature_and_no_internet(live: Region) -> None:
    page = httpx.get(live.url + "/docs")
    assert page.status_code == 200 and "/docs/assets/swagger-ui-bundle.js" in page.text
    assert "cdn" not in page.text.lower()
    script = httpx.get(live.url + "/docs/assets/swagger-ui-bundle.js")
    assert script.status_code == 200 and len(script.content) > 100_000
    assert httpx.get(live.url + "/redoc", follow_redirects=True).url.path == "/docs"


@pytest.mark.pg
def test_the_banner_hides_a_postgresql_password(tmp_path: Path) -> None:
    require_pg()
    with fresh_pg_database(PG_URL) as url:
        # trust authentication ignores the password: the region starts, the banner shows the URL
        with_password = url.replace("postgres@", "postgres:hunter2@", 1)
        assert with_password != url
        process = ServerProcess(with_password, log_path=tmp_path / "serve.log").start()
        try:
            log = (tmp_path / "serve.log").read_text()
        finally:
            process.stop()
    assert "database: postgresql" in log and "hunter2" not in log and "***" in log
