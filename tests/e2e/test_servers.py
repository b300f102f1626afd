"""ECS v1/v1.1 servers and jobs through the official EcsClient against real `coldshift serve`
processes (api.md §2.2-2.9, §2.12, §4, §6.1, §1.5), on SQLite and PostgreSQL.
"""

from __future__ import annotations

import re
import uuid
from functools import partial
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from huaweicloudsdkecs.v2 import model as m

from tests.e2e import sdk
from tests.e2e.conftest import Region
from tests.e2e.harness import ALPHA, BETA
from tests.e2e.rawhttp import dumps, signed
from tests.e2e.sdk import expect_error

MILLIS_Z = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
SECONDS_Z = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
MICROS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}$")
HOST_ID = re.compile(r"^[0-9a-f]{56}$")


# ---- helpers ---------------------------------------------------------------------------


def list_v1(client: Any, **query: Any) -> Any:
    return client.list_servers_details(m.ListServersDetailsRequest(**query))


def ids_v1(client: Any, **query: Any) -> list[str]:
    return [s.id for s in list_v1(client, **query).servers]


def list_v11(client: Any, **query: Any) -> Any:
    return client.list_cloud_servers(m.ListCloudServersRequest(**query))


def check_job_times(job: Any) -> None:
    assert MILLIS_Z.match(job.begin_time), job.begin_time
    assert MILLIS_Z.match(job.end_time), job.end_time
    assert job.begin_time <= job.end_time


def check_succeeded(final: Any, job_type: str, sub_type: str, server_ids: list[str]) -> None:
    assert final.status == "SUCCESS", (final.error_code, final.fail_reason)
    assert final.job_type == job_type
    assert final.error_code is None and final.fail_reason is None
    check_job_times(final)
    assert final.entities.sub_jobs_total == len(server_ids)
    subs = final.entities.sub_jobs
    assert sorted(s.entities.server_id for s in subs) == sorted(server_ids)
    for sub in subs:
        assert sub.status == "SUCCESS" and sub.job_type == sub_type
        assert sub.job_id and sub.job_id != final.job_id
        assert sub.error_code is None and sub.fail_reason is None
        check_job_times(sub)


def lock(region: Region, server_id: str) -> None:
    """Nova ``lock``: the SDK has no method for it, so a signed raw request."""
    url = f"{region.url}/v2.1/{ALPHA[0]}/servers/{server_id}/action"
    response = signed("POST", url, ALPHA, dumps({"lock": None}))
    assert response.status_code == 202, response.text


def power(client: Any, server_id: str) -> tuple[str, int]:
    server = sdk.show(client, server_id)
    return server.status, server.os_ext_st_spower_state


# ---- create ------------------------------------------------------------------------------


def test_create_v1_three_servers(region: Region) -> None:
    client = region.ecs()
    response = sdk.create_servers(client, name="web", count=3, data_gb=100)
    ids = list(response.server_ids)
    assert len(ids) == 3 and len(set(ids)) == 3
    assert all(uuid.UUID(i).version == 4 for i in ids)
    assert re.match(r"^[0-9a-f]{32}$", response.job_id)

    final = sdk.wait_job(client, response.job_id)
    assert final.job_id == response.job_id
    check_succeeded(final, "createServer", "createSingleServer", ids)

    servers = [sdk.show(client, i) for i in ids]
    assert sorted(s.name for s in servers) == ["web-0001", "web-0002", "web-0003"]
    for server in servers:
        assert server.status == "ACTIVE"
        assert server.os_ext_st_svm_state == "active"
        assert server.os_ext_st_stask_state is None
        assert server.os_ext_st_spower_state == 1
        assert server.os_ext_a_zavailability_zone == "az-a"
        volumes = server.os_extended_volumesvolumes_attached
        assert [v.device for v in volumes] == ["/dev/vda", "/dev/vdb"]
        assert volumes[0].boot_index == "0"
        assert all(v.delete_on_termination == "false" and v.id for v in volumes)
        assert len({v.id for v in volumes}) == 2


