"""Flavors, availability zones and the Nova-native subset (show, os-start, os-stop, lock,
unlock) through the official EcsClient and signed raw HTTP against real `coldshift serve`
processes (api.md §2.10, §2.11, §3.1, §3.3, §3.4, §7.5), on SQLite and PostgreSQL.
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from huaweicloudsdkecs.v2 import model as m

from tests.e2e import sdk
from tests.e2e.conftest import Region
from tests.e2e.harness import ALPHA, BETA, wait_for
from tests.e2e.rawhttp import dumps, huawei_error, nova_error, signed
from tests.e2e.sdk import expect_error

# The SDK marks its nova_* methods deprecated (they still work and are what this tests).
pytestmark = pytest.mark.filterwarnings("ignore:Method 'nova_:DeprecationWarning")

FLAVORS = ["t1.large.2", "t1.xlarge.2", "t1.2xlarge.2", "t1.4xlarge.2", "m1.large.8"]


# ---- helpers ---------------------------------------------------------------------------


def action(
    region: Region, server_id: str, body: Any, creds: tuple[str, str, str] = ALPHA
) -> httpx.Response:
    """POST /v2.1/{project}/servers/{id}/action, signed like the SDK signs."""
    url = f"{region.url}/v2.1/{creds[0]}/servers/{server_id}/action"
    return signed("POST", url, creds, dumps(body))


def accepted(response: httpx.Response) -> None:
    assert response.status_code == 202, (response.status_code, response.text)
    assert response.content == b""


def nova_show(client: Any, server_id: str, version: str | None = None) -> Any:
    request = m.NovaShowServerRequest(server_id=server_id, open_stack_api_version=version)
    return client.nova_show_server(request)


def wait_status(client: Any, server_id: str, status: str) -> Any:
    def reached() -> Any:
        server = sdk.show(client, server_id)
        idle = server.status == status and server.os_ext_st_stask_state is None
        return server if idle else None

    return wait_for(reached, 30, f"server {server_id} to be {status}")


def flavors(client: Any, **query: Any) -> Any:
    return client.list_flavors(m.ListFlavorsRequest(**query))


# ---- flavors and availability zones ------------------------------------------------------


def test_flavors_are_typed_per_sdk_and_filterable(region: Region) -> None:
    client = region.ecs()
    response = flavors(client)
    by_id = {f.id: f for f in response.flavors}
    assert sorted(by_id) == sorted(FLAVORS)

    large = by_id["t1.large.2"]
    assert large.name == "t1.large.2"
    assert large.vcpus == "2" and large.ram == 4096 and large.disk == "0"
    assert large.os_flv_disable_ddisabled is False and large.os_flavor_accessis_public is True
    assert large.os_flv_ext_dat_aephemeral == 0 and large.rxtx_factor == 1.0
    assert large.os_extra_specs.hwnuma_nodes == "1"
    assert "az-a(normal)" in large.os_extra_specs.condoperationaz
    assert large.os_extra_specs.condoperationstatus == "normal"
    assert large.links and all(link.href for link in large.links)
    assert by_id["t1.4xlarge.2"].os_extra_specs.hwnuma_nodes == "2"
    assert (by_id["t1.4xlarge.2"].vcpus, by_id["t1.4xlarge.2"].ram) == ("16", 32768)
    assert by_id["m1.large.8"].ram == 16384

    raw = {f["id"]: f for f in sdk.raw(response)["flavors"]}["t1.large.2"]
    assert type(raw["vcpus"]) is str and type(raw["ram"]) is int
    assert type(raw["OS-FLV-DISABLED:disabled"]) is bool
    assert all(type(v) is str for v in raw["os_extra_specs"].values())

    in_a = [f.id for f in flavors(client, availability_zone="az-a").flavors]
    assert {"t1.large.2", "t1.2xlarge.2", "t1.4xlarge.2"} <= set(in_a)
    assert flavors(client, availability_zone="az-nowhere").flavors == []
    [one] = flavors(client, flavor_id="t1.xlarge.2").flavors
    assert (one.id, one.vcpus, one.ram) == ("t1.xlarge.2", "4", 8192)
    first_two = [f.id for f in flavors(client, limit=2).flavors]
    assert first_two == [f.id for f in response.flavors][:2]
    after = [f.id for f in flavors(client, marker=first_two[-1]).flavors]
    assert after == [f.id for f in response.flavors][2:]


def test_availability_zones_in_both_forms(region: Region) -> None:
    client = region.ecs()
    v1 = client.list_server_az_info(m.ListServerAzInfoRequest())
    assert [z.availability_zone_id for z in v1.availability_zones] == ["az-a", "az-b"]
    assert all(type(z["category"]) is int for z in sdk.raw(v1)["availability_zones"])

    nova = client.nova_list_availability_zones(m.NovaListAvailabilityZonesRequest())
    zones = nova.availability_zone_info
    assert [z.zone_name for z in zones] == ["az-a", "az-b"]
    assert all(z.zone_state.available is True and z.hosts is None for z in zones)


# ---- Nova show ---------------------------------------------------------------------------


def test_nova_show_of_a_pool_server_and_of_a_deh_server(region: Region) -> None:
    client = region.ecs()
    [pool] = sdk.create_and_wait(client, name="pooled")
    response = nova_show(client, pool)
    server = response.server
    assert (server.id, server.name, server.status) == (pool, "pooled", "ACTIVE")
    assert server.os_ext_st_svm_state == "active"
    assert server.os_ext_st_stask_state is None
    assert server.os_ext_st_spower_state == 1
    assert server.locked is False
    assert server.osscheduler_hints is None
    assert server.os_ext_a_zavailability_zone == "az-a"
    v1 = sdk.show(client, pool)
    assert server.host_id == v1.host_id and server.os_ext_srv_att_rhost == v1.os_ext_srv_att_rhost
    [address] = server.addresses[sdk.VPC]
    assert address.version == 4
    raw = sdk.raw(response)["server"]
    assert "os:scheduler_hints" not in raw
    assert type(raw["addresses"][sdk.VPC][0]["version"]) is int
    assert type(raw["locked"]) is bool
    assert all(
        type(v["delete_on_termination"]) is bool
        for v in raw["os-extended-volumes:volumes_attached"]
    )

    [deh] = sdk.allocate(region.deh(), az="az-b")
    [dedicated] = sdk.create_and_wait(
        client, name="onhost", az="az-b", tenancy="dedicated", dedicated_host_id=deh
    )
    on_host = nova_show(client, dedicated).server
    assert on_host.status == "ACTIVE" and on_host.os_ext_a_zavailability_zone == "az-b"
    assert on_host.osscheduler_hints.tenancy == ["dedicated"]
    assert on_host.osscheduler_hints.dedicated_host_id == [deh]
    assert sdk.show(client, dedicated).osscheduler_hints.dedicated_host_id == [deh]
    assert on_host.host_id != server.host_id


def test_nova_show_gates_members_by_microversion(region: Region) -> None:
    """Default 2.1: flavor is ``{id, links}`` and no 2.3+ members; 2.47+: the embedded flavor
    with integers; 2.3/2.16/2.19/2.26 members appear from their microversion on (§3.4)."""
    client = region.ecs()
    [server_id] = sdk.create_and_wait(client, name="versions")

    default = nova_show(client, server_id)
    assert default.server.flavor.id == "t1.large.2" and default.server.flavor.vcpus is None
    raw = sdk.raw(default)["server"]
    for member in ("host_status", "description", "tags", "OS-EXT-SRV-ATTR:hostname"):
        assert member not in raw, member

    old = sdk.raw(nova_show(client, server_id, "compute 2.46"))["server"]
    assert set(old["flavor"]) <= {"id", "links"} and old["flavor"]["id"] == "t1.large.2"
    assert old["host_status"] == "UP" and old["description"] == "" and old["tags"] == []

    response = nova_show(client, server_id, "compute 2.60")
    server = response.server
    flavor = server.flavor
    assert (flavor.vcpus, flavor.ram, flavor.disk) == (2, 4096, 0)
    assert (flavor.ephemeral, flavor.swap, flavor.original_name) == (0, 0, "t1.large.2")
    assert flavor.extra_specs["hw:numa_nodes"] == "1"
    assert server.locked is False and server.host_status == "UP"
    assert server.os_ext_srv_att_rhostname == "versions"
    assert server.os_ext_srv_att_rlaunch_index == 0
    assert server.os_ext_srv_att_rroot_device_name == "/dev/vda"
    assert server.tags == [] and server.description == ""
    raw = sdk.raw(response)["server"]
    assert all(type(raw["flavor"][k]) is int for k in ("vcpus", "ram", "disk", "ephemeral", "swap"))

    url = f"{region.url}/v2.1/{ALPHA[0]}/servers/{server_id}"
    legacy = signed("GET", url, ALPHA, headers={"X-OpenStack-Nova-API-Version": "2.47"})
    assert legacy.status_code == 200, legacy.text
    assert legacy.json()["server"]["flavor"]["original_name"] == "t1.large.2"


def test_nova_show_of_an_unknown_server_is_404_in_the_nova_shape(region: Region) -> None:
    client = region.ecs()
    unknown = str(uuid.uuid4())
    expect_error(lambda: nova_show(client, unknown), 404, 404)  # int code: Nova shape
    for version in ("v2.1", "v2"):
        url = f"{region.url}/{version}/{ALPHA[0]}/servers/{unknown}"
        assert unknown in nova_error(signed("GET", url, ALPHA), 404, "itemNotFound")
    [server_id] = sdk.create_and_wait(client)
    expect_error(lambda: nova_show(region.ecs(BETA), server_id), 404, 404)  # another project's
    accepted_v2 = signed("GET", f"{region.url}/v2/{ALPHA[0]}/servers/{server_id}", ALPHA)
    assert accepted_v2.status_code == 200 and accepted_v2.json()["server"]["id"] == server_id


# ---- Nova actions ------------------------------------------------------------------------


def test_os_stop_and_os_start(region: Region) -> None:
    client = region.ecs()
    [server_id] = sdk.create_and_wait(client, name="native")

    accepted(action(region, server_id, {"os-stop": {}}))
    stopped = wait_status(client, server_id, "SHUTOFF")
    assert stopped.os_ext_st_spower_state == 4
    assert nova_show(client, server_id).server.os_ext_st_svm_state == "stopped"
    nova_error(action(region, server_id, {"os-stop": {}}), 409, "conflictingRequest")
    nova_error(action(region, server_id, {"os-stop": {"type": "HARD"}}), 409, "conflictingRequest")
    assert sdk.show(client, server_id).status == "SHUTOFF"

    accepted(action(region, server_id, {"os-start": {}}))
    started = wait_status(client, server_id, "ACTIVE")
    assert started.os_ext_st_spower_state == 1
    nova_error(action(region, server_id, {"os-start": None}), 409, "conflictingRequest")

    accepted(action(region, server_id, {"os-stop": {"type": "HARD"}}))
    assert wait_status(client, server_id, "SHUTOFF").os_ext_st_spower_state == 4

    unknown = str(uuid.uuid4())
    nova_error(action(region, unknown, {"os-start": {}}), 404, "itemNotFound")
    nova_error(action(region, unknown, {"lock": None}), 404, "itemNotFound")


def test_lock_blocks_management_and_unlock_is_idempotent(region: Region) -> None:
    client = region.ecs()
    [server_id] = sdk.create_and_wait(client, name="guarded")

    accepted(action(region, server_id, {"lock": None}))
    accepted(action(region, server_id, {"lock": None}))  # idempotent
    assert sdk.show(client, server_id).locked is True
    assert nova_show(client, server_id).server.locked is True

    expect_error(lambda: sdk.stop(client, server_id), 400, "Ecs.0605")
    expect_error(lambda: sdk.delete(client, server_id), 400, "Ecs.0605")
    nova_error(action(region, server_id, {"os-stop": {}}), 409, "conflictingRequest")
    raw_stop = {"os-stop": {"servers": [{"id": server_id}], "type": "SOFT"}}
    url = f"{region.url}/v1/{ALPHA[0]}/cloudservers/action"
    huawei_error(signed("POST", url, ALPHA, dumps(raw_stop)), 400, "Ecs.0605")
    server = sdk.show(client, server_id)  # reads keep working on a locked server
    assert (server.status, server.os_ext_st_spower_state) == ("ACTIVE", 1)
    assert server.os_ext_st_stask_state is None
    listed = client.list_servers_details(m.ListServersDetailsRequest()).servers
    assert [s.locked for s in listed] == [True]

    accepted(action(region, server_id, {"unlock": None}))
    accepted(action(region, server_id, {"unlock": None}))  # idempotent
    assert sdk.show(client, server_id).locked is False
    final = sdk.wait_job(client, sdk.stop(client, server_id).job_id)
    assert final.status == "SUCCESS"
    assert sdk.show(client, server_id).status == "SHUTOFF"

    [other] = sdk.create_and_wait(client, name="never-locked")
    accepted(action(region, other, {"unlock": {}}))  # unlock is always allowed
    assert sdk.show(client, other).locked is False


def test_another_project_cannot_lock_or_stop_a_server(region: Region) -> None:
    client = region.ecs()
    [server_id] = sdk.create_and_wait(client, name="mine")
    bodies: list[dict[str, Any]] = [{"lock": None}, {"os-stop": {}}]
    for body in bodies:
        nova_error(action(region, server_id, body, BETA), 404, "itemNotFound")
    server = sdk.show(client, server_id)
    assert (server.status, server.locked) == ("ACTIVE", False)
