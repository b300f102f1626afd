"""Cold migration through the official SDK (cold-migration.md): directions, NUMA, the job."""

from __future__ import annotations

import threading
from functools import partial
from typing import Any

import pytest
from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException
from huaweicloudsdkdeh.v1 import model as deh_model
from huaweicloudsdkecs.v2 import model as ecs

from tests.e2e import admin, rawhttp, sdk
from tests.e2e.conftest import Region
from tests.e2e.harness import ALPHA, BETA, wait_for
from tests.e2e.test_durability import coldshift_check

# The test host type t1: 2 NUMA nodes of 8 vCPUs / 16384 MiB each.
NODE_VCPUS = 8


def numa_free(region: Region, deh_id: str) -> list[int]:
    view = sdk.raw_deh(region.deh(), deh_id)
    return [n["available_vcpus"] for n in view["numa_nodes"]]


def placement_of(region: Region, server_id: str) -> tuple[Any, ...]:
    server = sdk.show(region.ecs(), server_id)
    hints = server.osscheduler_hints
    return (
        server.status,
        server.os_ext_st_stask_state,
        server.os_ext_srv_att_rhypervisor_hostname,
        server.os_ext_srv_att_rhost,
        server.host_id,
        hints.dedicated_host_id if hints else None,
    )


# indexes into placement_of()
HOST, HYPERVISOR, HOST_ID, DEH = 2, 3, 4, 5


def deh_state(region: Region, deh_id: str) -> tuple[Any, ...]:
    host = sdk.show_deh(region.deh(), deh_id)
    return (
        host.available_vcpus,
        host.available_memory,
        host.instance_total,
        sorted(host.instance_uuids),
        numa_free(region, deh_id),
    )


def assert_quiet_and_consistent(region: Region) -> None:
    result = coldshift_check(region.db_url)
    assert result.returncode == 0, result.stdout + result.stderr


def test_pool_to_deh_to_deh_to_pool(region: Region) -> None:
    client = region.ecs()
    deh_a, deh_b = sdk.allocate(region.deh(), quantity=2)
    [server_id] = sdk.stopped_servers(client, flavor="t1.xlarge.2")
    pool_place = placement_of(region, server_id)
    assert pool_place[DEH] is None

    job_id = sdk.migrate(client, server_id, deh_a)
    assert len(job_id) == 32 and job_id == job_id.lower()
    final = sdk.wait_job(client, job_id)
    assert (final.status, final.job_type, final.error_code) == ("SUCCESS", "migrateServer", None)
    assert final.entities.server_id == server_id
    assert final.entities.sub_jobs_total == 1
    [sub] = final.entities.sub_jobs
    assert (sub.status, sub.entities.server_id) == ("SUCCESS", server_id)
    on_a = placement_of(region, server_id)
    assert on_a[:2] == ("SHUTOFF", None) and on_a[DEH] == [deh_a]
    assert all(on_a[i] != pool_place[i] for i in (HOST, HYPERVISOR, HOST_ID))
    server = sdk.show(client, server_id)
    assert server.osscheduler_hints.tenancy == ["dedicated"]
    assert deh_state(region, deh_a) == (12, 32768 - 8192, 1, [server_id], [4, 8])

    assert sdk.migrate_and_wait(client, server_id, deh_b).status == "SUCCESS"
    on_b = placement_of(region, server_id)
    assert on_b[DEH] == [deh_b] and on_b[HOST] != on_a[HOST] and on_b[HOST_ID] != on_a[HOST_ID]
    assert deh_state(region, deh_a) == (16, 32768, 0, [], [8, 8])
    assert deh_state(region, deh_b) == (12, 32768 - 8192, 1, [server_id], [4, 8])

    assert sdk.migrate_and_wait(client, server_id).status == "SUCCESS"
    back = placement_of(region, server_id)
    assert back[:2] == ("SHUTOFF", None) and back[DEH] is None
    assert (
        sdk.raw(client.show_server(sdk.show_request(server_id)))["server"]["os:scheduler_hints"]
        == {}
    )
    assert deh_state(region, deh_b) == (16, 32768, 0, [], [8, 8])
    assert_quiet_and_consistent(region)