def test_create_v1_1_with_prepaid_models(region: Region) -> None:
    client = region.ecs()
    server = m.PrePaidServer(
        name="api",
        image_ref=sdk.IMAGE,
        flavor_ref="t1.xlarge.2",
        vpcid=sdk.VPC,
        nics=[m.PrePaidServerNic(subnet_id=sdk.SUBNET)],
        root_volume=m.PrePaidServerRootVolume(volumetype="SSD", size=50),
        data_volumes=[m.PrePaidServerDataVolume(volumetype="SSD", size=20)],
        count=2,
        availability_zone="az-b",
        extendparam=m.PrePaidServerExtendParam(charging_mode="postPaid"),
    )
    body = m.CreateServersRequestBody(server=server)
    response = client.create_servers(m.CreateServersRequest(body=body))
    ids = list(response.server_ids)
    assert len(ids) == 2 and response.order_id is None
    final = sdk.wait_job(client, response.job_id)
    check_succeeded(final, "createServer", "createSingleServer", ids)
    shown = [sdk.show(client, i) for i in ids]
    assert sorted(s.name for s in shown) == ["api-0001", "api-0002"]
    for s in shown:
        assert (s.status, s.os_ext_st_spower_state) == ("ACTIVE", 1)
        assert s.os_ext_a_zavailability_zone == "az-b"
        assert s.flavor.id == "t1.xlarge.2" and s.flavor.vcpus == "4"
        assert [v.device for v in s.os_extended_volumesvolumes_attached] == ["/dev/vda", "/dev/vdb"]


def dry_run(client: Any, version: str, flavor: str = "t1.large.2", count: int = 2) -> Any:
    common: dict[str, Any] = {
        "name": "dry",
        "image_ref": sdk.IMAGE,
        "flavor_ref": flavor,
        "vpcid": sdk.VPC,
        "count": count,
    }
    if version == "v1":
        server = m.PostPaidServer(
            nics=[m.PostPaidServerNic(subnet_id=sdk.SUBNET)],
            root_volume=m.PostPaidServerRootVolume(volumetype="SSD"),
            **common,
        )
        body = m.CreatePostPaidServersRequestBody(server=server, dry_run=True)
        return client.create_post_paid_servers(m.CreatePostPaidServersRequest(body=body))
    prepaid = m.PrePaidServer(
        nics=[m.PrePaidServerNic(subnet_id=sdk.SUBNET)],
        root_volume=m.PrePaidServerRootVolume(volumetype="SSD"),
        **common,
    )
    v11_body = m.CreateServersRequestBody(server=prepaid, dry_run=True)
    return client.create_servers(m.CreateServersRequest(body=v11_body))


@pytest.mark.parametrize("version", ["v1", "v1.1"])
def test_dry_run_validates_and_creates_nothing(region: Region, version: str) -> None:
    client = region.ecs()
    response = dry_run(client, version)
    assert response.status_code == 202
    assert response.job_id is None and response.server_ids is None
    assert response.raw_content in (b"", "", None)
    expect_error(lambda: dry_run(client, version, flavor="no.such"), 400, "Ecs.0029")
    expect_error(lambda: dry_run(client, version, count=41), 400, "Ecs.0001")
    assert list_v1(client).count == 0
    assert list_v11(client).servers == []


# ---- show --------------------------------------------------------------------------------


def test_show_fields_are_typed_per_sdk(region: Region) -> None:
    client = region.ecs()
    [server_id] = sdk.create_and_wait(client, name="typed")
    response = client.show_server(m.ShowServerRequest(server_id=server_id))
    server = response.server
    assert server.id == server_id and server.name == "typed"
    assert server.flavor.vcpus == "2" and server.flavor.ram == "4096"
    assert server.flavor.id == "t1.large.2" and server.flavor.disk == "0"
    assert server.locked is False
    assert server.progress == 0
    assert server.os_ext_srv_att_rhost
    assert server.os_ext_srv_att_rhypervisor_hostname
    assert HOST_ID.match(server.host_id), server.host_id
    assert server.host_status == "UP"
    assert SECONDS_Z.match(server.created) and SECONDS_Z.match(server.updated)
    assert MICROS.match(server.os_srv_us_glaunched_at), server.os_srv_us_glaunched_at
    assert server.tenant_id == ALPHA[0]
    assert server.image.id == sdk.IMAGE
    assert server.metadata["charging_mode"] == "0"
    [address] = server.addresses[sdk.VPC]
    assert address.version == "4" and address.primary is True and address.addr
    assert server.fault is None
    hints = server.osscheduler_hints
    assert hints is None or (hints.tenancy is None and hints.dedicated_host_id is None)

    raw = sdk.raw(response)["server"]
    assert raw["os:scheduler_hints"] == {}
    assert type(raw["progress"]) is int and type(raw["locked"]) is bool
    assert type(raw["OS-EXT-STS:power_state"]) is int
    assert type(raw["OS-EXT-SRV-ATTR:launch_index"]) is int
    assert raw["OS-EXT-STS:task_state"] is None

    unknown = str(uuid.uuid4())
    expect_error(lambda: sdk.show(client, unknown), 404, "Ecs.0114")


