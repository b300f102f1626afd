"""NUMA-aware placement at create, through the official SDK (cold-migration.md "NUMA")."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException
from huaweicloudsdkdeh.v1 import model as deh_model
from huaweicloudsdkecs.v2 import model as ecs_model

from tests.e2e import sdk
from tests.e2e.conftest import Region
from tests.e2e.harness import BETA


def numa_free(region: Region, host_id: str) -> list[int]:
    response = region.deh().show_dedicated_host(
        deh_model.ShowDedicatedHostRequest(dedicated_host_id=host_id)
    )
    return [n["available_vcpus"] for n in sdk.raw(response)["dedicated_host"]["numa_nodes"]]


def on_deh(region: Region, host_id: str, flavor: str) -> list[str]:
    return sdk.create_and_wait(
        region.ecs(), flavor=flavor, tenancy="dedicated", dedicated_host_id=host_id
    )


def test_best_fit_keeps_a_whole_node_free_for_a_big_guest(region: Region) -> None:
    [deh] = sdk.allocate(region.deh())
    on_deh(region, deh, "t1.xlarge.2")
    assert numa_free(region, deh) == [4, 8]
    on_deh(region, deh, "t1.xlarge.2")
    assert numa_free(region, deh) == [0, 8]  # packed onto node 0, not spread
    on_deh(region, deh, "t1.2xlarge.2")
    assert numa_free(region, deh) == [0, 0]


def test_enough_vcpus_in_total_but_not_on_one_node_fails_with_ecs_0319(region: Region) -> None:
    client = region.ecs()
    [deh] = sdk.allocate(region.deh())
    [a] = on_deh(region, deh, "t1.xlarge.2")  # node 0: 4 left
    [b] = on_deh(region, deh, "t1.2xlarge.2")  # node 1: 0 left
    [d] = on_deh(region, deh, "t1.xlarge.2")  # node 0: 0 left
    sdk.wait_job(client, sdk.delete(client, b).job_id)  # node 1: 8 left
    on_deh(region, deh, "t1.xlarge.2")  # node 1: 4 left
    sdk.wait_job(client, sdk.delete(client, d).job_id)  # node 0: 4 left
    assert numa_free(region, deh) == [4, 4]
    assert sdk.show_deh(region.deh(), deh).available_vcpus == 8

    response = sdk.create_servers(
        client, flavor="t1.2xlarge.2", tenancy="dedicated", dedicated_host_id=deh
    )
    final = sdk.wait_job(client, response.job_id)
    assert final.status == "FAIL"
    assert final.error_code == "Ecs.0319"
    assert "single-NUMA-node rule" in final.fail_reason
    assert "8 vCPUs" in final.fail_reason and "4 vCPUs" in final.fail_reason
    assert numa_free(region, deh) == [4, 4]  # the failed create holds nothing
    with pytest.raises(ClientRequestException) as err:
        sdk.show(client, response.server_ids[0])
    assert err.value.error_code == "Ecs.0114"  # a server whose creation failed is not kept
    assert sdk.show(client, a).status == "ACTIVE"


def test_a_two_node_flavor_is_split_evenly_over_two_nodes(region: Region) -> None:
    [deh] = sdk.allocate(region.deh())
    on_deh(region, deh, "t1.4xlarge.2")
    assert numa_free(region, deh) == [0, 0]


def test_a_two_node_flavor_needs_half_on_each_of_two_nodes(region: Region) -> None:
    client = region.ecs()
    [deh] = sdk.allocate(region.deh())
    on_deh(region, deh, "t1.large.2")
    response = sdk.create_servers(
        client, flavor="t1.4xlarge.2", tenancy="dedicated", dedicated_host_id=deh
    )
    final = sdk.wait_job(client, response.job_id)
    assert (final.status, final.error_code) == ("FAIL", "Ecs.0319")
    assert "NUMA split rule" in final.fail_reason


def test_pool_placement_spreads_across_pool_hosts(region: Region) -> None:
    client = region.ecs()
    ids = sdk.create_and_wait(client, count=2, az="az-a")
    hosts = {sdk.show(client, i).host_id for i in ids}
    assert len(hosts) == 2  # az-a has two pool hosts: least loaded first
    for server_id in ids:
        assert sdk.show(client, server_id).osscheduler_hints.tenancy is None


def test_auto_placement_picks_a_deh_with_auto_placement_on(region: Region) -> None:
    client = region.ecs()
    [off] = sdk.allocate(region.deh(), name="off", auto_placement="off")
    [on] = sdk.allocate(region.deh(), name="on", auto_placement="on")
    [server_id] = sdk.create_and_wait(client, tenancy="dedicated")
    server = sdk.show(client, server_id)
    assert server.osscheduler_hints.dedicated_host_id == [on]
    assert server.osscheduler_hints.tenancy == ["dedicated"]
    assert sdk.show_deh(region.deh(), off).instance_total == 0
    assert sdk.show_deh(region.deh(), on).instance_uuids == [server_id]


@pytest.mark.parametrize(
    ("setup", "kwargs", "words"),
    [
        ("none", {"tenancy": "dedicated"}, "auto_placement"),
        ("deh", {"tenancy": "dedicated", "flavor": "m1.large.8"}, "not supported"),
        ("deh", {"tenancy": "dedicated", "az": "az-b"}, "availability zone"),
        ("unknown", {"tenancy": "dedicated"}, "does not exist"),
    ],
)
def test_unusable_dedicated_targets_are_refused_synchronously(
    region: Region, setup: str, kwargs: dict[str, Any], words: str
) -> None:
    client = region.ecs()
    host_id = None
    if setup == "deh":
        [host_id] = sdk.allocate(region.deh())
    elif setup == "unknown":
        host_id = "6a1e0f1e-0000-4000-8000-0000000000d1"
    with pytest.raises(ClientRequestException) as err:
        sdk.create_servers(client, dedicated_host_id=host_id, **kwargs)
    assert (err.value.status_code, err.value.error_code) == (400, "Ecs.0005")
    assert words in err.value.error_msg
    listing = client.list_servers_details(ecs_model.ListServersDetailsRequest())
    assert listing.count == 0


def test_another_projects_deh_is_refused_like_an_unknown_one(region: Region) -> None:
    [deh] = sdk.allocate(region.deh())
    with pytest.raises(ClientRequestException) as err:
        sdk.create_servers(region.ecs(BETA), tenancy="dedicated", dedicated_host_id=deh)
    assert err.value.error_code == "Ecs.0005"
    assert err.value.error_msg.endswith(f"dedicated host {deh} does not exist")


def test_ten_creates_racing_for_room_of_two_never_overcommit(region: Region) -> None:
    """Each 8-vCPU guest needs a whole node of the DeH: exactly two can win."""
    client = region.ecs()
    [deh] = sdk.allocate(region.deh())
    with ThreadPoolExecutor(10) as pool:
        responses = list(
            pool.map(
                lambda _: sdk.create_servers(
                    region.ecs(), flavor="t1.2xlarge.2", tenancy="dedicated", dedicated_host_id=deh
                ),
                range(10),
            )
        )
    finals = [sdk.wait_job(client, r.job_id) for r in responses]
    assert sorted(f.status for f in finals) == ["FAIL"] * 8 + ["SUCCESS"] * 2
    assert {f.error_code for f in finals if f.status == "FAIL"} == {"Ecs.0319"}
    host = sdk.show_deh(region.deh(), deh)
    assert (host.available_vcpus, host.instance_total) == (0, 2)
    assert numa_free(region, deh) == [0, 0]