@pytest.mark.parametrize(
    "body",
    [b"", b"{}", b'{"migrate": null}', b'{"migrate": {}}', b'{"migrate": {"x": 1}}'],
    ids=["empty", "object", "null", "empty-migrate", "unknown-member"],
)
def test_every_no_target_form_moves_to_the_pool(region: Region, body: bytes) -> None:
    client = region.ecs()
    [deh] = sdk.allocate(region.deh())
    [server_id] = sdk.stopped_servers(client, tenancy="dedicated", dedicated_host_id=deh)
    response = rawhttp.signed(
        "POST", f"{region.url}/v1/{ALPHA[0]}/cloudservers/{server_id}/migrate", ALPHA, body
    )
    job_id = rawhttp.ok_json(response)["job_id"]
    assert sdk.wait_job(client, job_id).status == "SUCCESS"
    assert placement_of(region, server_id)[DEH] is None
    assert deh_state(region, deh)[2] == 0


def test_the_sdk_without_a_body_moves_to_the_pool(region: Region) -> None:
    client = region.ecs()
    [deh] = sdk.allocate(region.deh())
    [server_id] = sdk.stopped_servers(client, tenancy="dedicated", dedicated_host_id=deh)
    for request in (
        ecs.MigrateServerRequest(server_id=server_id),
        ecs.MigrateServerRequest(
            server_id=server_id, body=ecs.MigrateServerRequestBody(migrate=None)
        ),
    ):
        job_id = client.migrate_server(request).job_id
        assert sdk.wait_job(client, job_id).status == "SUCCESS"
        assert placement_of(region, server_id)[DEH] is None
        assert sdk.migrate_and_wait(client, server_id, deh).status == "SUCCESS"


def test_what_a_user_sees_while_the_migration_runs(region: Region) -> None:
    client = region.ecs()
    source, target = sdk.allocate(region.deh(), quantity=2)
    [server_id] = sdk.stopped_servers(
        client, flavor="t1.xlarge.2", tenancy="dedicated", dedicated_host_id=source
    )
    before = placement_of(region, server_id)
    for operation in ("copy_disks", "define_on_target", "confirm_migration"):
        admin.hold(region.url, operation)
    job_id = sdk.migrate(client, server_id, target)

    def phase(task: str, operation: str) -> None:
        wait_for(lambda: admin.in_progress(region.url, operation) == 1, 30, operation)
        seen = placement_of(region, server_id)
        assert seen[:2] == ("RESIZE", task), seen
        assert sdk.job(client, job_id).status == "RUNNING"

    phase("resize_migrating", "copy_disks")
    assert placement_of(region, server_id)[2:] == before[2:]
    # both ends hold the guest: the target's room is claimed, the source's still held
    assert deh_state(region, source)[:4] == (12, 32768 - 8192, 1, [server_id])
    assert deh_state(region, target)[:4] == (12, 32768 - 8192, 0, [])
    assert (listed(region, source), listed(region, target)) == ([server_id], [])
    refuse_everything_while_migrating(region, server_id, source, target)

    admin.release(region.url, "copy_disks")
    phase("resize_migrated", "define_on_target")
    admin.release(region.url, "define_on_target")
    phase("resize_finish", "confirm_migration")
    switched = placement_of(region, server_id)
    assert switched[DEH] == [target] and switched[HOST] != before[HOST]
    # api.md §5.7: listed on the source, not yet on the target, until the job succeeds
    assert deh_state(region, source)[:4] == (12, 32768 - 8192, 1, [server_id])
    assert deh_state(region, target)[:4] == (12, 32768 - 8192, 0, [])
    assert (listed(region, source), listed(region, target)) == ([server_id], [])
    admin.release(region.url, "confirm_migration")

    assert sdk.wait_job(client, job_id).status == "SUCCESS"
    assert placement_of(region, server_id)[:2] == ("SHUTOFF", None)
    assert deh_state(region, source) == (16, 32768, 0, [], [8, 8])
    assert deh_state(region, target) == (12, 32768 - 8192, 1, [server_id], [4, 8])
    assert (listed(region, source), listed(region, target)) == ([], [server_id])
    assert_quiet_and_consistent(region)


