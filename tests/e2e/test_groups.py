"""ECS groups through the official SDK (issue 12): CRUD and refusals, members spread at create,
and the anti-affinity rule a cold migration inherits, under races and a kill -9.

The capacity is the test catalog's: az-a's public pool has two t1 hosts, so a group's third
member finds no host in the pool; a project may allocate six t1 DeHs.
"""

from __future__ import annotations

from typing import Any

import pytest
from huaweicloudsdkecs.v2 import model as ecs

from tests.e2e import admin, rawhttp, sdk
from tests.e2e.cluster import migrate_call, round_robin
from tests.e2e.conftest import Region
from tests.e2e.harness import ALPHA, BETA, wait_for
from tests.e2e.test_durability import coldshift_check

UNKNOWN = "7d5b9c4e-0000-4000-8000-00000000dead"


def test_groups_crud_and_members_through_the_sdk(shared: Region) -> None:
    client = shared.ecs()
    first, second = sdk.create_group(client, "db"), sdk.create_group(client, "web")
    assert (first.name, first.policies, first.members) == ("db", ["anti-affinity"], [])
    (server,) = sdk.stopped_servers(client, name="crud")

    sdk.add_member(client, first.id, server)
    sdk.add_member(client, first.id, server)  # already a member: nothing changes
    assert sdk.show_group(client, first.id).members == [server]
    sdk.remove_member(client, first.id, server)
    batch = sdk.add_members(client, second.id, server)
    assert (batch.status, [s.server_id for s in batch.servers]) == ("success", [server])
    assert sdk.show_group(client, second.id).members == [server]
    sdk.remove_members(client, second.id, server)
    assert sdk.show_group(client, second.id).members == []

    page = client.list_server_groups(ecs.ListServerGroupsRequest(limit=1))
    assert len(page.server_groups) == 1 and page.page_info.next_marker == page.server_groups[0].id
    rest = client.list_server_groups(
        ecs.ListServerGroupsRequest(limit=1000, marker=page.page_info.next_marker)
    )
    listed = [g.id for g in page.server_groups + rest.server_groups]
    assert {first.id, second.id} <= set(listed) and len(listed) == len(set(listed))

    sdk.add_member(client, first.id, server)
    sdk.delete_group(client, first.id)  # with a member: Nova's answer, the member stays
    sdk.expect_error(lambda: sdk.show_group(client, first.id), 404, "Ecs.0313")
    assert sdk.show(client, server).status == "SHUTOFF"
    sdk.add_member(client, second.id, server)  # it left the deleted group
    sdk.delete_group(client, second.id)
    sdk.wait_job(client, sdk.delete(client, server).job_id)


def test_nova_native_groups(shared: Region) -> None:
    base = f"{shared.url}/v2.1/{ALPHA[0]}/os-server-groups"
    body = rawhttp.dumps({"server_group": {"name": "nova", "policies": ["anti-affinity"]}})
    created = rawhttp.ok_json(rawhttp.signed("POST", base, ALPHA, body))["server_group"]
    assert created["policies"] == ["anti-affinity"] and created["project_id"] == ALPHA[0]
    shown = rawhttp.ok_json(rawhttp.signed("GET", f"{base}/{created['id']}", ALPHA))
    assert shown["server_group"]["id"] == created["id"]
    listed = rawhttp.ok_json(rawhttp.signed("GET", base, ALPHA))["server_groups"]
    assert created["id"] in [g["id"] for g in listed]
    foreign = rawhttp.signed("GET", f"{base.replace(ALPHA[0], BETA[0])}/{created['id']}", BETA)
    rawhttp.nova_error(foreign, 404, "itemNotFound")
    bad = rawhttp.dumps({"server_group": {"name": "n", "policies": ["affinity"]}})
    rawhttp.nova_error(rawhttp.signed("POST", base, ALPHA, bad), 400, "badRequest")
    assert rawhttp.signed("DELETE", f"{base}/{created['id']}", ALPHA).status_code == 204
    gone = rawhttp.signed("GET", f"{base}/{created['id']}", ALPHA)
    rawhttp.nova_error(gone, 404, "itemNotFound")