# ---- list --------------------------------------------------------------------------------


def test_list_v1_paging_and_filters(region: Region) -> None:
    client = region.ecs()
    web = sdk.create_and_wait(client, name="web", count=5)
    db = sdk.create_and_wait(client, name="db", count=2, flavor="t1.xlarge.2", az="az-b")
    sdk.wait_job(client, sdk.stop(client, db[0]).job_id)

    everything = list_v1(client)
    assert everything.count == 7
    all_ids = [s.id for s in everything.servers]
    assert sorted(all_ids) == sorted(web + db)

    # offset is a page number; 0 behaves like 1; count is the total, not the page size
    pages = [list_v1(client, limit=3, offset=n) for n in (1, 2, 3)]
    assert all(p.count == 7 for p in pages)
    assert [s.id for p in pages for s in p.servers] == all_ids
    assert [len(p.servers) for p in pages] == [3, 3, 1]
    assert ids_v1(client, limit=3, offset=0) == all_ids[:3]
    assert ids_v1(client, limit=3, offset=4) == []

    # marker: the servers after the given one
    assert ids_v1(client, limit=3, marker=all_ids[2]) == all_ids[3:6]
    assert ids_v1(client, limit=3, marker=all_ids[5]) == all_ids[6:]
    assert ids_v1(client, marker=all_ids[-1]) == []

    named = list_v1(client, name="web", limit=2)
    assert named.count == 5 and len(named.servers) == 2
    assert sorted(ids_v1(client, name="web")) == sorted(web)
    [third] = list_v1(client, name="web-00.3").servers  # '.' matches any one character
    assert third.name == "web-0003"
    assert sorted(ids_v1(client, name="b-000[12]")) == sorted(  # both web and db match
        s.id for s in everything.servers if s.name[-1] in "12"
    )
    assert ids_v1(client, name="nothing-like-this") == []

    assert sorted(ids_v1(client, flavor="t1.xlarge.2")) == sorted(db)
    assert ids_v1(client, flavor="t1.2xlarge.2") == []
    assert ids_v1(client, status="SHUTOFF") == [db[0]]
    assert sorted(ids_v1(client, status="ACTIVE")) == sorted(web + db[1:])

    # server_id: exactly those servers, other filters ignored
    picked = list_v1(client, server_id=f"{web[1]},{db[0]}", name="zzz", status="ACTIVE")
    assert sorted(s.id for s in picked.servers) == sorted([web[1], db[0]])
    assert picked.count == 2
    # an unknown id answers an entry with only id and fault (api.md §2.5)
    ghost = str(uuid.uuid4())
    [entry] = list_v1(client, server_id=ghost).servers
    assert (entry.id, entry.fault["code"], entry.name, entry.status) == (ghost, 404, None, None)

    expect_error(lambda: list_v1(client, marker=str(uuid.uuid4())), 400, "Ecs.0005")