def listed(region: Region, deh_id: str) -> list[str]:
    """The ids ``GET /v1.0/{p}/dedicated-hosts/{id}/servers`` lists."""
    request = deh_model.ListServersDedicatedHostRequest(dedicated_host_id=deh_id)
    return [s.id for s in region.deh().list_servers_dedicated_host(request).servers]


def refuse_everything_while_migrating(
    region: Region, server_id: str, source: str, target: str
) -> None:
    client = region.ecs()
    sdk.expect_error(lambda: sdk.migrate(client, server_id), 400, "Ecs.0100", "migrate")
    sdk.expect_error(lambda: sdk.start(client, server_id), 400, "Ecs.0100", "start")
    sdk.expect_error(lambda: sdk.stop(client, server_id), 400, "Ecs.0100", "stop")
    sdk.expect_error(lambda: sdk.delete(client, server_id), 400, "Ecs.0100", "delete")
    lock = rawhttp.signed(
        "POST",
        f"{region.url}/v2.1/{ALPHA[0]}/servers/{server_id}/action",
        ALPHA,
        rawhttp.dumps({"lock": None}),
    )
    assert "migrat" in rawhttp.nova_error(lock, 409, "conflictingRequest")
    deh_client = region.deh()
    for deh in (source, target):
        sdk.expect_error(partial(sdk.release_deh, deh_client, deh), 409, "DEH.0055", "release")
    assert sdk.show(client, server_id).locked is False


def test_a_deh_bound_for_is_not_released_before_the_job_claims_it(cold_region: Region) -> None:
    region = cold_region
    region.start()
    source, target = sdk.allocate(region.deh(), quantity=2)
    [server_id] = sdk.stopped_servers(region.ecs(), tenancy="dedicated", dedicated_host_id=source)
    region.restart("--workers", "0")  # no worker: the job stays INIT, as just accepted
    client = region.ecs()
    job_id = sdk.migrate(client, server_id, target)
    assert placement_of(region, server_id)[:2] == ("RESIZE", "resize_prep")
    assert sdk.job(client, job_id).status == "INIT"
    assert deh_state(region, target)[0] == 16  # nothing claimed yet
    sdk.expect_error(lambda: sdk.release_deh(region.deh(), target), 409, "DEH.0055")
    region.restart()
    client = region.ecs()
    assert sdk.wait_job(client, job_id).status == "SUCCESS"
    assert placement_of(region, server_id)[DEH] == [target]


def fill_nodes_to_four_and_four(region: Region, deh: str) -> None:
    """Leave 4 free vCPUs on each node of ``deh``: 8 free in total, but no 8 on one node."""
    client = region.ecs()
    ids = [
        sdk.create_and_wait(
            client, flavor="t1.xlarge.2", dedicated_host_id=deh, tenancy="dedicated"
        )[0]
        for _ in range(4)
    ]
    # best fit put ids[0], ids[1] on node 0 and ids[2], ids[3] on node 1
    assert sdk.wait_job(client, sdk.delete(client, ids[0], ids[2]).job_id).status == "SUCCESS"
    assert numa_free(region, deh) == [4, 4]


def test_numa_rule_refuses_a_guest_that_fits_only_in_total(region: Region) -> None:
    client = region.ecs()
    deh, other = sdk.allocate(region.deh(), quantity=2)
    fill_nodes_to_four_and_four(region, deh)
    [server_id] = sdk.stopped_servers(
        client, flavor="t1.2xlarge.2", tenancy="dedicated", dedicated_host_id=other
    )
    before = (placement_of(region, server_id), deh_state(region, deh), deh_state(region, other))
    assert sdk.show_deh(region.deh(), deh).available_vcpus == 8

    final = sdk.migrate_and_wait(client, server_id, deh)
    assert (final.status, final.error_code) == ("FAIL", "Ecs.0319")
    reason = final.fail_reason
    assert "single-NUMA-node rule" in reason and deh in reason, reason
    assert "8" in reason and "4" in reason, reason
    [sub] = final.entities.sub_jobs
    assert (sub.status, sub.error_code) == ("FAIL", "Ecs.0319")
    after = (placement_of(region, server_id), deh_state(region, deh), deh_state(region, other))
    assert after == before
    assert_quiet_and_consistent(region)


