"""Jobs through signed raw HTTP against real `coldshift serve` processes, on SQLite and
PostgreSQL: a parent job's status while its sub-job runs (api.md §4), and the job listing
`GET /v1/{project_id}/jobs` (a coldshift extension, README "Endpoints")."""

from __future__ import annotations

from typing import Any

from tests.e2e import admin, sdk
from tests.e2e.conftest import Region
from tests.e2e.harness import ALPHA, wait_for
from tests.e2e.rawhttp import ok_json, signed


def show_job(region: Region, job_id: str, creds: tuple[str, str, str] = ALPHA) -> Any:
    return ok_json(signed("GET", f"{region.url}/v1/{creds[0]}/jobs/{job_id}", creds))


def task_state(region: Region, server_id: str) -> str | None:
    url = f"{region.url}/v1/{ALPHA[0]}/cloudservers/{server_id}"
    task: str | None = ok_json(signed("GET", url, ALPHA))["server"]["OS-EXT-STS:task_state"]
    return task


# ---- a parent job's status -------------------------------------------------------------


def test_a_parent_reads_running_once_its_sub_job_has_started(cold_region: Region) -> None:
    """The README's poll once printed `INIT RESIZE resize_migrating`. With one worker kept
    busy, the migration's job is recorded but not yet taken: reading the job (INIT) and then,
    after the worker took it, the server (resize_migrating) gives exactly that pair. Two
    requests are two moments; read in the other order, the job is RUNNING."""
    region = cold_region
    region.start("--workers", "1")
    client = region.ecs()
    [deh] = sdk.allocate(region.deh())
    busy, moved = sdk.stopped_servers(client, count=2, tenancy="dedicated", dedicated_host_id=deh)
    admin.hold(region.url, "power_on")
    admin.hold(region.url, "copy_disks")
    sdk.start(client, busy)
    wait_for(lambda: admin.in_progress(region.url, "power_on") == 1, 30, "the worker busy")
    job_id = sdk.migrate(client, moved)  # to the public pool

    parent = show_job(region, job_id)
    assert (parent["status"], parent["entities"]["sub_jobs"][0]["status"]) == ("INIT", "INIT")
    assert task_state(region, moved) == "resize_prep"

    admin.release(region.url, "power_on")
    wait_for(lambda: admin.in_progress(region.url, "copy_disks") == 1, 30, "copy_disks")
    # the README's order: the job read before the worker took it, the server after
    assert (parent["status"], task_state(region, moved)) == ("INIT", "resize_migrating")
    # read after the server, the job shows that its sub-job has started
    parent = show_job(region, job_id)
    assert parent["status"] == "RUNNING", parent
    assert parent["entities"]["sub_jobs"][0]["status"] == "RUNNING", parent
    assert parent["end_time"] == ""

    admin.release(region.url, "copy_disks")
    assert sdk.wait_job(client, job_id).status == "SUCCESS"