def test_bad_input_is_refused_with_huaweis_codes_and_nothing_changes(shared: Region) -> None:
    client, beta = shared.ecs(), shared.ecs(BETA)
    group = sdk.create_group(client, "refusals")
    other = sdk.create_group(client, "other")
    (stopped,) = sdk.stopped_servers(client, name="refused")
    (running,) = sdk.create_and_wait(client, name="running")
    sdk.add_member(client, other.id, stopped)
    groups_before = _all_groups(client)
    cases: list[tuple[str, Any, int, str]] = [
        ("affinity", lambda: sdk.create_group(client, "x", ["affinity"]), 400, "Ecs.0005"),
        (
            "two policies",
            lambda: sdk.create_group(client, "x", ["anti-affinity"] * 2),
            400,
            "Ecs.0005",
        ),
        ("empty name", lambda: sdk.create_group(client, ""), 400, "Ecs.0005"),
        ("long name", lambda: sdk.create_group(client, "n" * 256), 400, "Ecs.0005"),
        ("unknown group", lambda: sdk.show_group(client, UNKNOWN), 404, "Ecs.0313"),
        ("foreign group", lambda: sdk.show_group(beta, group.id), 404, "Ecs.0313"),
        ("foreign delete", lambda: sdk.delete_group(beta, group.id), 404, "Ecs.0313"),
        ("unknown member", lambda: sdk.add_member(client, group.id, UNKNOWN), 404, "Ecs.0114"),
        ("in another group", lambda: sdk.add_member(client, group.id, stopped), 400, "Ecs.0005"),
        ("not stopped", lambda: sdk.add_member(client, group.id, running), 400, "Ecs.0100"),
        (
            "batch, one bad",
            lambda: sdk.add_members(client, group.id, running, UNKNOWN),
            404,
            "Ecs.0114",
        ),
        ("not a member", lambda: sdk.remove_member(client, group.id, running), 400, "Ecs.0005"),
        ("hint unknown", lambda: sdk.create_servers(client, group=UNKNOWN), 400, "Ecs.0005"),
        ("hint foreign", lambda: sdk.create_servers(beta, group=group.id), 400, "Ecs.0005"),
        (
            "hint + DeH",
            lambda: sdk.create_servers(
                client, group=group.id, tenancy="dedicated", dedicated_host_id=UNKNOWN
            ),
            400,
            "Ecs.0005",
        ),
        (
            "17 members",
            lambda: sdk.create_servers(client, group=group.id, count=17),
            400,
            "Ecs.0022",
        ),
    ]
    for what, call, status, code in cases:
        sdk.expect_error(call, status, code, what)
    assert _all_groups(client) == groups_before
    foreign_member = sdk.create_and_wait(beta, name="beta")[0]
    sdk.expect_error(lambda: sdk.add_member(client, group.id, foreign_member), 404, "Ecs.0114")
    assert sdk.show_group(client, group.id).members == []


def test_members_spread_over_hosts_at_create_and_leave_when_deleted(shared: Region) -> None:
    client = shared.ecs()
    group = sdk.create_group(client, "spread")
    job = sdk.wait_job(client, sdk.create_servers(client, group=group.id, count=3).job_id)
    subs = sorted(job.entities.sub_jobs, key=lambda s: s.status)
    assert [s.status for s in subs] == ["FAIL", "SUCCESS", "SUCCESS"], subs
    assert subs[0].error_code == "Ecs.0319"
    assert f"anti-affinity policy of ECS group {group.id}" in subs[0].fail_reason
    members = [s.entities.server_id for s in subs[1:]]
    assert len({sdk.host_of(client, m) for m in members}) == 2
    assert sorted(sdk.show_group(client, group.id).members) == sorted(members)
    sdk.wait_job(client, sdk.delete(client, *members).job_id)
    assert sdk.show_group(client, group.id).members == []
    assert coldshift_check(shared.db_url).returncode == 0


RACES = [
    pytest.param("sqlite", 1, id="sqlite-1"),
    pytest.param("pg", 1, id="pg-1", marks=pytest.mark.pg),
    pytest.param("pg", 2, id="pg-2", marks=pytest.mark.pg),
]