def test_best_fit_keeps_a_whole_node_free_for_a_big_guest(region: Region) -> None:
    client = region.ecs()
    target, source = sdk.allocate(region.deh(), quantity=2)
    sdk.create_and_wait(client, flavor="t1.xlarge.2", tenancy="dedicated", dedicated_host_id=target)
    assert numa_free(region, target) == [4, 8]
    small, big = (
        sdk.stopped_servers(client, flavor=f, tenancy="dedicated", dedicated_host_id=source)[0]
        for f in ("t1.xlarge.2", "t1.2xlarge.2")
    )
    assert sdk.migrate_and_wait(client, small, target).status == "SUCCESS"
    assert numa_free(region, target) == [0, 8]  # best fit: the fuller node
    assert sdk.migrate_and_wait(client, big, target).status == "SUCCESS"
    assert numa_free(region, target) == [0, 0]
    assert_quiet_and_consistent(region)


def test_a_two_node_flavor_is_split_over_two_nodes(region: Region) -> None:
    client = region.ecs()
    target, half = sdk.allocate(region.deh(), quantity=2)
    [server_id] = sdk.stopped_servers(client, flavor="t1.4xlarge.2")  # 16 vCPUs, numa_nodes 2
    assert sdk.migrate_and_wait(client, server_id, target).status == "SUCCESS"
    assert numa_free(region, target) == [0, 0]
    assert sdk.show_deh(region.deh(), target).available_memory == 0

    # a DeH with 16 free vCPUs in total but only 4 on node 0 cannot take 8 + 8
    sdk.create_and_wait(client, flavor="t1.xlarge.2", tenancy="dedicated", dedicated_host_id=half)
    sdk.create_and_wait(client, flavor="t1.large.2", tenancy="dedicated", dedicated_host_id=half)
    assert numa_free(region, half) == [2, 8]
    final = sdk.migrate_and_wait(client, server_id, half)
    assert (final.status, final.error_code) == ("FAIL", "Ecs.0319")
    assert "NUMA" in final.fail_reason, final.fail_reason
    assert placement_of(region, server_id)[DEH] == [target]
    assert numa_free(region, target) == [0, 0] and numa_free(region, half) == [2, 8]


def test_deh_to_pool_spreads_over_the_pool_hosts(region: Region) -> None:
    client = region.ecs()
    [deh] = sdk.allocate(region.deh())
    ids = sdk.stopped_servers(
        client, flavor="t1.large.2", count=4, tenancy="dedicated", dedicated_host_id=deh
    )
    for server_id in ids:
        assert sdk.migrate_and_wait(client, server_id).status == "SUCCESS"
    hosts = [placement_of(region, s)[HOST] for s in ids]
    # two pool hosts in az-a: spread puts two on each
    assert sorted(hosts.count(h) for h in set(hosts)) == [2, 2]
    assert deh_state(region, deh) == (16, 32768, 0, [], [8, 8])


