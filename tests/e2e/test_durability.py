"""State survives restarts; jobs of a killed process are finished and no capacity leaks."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

from huaweicloudsdkecs.v2 import model as ecs_model

from tests.e2e import sdk
from tests.e2e.conftest import Region
from tests.e2e.harness import TEST_CATALOG, wait_for


def slow_catalog(tmp: Path, action_seconds: float) -> Path:
    text = TEST_CATALOG.read_text().replace(
        "action_seconds = 0", f"action_seconds = {action_seconds}"
    )
    path = tmp / "slow.toml"
    path.write_text(text)
    return path


def coldshift_check(db_url: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "coldshift", "check", "--db", db_url],
        capture_output=True,
        text=True,
        timeout=120,
    )


def all_servers(region: Region) -> list[Any]:
    response = region.ecs().list_servers_details(ecs_model.ListServersDetailsRequest(limit=1000))
    return list(response.servers)


def test_state_survives_a_restart(cold_region: Region) -> None:
    region = cold_region
    region.start()
    client = region.ecs()
    [deh] = sdk.allocate(region.deh())
    [server_id] = sdk.create_and_wait(client, tenancy="dedicated", dedicated_host_id=deh)
    stop_job = sdk.stop(client, server_id).job_id
    sdk.wait_job(client, stop_job)

    region.restart()
    client = region.ecs()
    server = sdk.show(client, server_id)
    assert (server.status, server.os_ext_st_spower_state) == ("SHUTOFF", 4)
    assert server.osscheduler_hints.dedicated_host_id == [deh]
    host = sdk.show_deh(region.deh(), deh)
    assert (host.available_vcpus, host.instance_uuids) == (14, [server_id])
    assert sdk.job(client, stop_job).status == "SUCCESS"
    result = coldshift_check(region.db_url)
    assert result.returncode == 0, result.stdout + result.stderr


def test_kill_minus_nine_with_jobs_in_flight_finishes_every_job(cold_region: Region) -> None:
    region = cold_region
    region.catalog = slow_catalog(region.tmp, 0.5)
    region.start("--workers", "4")
    client = region.ecs()
    [deh] = sdk.allocate(region.deh())
    jobs = [
        sdk.create_servers(client, count=8, az="az-a").job_id,
        sdk.create_servers(client, count=4, tenancy="dedicated", dedicated_host_id=deh).job_id,
    ]
    wait_for(
        lambda: any(sdk.job(client, j).status == "RUNNING" for j in jobs), 30, "a create job to run"
    )
    in_flight = sum(
        1
        for j in jobs
        for s in sdk.job(client, j).entities.sub_jobs
        if s.status in ("INIT", "RUNNING")
    )
    assert in_flight > 0

    region.server.kill()
    region.restart("--workers", "4")
    client = region.ecs()
    finals = [sdk.wait_job(client, j, timeout=120) for j in jobs]
    assert [f.status for f in finals] == ["SUCCESS", "SUCCESS"]
    servers = all_servers(region)
    assert len(servers) == 12
    assert {s.status for s in servers} == {"ACTIVE"}
    host = sdk.show_deh(region.deh(), deh)
    assert (host.available_vcpus, host.instance_total) == (16 - 4 * 2, 4)
    result = coldshift_check(region.db_url)
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_second_process_on_one_sqlite_file_is_refused(tmp_path: Path) -> None:
    from tests.e2e.conftest import region_on

    with region_on("sqlite", tmp_path) as region:
        region.start()
        second = subprocess.run(
            [
                sys.executable,
                "-m",
                "coldshift",
                "serve",
                "--catalog",
                str(TEST_CATALOG),
                "--db",
                region.db_url,
                "--port",
                "1",
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert second.returncode == 3
        assert "another coldshift process" in second.stdout + second.stderr


def test_sigterm_with_jobs_in_flight_loses_no_job(cold_region: Region) -> None:
    """A graceful stop finishes or hands back what it holds; the next process ends the rest."""
    region = cold_region
    region.catalog = slow_catalog(region.tmp, 0.3)
    region.start("--workers", "2")
    client = region.ecs()
    job_id = sdk.create_servers(client, count=6, az="az-a").job_id
    wait_for(lambda: sdk.job(client, job_id).status == "RUNNING", 30, "the create to run")

    process = region.server.proc
    assert process is not None
    region.restart("--workers", "2")  # SIGTERM, wait for the exit, start again
    # uvicorn re-raises SIGTERM after its shutdown, so -15 is a clean exit too
    assert process.returncode in (0, -15)
    log = (region.tmp / "serve-0.log").read_text()
    assert "coldshift stopped: job workers ended" in log
    client = region.ecs()
    assert sdk.wait_job(client, job_id, timeout=120).status == "SUCCESS"
    assert {s.status for s in all_servers(region)} == {"ACTIVE"}
    result = coldshift_check(region.db_url)
    assert result.returncode == 0, result.stdout + result.stderr


def test_kill_minus_nine_during_stops_and_deletes(cold_region: Region) -> None:
    """Stop and delete jobs killed mid-way are finished on restart; deleted servers give all
    their capacity back and stopped ones keep theirs."""
    region = cold_region
    region.catalog = slow_catalog(region.tmp, 0.4)
    region.start("--workers", "4")
    client = region.ecs()
    [deh] = sdk.allocate(region.deh())
    ids = sdk.create_and_wait(client, count=6, tenancy="dedicated", dedicated_host_id=deh)
    stopping, deleting = ids[:3], ids[3:]
    jobs = [sdk.stop(client, *stopping).job_id, sdk.delete(client, *deleting).job_id]
    wait_for(
        lambda: any(sdk.job(client, j).status == "RUNNING" for j in jobs),
        30,
        "a stop or delete to run",
    )

    region.server.kill()
    region.restart("--workers", "4")
    client = region.ecs()
    assert [sdk.wait_job(client, j, timeout=120).status for j in jobs] == ["SUCCESS"] * 2
    remaining = {s.id: s.status for s in all_servers(region)}
    assert remaining == dict.fromkeys(stopping, "SHUTOFF")
    host = sdk.show_deh(region.deh(), deh)
    assert (host.available_vcpus, sorted(host.instance_uuids)) == (16 - 3 * 2, sorted(stopping))
    result = coldshift_check(region.db_url)
    assert result.returncode == 0, result.stdout + result.stderr
