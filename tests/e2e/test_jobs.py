"""Jobs through signed raw HTTP against real `coldshift serve` processes, on SQLite and
PostgreSQL: a parent job's status while its sub-job runs (api.md §4), and the job listing
`GET /v1/{project_id}/jobs` (a coldshift extension, README "Endpoints")."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e import admin, sdk
from tests.e2e.conftest import Region
from tests.e2e.harness import ALPHA, BETA, wait_for
from tests.e2e.rawhttp import huawei_error, ok_json, signed


def show_job(region: Region, job_id: str, creds: tuple[str, str, str] = ALPHA) -> Any:
    return ok_json(signed("GET", f"{region.url}/v1/{creds[0]}/jobs/{job_id}", creds))


def list_jobs(region: Region, query: str = "", creds: tuple[str, str, str] = ALPHA) -> Any:
    return signed("GET", f"{region.url}/v1/{creds[0]}/jobs{query}", creds)


def listed(region: Region, query: str = "", creds: tuple[str, str, str] = ALPHA) -> list[str]:
    return [j["job_id"] for j in ok_json(list_jobs(region, query, creds))["jobs"]]


def every_page(region: Region, query: str) -> list[list[str]]:
    """Follow ``jobs_links`` from the first page to the last."""
    body = ok_json(list_jobs(region, query))
    pages = [[j["job_id"] for j in body["jobs"]]]
    while body["jobs_links"]:
        [link] = body["jobs_links"]
        assert link["rel"] == "next" and link["href"].startswith(f"{region.url}/v1/"), link
        body = ok_json(signed("GET", link["href"], ALPHA))
        pages.append([j["job_id"] for j in body["jobs"]])
    return pages


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


# ---- the job listing (a coldshift extension) ------------------------------------------


def test_the_listing_shows_the_projects_jobs_newest_first_paged_and_filtered(
    region: Region,
) -> None:
    client = region.ecs()
    [deh] = sdk.allocate(region.deh())
    created = sdk.create_servers(client, count=2, tenancy="dedicated", dedicated_host_id=deh)
    assert sdk.wait_job(client, created.job_id).status == "SUCCESS"
    first, second = created.server_ids
    stopped = sdk.stop(client, first, second).job_id
    assert sdk.wait_job(client, stopped).status == "SUCCESS"
    migrated = sdk.migrate(client, first)  # to the public pool
    assert sdk.wait_job(client, migrated).status == "SUCCESS"
    foreign = sdk.create_servers(region.ecs(BETA)).job_id
    newest_first = [migrated, stopped, created.job_id]

    body = ok_json(list_jobs(region))
    assert [j["job_id"] for j in body["jobs"]] == newest_first
    assert body["jobs_links"] == [] and body["request_id"]
    # each item is what GET job answers, sub-jobs and all
    assert body["jobs"] == [show_job(region, j) for j in newest_first]
    assert [j["job_type"] for j in body["jobs"]] == [
        "migrateServer",
        "batchStopServers",
        "createServer",
    ]
    assert listed(region, creds=BETA) == [foreign]

    assert every_page(region, "?limit=1") == [[j] for j in newest_first]
    assert every_page(region, "?limit=2") == [newest_first[:2], newest_first[2:]]
    assert listed(region, f"?marker={stopped}") == [created.job_id]
    assert listed(region, f"?marker={created.job_id}") == []

    assert listed(region, "?status=SUCCESS") == newest_first
    assert listed(region, "?status=FAIL&job_type=migrateServer") == []
    assert listed(region, "?job_type=migrateServer") == [migrated]
    assert listed(region, f"?job_type=batchStopServers&marker={migrated}") == [stopped]

    admin.hold(region.url, "copy_disks")
    running = sdk.migrate(client, second)
    wait_for(lambda: admin.in_progress(region.url, "copy_disks") == 1, 30, "copy_disks")
    assert listed(region, "?status=RUNNING") == [running]
    assert listed(region, "?status=INIT") == []
    [item] = ok_json(list_jobs(region, "?status=RUNNING"))["jobs"]
    assert item["end_time"] == "" and item["entities"]["sub_jobs"][0]["status"] == "RUNNING"
    # paging with a filter: the next link keeps it
    assert every_page(region, "?status=SUCCESS&limit=2") == [newest_first[:2], newest_first[2:]]
    admin.release(region.url, "copy_disks")
    assert sdk.wait_job(client, running).status == "SUCCESS"

    # another project's job is not a marker here, and never listed
    huawei_error(list_jobs(region, f"?marker={foreign}"), 400, "Ecs.0005")
    assert foreign not in listed(region, "?limit=1000")


@pytest.mark.parametrize(
    ("query", "words"),
    [
        ("?limit=0", "limit"),
        ("?limit=1001", "limit"),
        ("?limit=ten", "limit"),
        ("?marker=0123456789abcdef0123456789abcdef", "marker"),
        ("?marker=", "marker"),
        ("?status=DONE", "status"),
        ("?status=running", "status"),
    ],
)
def test_a_bad_listing_request_answers_400_and_changes_nothing(
    shared: Region, query: str, words: str
) -> None:
    client = shared.ecs()
    sdk.create_and_wait(client)
    before = ok_json(list_jobs(shared, "?limit=1000"))["jobs"]
    message = huawei_error(list_jobs(shared, query), 400, "Ecs.0005")
    assert words in message, message
    assert ok_json(list_jobs(shared, "?limit=1000"))["jobs"] == before