def test_ten_migrations_racing_for_room_of_four(region: Region) -> None:
    client = region.ecs()
    target, *sources = sdk.allocate(region.deh(), quantity=4)
    ids = [
        s
        for deh, n in zip(sources, (4, 4, 2), strict=True)
        for s in sdk.stopped_servers(
            client, flavor="t1.xlarge.2", count=n, tenancy="dedicated", dedicated_host_id=deh
        )
    ]
    barrier = threading.Barrier(len(ids))
    job_ids: list[str] = [""] * len(ids)

    def go(index: int) -> None:
        barrier.wait()
        job_ids[index] = sdk.migrate(region.ecs(), ids[index], target)

    threads = [threading.Thread(target=go, args=(i,)) for i in range(len(ids))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    finals = [sdk.wait_job(client, j) for j in job_ids]
    outcomes = sorted((f.status, f.error_code) for f in finals)
    assert outcomes == [("FAIL", "Ecs.0319")] * 6 + [("SUCCESS", None)] * 4
    moved = [s for s, f in zip(ids, finals, strict=True) if f.status == "SUCCESS"]
    assert deh_state(region, target) == (0, 0, 4, sorted(moved), [0, 0])
    for server_id, final in zip(ids, finals, strict=True):
        where = placement_of(region, server_id)
        assert where[:2] == ("SHUTOFF", None)
        assert (where[DEH] == [target]) == (final.status == "SUCCESS")
    assert sum(deh_state(region, d)[2] for d in sources) == 6
    assert_quiet_and_consistent(region)


@pytest.mark.parametrize("operation", ["copy_disks", "define_on_target", "cleanup_source"])
def test_a_driver_fault_fails_the_job_and_changes_nothing(region: Region, operation: str) -> None:
    client = region.ecs()
    source, target = sdk.allocate(region.deh(), quantity=2)
    [server_id] = sdk.stopped_servers(
        client, flavor="t1.xlarge.2", data_gb=20, tenancy="dedicated", dedicated_host_id=source
    )
    before = server_view(region, server_id), deh_state(region, source), deh_state(region, target)
    admin.fail_next(region.url, operation)
    final = sdk.migrate_and_wait(client, server_id, target)
    assert (final.status, final.error_code) == ("FAIL", "Ecs.1000")
    assert operation in final.fail_reason
    after = server_view(region, server_id), deh_state(region, source), deh_state(region, target)
    assert after == before
    assert admin.operations(region.url)[operation]["fail_next"] == 0
    # the fault was used up: the same migration now succeeds
    assert sdk.migrate_and_wait(client, server_id, target).status == "SUCCESS"
    assert_quiet_and_consistent(region)


def server_view(region: Region, server_id: str) -> dict[str, Any]:
    view = dict(sdk.raw(region.ecs().show_server(sdk.show_request(server_id)))["server"])
    view.pop("updated")
    return view


def test_of_two_concurrent_migrations_of_one_server_exactly_one_gets_a_job(
    region: Region,
) -> None:
    client = region.ecs()
    source, target = sdk.allocate(region.deh(), quantity=2)
    [server_id] = sdk.stopped_servers(client, tenancy="dedicated", dedicated_host_id=source)
    for round_ in range(3):
        admin.hold(region.url, "confirm_migration")
        barrier = threading.Barrier(2)
        results: list[Any] = [None, None]
        destination = (target, source)[round_ % 2]

        def go(
            index: int,
            destination: str = destination,
            barrier: threading.Barrier = barrier,
            results: list[Any] = results,
        ) -> None:
            barrier.wait()
            try:
                results[index] = sdk.migrate(region.ecs(), server_id, destination)
            except ClientRequestException as exc:
                results[index] = exc

        threads = [threading.Thread(target=go, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        jobs = [r for r in results if isinstance(r, str)]
        refused = [r for r in results if isinstance(r, ClientRequestException)]
        assert len(jobs) == 1 and len(refused) == 1, results
        assert (refused[0].status_code, refused[0].error_code) == (400, "Ecs.0100")
        admin.release(region.url, "confirm_migration")
        assert sdk.wait_job(client, jobs[0]).status == "SUCCESS"
        assert placement_of(region, server_id)[DEH] == [destination]
    assert_quiet_and_consistent(region)


def test_jobs_are_kept_and_scoped_to_their_project(region: Region) -> None:
    client = region.ecs()
    [source, target] = sdk.allocate(region.deh(), quantity=2)
    [server_id] = sdk.stopped_servers(client, tenancy="dedicated", dedicated_host_id=source)
    job_id = sdk.migrate(client, server_id, target)
    assert sdk.wait_job(client, job_id).status == "SUCCESS"
    region.restart()
    kept = sdk.job(region.ecs(), job_id)
    assert (kept.status, kept.entities.server_id) == ("SUCCESS", server_id)
    assert kept.end_time.endswith("Z") and len(kept.end_time) == len("2024-05-02T08:15:41.877Z")
    foreign = sdk.expect_error(lambda: sdk.job(region.ecs(BETA), job_id), 400, "Common.0011")
    unknown = sdk.expect_error(lambda: sdk.job(region.ecs(BETA), "0" * 32), 400, "Common.0011")
    assert foreign.error_msg.replace(job_id, "X") == unknown.error_msg.replace("0" * 32, "X")