def test_list_v1_1_paging_links_and_expect_fields(region: Region) -> None:
    client = region.ecs()
    ids = sdk.create_and_wait(client, name="svc", count=5)
    in_v1_order = ids_v1(client)

    seen: list[str] = []
    marker: str | None = None
    for _ in range(5):
        page = list_v11(client, limit=2, marker=marker)
        assert page.request_id
        seen += [s.id for s in page.servers]
        if not page.servers_links:
            break
        [link] = page.servers_links
        assert link.rel == "next"
        split = urlsplit(link.href)
        assert split.path.endswith(f"/v1.1/{ALPHA[0]}/cloudservers/detail")
        query = parse_qs(split.query)
        assert query["limit"] == ["2"] and query["marker"] == [seen[-1]]
        marker = query["marker"][0]
    assert seen == in_v1_order and sorted(seen) == sorted(ids)
    assert len(list_v11(client, limit=2, marker=seen[1]).servers) == 2
    first_two = [s.id for s in list_v11(client).servers if s.name in ("svc-0001", "svc-0002")]
    assert [s.id for s in list_v11(client, name="svc-000[12]").servers] == first_two
    assert list_v11(client, status="SHUTOFF").servers == []
    assert len(list_v11(client, flavor_name="t1.large.2", availability_zone="az-a").servers) == 5

    plain = list_v11(client, limit=1).servers[0]
    assert plain.flavor.vcpus == 2 and plain.flavor.ram == 4096  # integers in v1.1
    assert plain.availability_zone == "az-a" and plain.status == "ACTIVE"
    assert plain.tenancy is None and plain.locked is None and plain.power_state is None

    expect = ["tenancy", "dedicated_host_id", "locked", "power_state"]
    response = list_v11(client, expect_fields=expect)
    assert len(response.servers) == 5
    for server in response.servers:
        assert server.tenancy == "shared"
        assert not server.dedicated_host_id
        assert server.locked is False
        assert server.power_state == 1
    raw = sdk.raw(response)["servers"][0]
    assert {"tenancy", "dedicated_host_id", "locked", "power_state"} <= set(raw)
    assert type(raw["locked"]) is bool and type(raw["power_state"]) is int
    assert "key_name" not in raw and "metadata" not in raw

    expect_error(lambda: list_v11(client, marker=str(uuid.uuid4())), 400, "Ecs.0005")


# ---- batch start / stop / delete ---------------------------------------------------------


def test_batch_stop_then_start_and_no_ops(region: Region) -> None:
    client = region.ecs()
    ids = sdk.create_and_wait(client, name="pw", count=2)

    final = sdk.wait_job(client, sdk.stop(client, *ids).job_id)
    check_succeeded(final, "batchStopServers", "stopServer", ids)
    for i in ids:
        assert power(client, i) == ("SHUTOFF", 4)
        assert sdk.show(client, i).os_ext_st_svm_state == "stopped"

    again = sdk.wait_job(client, sdk.stop(client, *ids).job_id)  # already stopped: no-op
    check_succeeded(again, "batchStopServers", "stopServer", ids)
    assert all(power(client, i) == ("SHUTOFF", 4) for i in ids)

    started = sdk.wait_job(client, sdk.start(client, *ids).job_id)
    check_succeeded(started, "batchStartServers", "startServer", ids)
    for i in ids:
        assert power(client, i) == ("ACTIVE", 1)
        assert sdk.show(client, i).os_ext_st_stask_state is None

    noop = sdk.wait_job(client, sdk.start(client, ids[0]).job_id)
    check_succeeded(noop, "batchStartServers", "startServer", ids[:1])
    assert power(client, ids[0]) == ("ACTIVE", 1)


def test_a_batch_naming_an_unknown_server_changes_nothing(region: Region) -> None:
    client = region.ecs()
    [a, b] = sdk.create_and_wait(client, name="keep", count=2)
    unknown = str(uuid.uuid4())
    expect_error(lambda: sdk.stop(client, a, unknown), 404, "Ecs.0114")
    expect_error(lambda: sdk.delete(client, b, unknown), 404, "Ecs.0114")
    assert power(client, a) == ("ACTIVE", 1)
    assert power(client, b) == ("ACTIVE", 1)
    sdk.wait_job(client, sdk.stop(client, a).job_id)
    expect_error(lambda: sdk.start(client, unknown, a), 404, "Ecs.0114")
    assert power(client, a) == ("SHUTOFF", 4)
    assert list_v1(client).count == 2


def test_a_locked_server_refuses_batch_actions(region: Region) -> None:
    client = region.ecs()
    [free, held] = sdk.create_and_wait(client, name="lk", count=2)
    lock(region, held)
    assert sdk.show(client, held).locked is True
    expect_error(lambda: sdk.stop(client, free, held), 400, "Ecs.0605")
    expect_error(lambda: sdk.delete(client, held), 400, "Ecs.0605")
    assert power(client, held) == ("ACTIVE", 1)
    assert power(client, free) == ("ACTIVE", 1)  # all or nothing
    assert sdk.show(client, held).locked is True
    sdk.wait_job(client, sdk.stop(client, free).job_id)
    assert power(client, free) == ("SHUTOFF", 4)