@pytest.mark.parametrize(("backend", "processes"), RACES, indirect=["backend"])
def test_a_migration_never_puts_two_members_on_one_host(
    cold_region: Region, processes: int
) -> None:
    region = cold_region
    for _ in range(processes):
        region.start("--workers", "4")
    client = region.ecs()
    dehs = sdk.allocate(region.deh(), quantity=5)
    members = [
        sdk.stopped_servers(client, name=f"m{i}", tenancy="dedicated", dedicated_host_id=deh)[0]
        for i, deh in enumerate(dehs[:4])
    ]
    group = sdk.create_group(client, "race")
    sdk.add_members(client, group.id, *members)

    # A DeH that visibly holds a member is refused at once; the member stays.
    err = sdk.expect_error(lambda: sdk.migrate(client, members[0], dehs[1]), 400, "Ecs.0005")
    assert group.id in err.error_msg and dehs[1] in err.error_msg
    # Four members race for one free DeH: all four are accepted while no worker runs, then
    # every process starts its workers and their claims race: exactly one wins.
    for index in range(processes):
        region.restart("--workers", "0", index=index)
    job_ids = round_robin(region, [migrate_call(m, dehs[4]) for m in members])
    for index in range(processes):
        region.restart("--workers", "4", index=index)
    finals = [sdk.wait_job(client, j) for j in job_ids]
    won = [m for m, f in zip(members, finals, strict=True) if f.status == "SUCCESS"]
    assert len(won) == 1, [(f.status, f.error_code) for f in finals]
    for member, deh, final in zip(members, dehs[:4], finals, strict=True):
        if member not in won:
            assert (final.error_code, group.id in final.fail_reason) == ("Ecs.0319", True)
            assert _deh_of(client, member) == deh  # left in place
    assert _deh_of(client, won[0]) == dehs[4]
    # To the pool: its two hosts take two members, and never the same host.
    to_pool = [m for m in members if m not in won][:3]
    finals = [sdk.migrate_and_wait(client, m) for m in to_pool]
    assert sorted(f.status for f in finals) == ["FAIL", "SUCCESS", "SUCCESS"]
    pooled = [m for m, f in zip(to_pool, finals, strict=True) if f.status == "SUCCESS"]
    assert len({sdk.host_of(client, m) for m in pooled}) == 2
    result = coldshift_check(region.db_url)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("pg", marks=pytest.mark.pg)], indirect=True
)
def test_kill_minus_nine_mid_migration_of_a_member_leaves_the_rule_whole(
    cold_region: Region,
) -> None:
    region = cold_region
    region.start("--workers", "4")
    client = region.ecs()
    dehs = sdk.allocate(region.deh(), quantity=3)
    members = [
        sdk.stopped_servers(client, name=f"k{i}", tenancy="dedicated", dedicated_host_id=deh)[0]
        for i, deh in enumerate(dehs[:2])
    ]
    group = sdk.create_group(client, "kill")
    sdk.add_members(client, group.id, *members)
    admin.hold(region.url, "copy_disks", 3600)
    job_id = sdk.migrate(client, members[0], dehs[2])
    wait_for(lambda: admin.in_progress(region.url, "copy_disks") == 1, 60, "the copy to start")
    region.restart("--workers", "4", kill=True)
    assert sdk.wait_job(client, job_id).status == "FAIL"  # interrupted before its commit point
    assert _deh_of(client, members[0]) == dehs[0]
    result = coldshift_check(region.db_url)
    assert result.returncode == 0, result.stdout + result.stderr
    # the DeH the killed migration claimed is free for the group again
    assert sdk.migrate_and_wait(client, members[1], dehs[2]).status == "SUCCESS"
    sdk.expect_error(lambda: sdk.migrate(client, members[0], dehs[2]), 400, "Ecs.0005")


def _all_groups(client: Any) -> list[tuple[str, tuple[str, ...]]]:
    listed = client.list_server_groups(ecs.ListServerGroupsRequest()).server_groups
    return sorted((g.id, tuple(g.members)) for g in listed)


def _deh_of(client: Any, server_id: str) -> str | None:
    hints = sdk.show(client, server_id).osscheduler_hints
    return hints.dedicated_host_id[0] if hints and hints.dedicated_host_id else None