def test_batch_delete_removes_servers_and_releases_capacity(region: Region) -> None:
    """az-b has one t1 pool host (2 NUMA nodes of 8 vCPUs): two t1.2xlarge.2 fill it."""
    client = region.ecs()
    ids = sdk.create_and_wait(client, name="big", count=2, flavor="t1.2xlarge.2", az="az-b")
    final = sdk.wait_job(client, sdk.delete(client, *ids).job_id)
    check_succeeded(final, "deleteServers", "deleteServer", ids)
    for i in ids:
        expect_error(partial(sdk.show, client, i), 404, "Ecs.0114")
    assert list_v1(client).count == 0
    again = sdk.create_and_wait(client, name="big", count=2, flavor="t1.2xlarge.2", az="az-b")
    assert all(power(client, i) == ("ACTIVE", 1) for i in again)


# ---- create failures ---------------------------------------------------------------------


def test_create_refusals_create_nothing(region: Region) -> None:
    client = region.ecs()
    expect_error(lambda: sdk.create_servers(client, flavor="no.such.flavor"), 400, "Ecs.0029")
    expect_error(lambda: sdk.create_servers(client, count=0), 400, "Ecs.0005")
    expect_error(lambda: sdk.create_servers(client, count=101), 400, "Ecs.0913")
    expect_error(lambda: sdk.create_servers(client, az="az-nowhere"), 400, "Ecs.0005")
    expect_error(lambda: sdk.create_servers(client, count=41), 400, "Ecs.0001")  # quota 40
    assert list_v1(client).count == 0

    sdk.create_and_wait(client, name="two", count=2)
    expect_error(lambda: sdk.create_servers(client, count=39), 400, "Ecs.0001")  # 2 + 39 > 40
    assert list_v1(client).count == 2


def test_no_capacity_fails_only_the_server_that_does_not_fit(region: Region) -> None:
    """Three t1.2xlarge.2 (8 vCPUs, one NUMA node each) in az-b, whose single pool host has two
    8-vCPU nodes: two are placed, one sub-job (whichever claims last, sub-jobs run
    concurrently) fails with Ecs.0319 naming the NUMA rule, and the job FAILs.

    A server whose creation failed is not kept: its ID, though returned in serverIds,
    answers 404 Ecs.0114 and it is not listed; the two others stay ACTIVE.
    """
    client = region.ecs()
    response = sdk.create_servers(client, name="numa", count=3, flavor="t1.2xlarge.2", az="az-b")
    ids = list(response.server_ids)
    final = sdk.wait_job(client, response.job_id)
    assert final.status == "FAIL"
    assert final.error_code == "Ecs.0319"
    assert "single-NUMA-node rule" in final.fail_reason
    check_job_times(final)
    assert final.entities.sub_jobs_total == 3
    failed = [s for s in final.entities.sub_jobs if s.status == "FAIL"]
    passed = [s for s in final.entities.sub_jobs if s.status == "SUCCESS"]
    assert len(failed) == 1 and len(passed) == 2
    [bad] = failed
    assert bad.error_code == "Ecs.0319" and "single-NUMA-node rule" in bad.fail_reason
    assert bad.entities.errorcode_message == bad.fail_reason
    check_job_times(bad)
    lost = bad.entities.server_id
    expect_error(lambda: sdk.show(client, lost), 404, "Ecs.0114")
    kept = [i for i in ids if i != lost]
    assert all(power(client, i) == ("ACTIVE", 1) for i in kept)
    assert sorted(ids_v1(client)) == sorted(kept)


# ---- jobs --------------------------------------------------------------------------------


def test_unknown_and_foreign_jobs_are_400_common_0011(region: Region) -> None:
    alpha, beta = region.ecs(), region.ecs(BETA)
    expect_error(lambda: sdk.job(alpha, uuid.uuid4().hex), 400, "Common.0011")
    expect_error(lambda: sdk.job(alpha, "not-a-job-id"), 400, "Common.0011")
    response = sdk.create_servers(beta, name="beta-vm")
    assert sdk.wait_job(beta, response.job_id).status == "SUCCESS"
    expect_error(lambda: sdk.job(alpha, response.job_id), 400, "Common.0011")
    assert sdk.job(beta, response.job_id).job_id == response.job_id
