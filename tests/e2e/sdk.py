"""Thin helpers over the official SDKs, so tests read as what a user does."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException
from huaweicloudsdkdeh.v1 import model as deh
from huaweicloudsdkecs.v2 import model as ecs

from tests.e2e.harness import wait_for

IMAGE = "1b9c2f0e-8d7a-4c3b-9e21-5a6f7d8c9b01"
VPC = "3c4d5e6f-7a8b-4c9d-8e0f-1a2b3c4d5e6f"
SUBNET = "9e8d7c6b-5a49-4382-a1b0-c9d8e7f6a5b4"


def create_servers(
    client: Any,
    *,
    name: str = "vm",
    flavor: str = "t1.large.2",
    count: int = 1,
    az: str | None = "az-a",
    tenancy: str | None = None,
    dedicated_host_id: str | None = None,
    data_gb: int | None = None,
    group: str | None = None,
    root_gb: int = 40,
) -> Any:
    hints = None
    if tenancy or dedicated_host_id or group:
        hints = ecs.PostPaidServerSchedulerHints(
            group=group, tenancy=tenancy, dedicated_host_id=dedicated_host_id
        )
    server = ecs.PostPaidServer(
        name=name,
        image_ref=IMAGE,
        flavor_ref=flavor,
        vpcid=VPC,
        nics=[ecs.PostPaidServerNic(subnet_id=SUBNET)],
        root_volume=ecs.PostPaidServerRootVolume(volumetype="SSD", size=root_gb),
        data_volumes=[ecs.PostPaidServerDataVolume(volumetype="SSD", size=data_gb)]
        if data_gb
        else None,
        count=count,
        availability_zone=az,
        osscheduler_hints=hints,
    )
    body = ecs.CreatePostPaidServersRequestBody(server=server)
    return client.create_post_paid_servers(ecs.CreatePostPaidServersRequest(body=body))


def job(client: Any, job_id: str) -> Any:
    return client.show_job(ecs.ShowJobRequest(job_id=job_id))


def wait_job(client: Any, job_id: str, timeout: float = 60.0) -> Any:
    """Poll until the job is terminal; return its final view."""

    def done() -> Any:
        view = job(client, job_id)
        return view if view.status in ("SUCCESS", "FAIL") else None

    return wait_for(done, timeout, f"job {job_id} to end")


def create_and_wait(client: Any, **kwargs: Any) -> list[str]:
    response = create_servers(client, **kwargs)
    final = wait_job(client, response.job_id)
    assert final.status == "SUCCESS", (final.error_code, final.fail_reason)
    return list(response.server_ids)


def show(client: Any, server_id: str) -> Any:
    return client.show_server(ecs.ShowServerRequest(server_id=server_id)).server


def stop(client: Any, *server_ids: str) -> Any:
    option = ecs.BatchStopServersOption(
        servers=[ecs.ServerId(id=s) for s in server_ids], type="HARD"
    )
    body = ecs.BatchStopServersRequestBody(os_stop=option)
    return client.batch_stop_servers(ecs.BatchStopServersRequest(body=body))


def start(client: Any, *server_ids: str) -> Any:
    option = ecs.BatchStartServersOption(servers=[ecs.ServerId(id=s) for s in server_ids])
    body = ecs.BatchStartServersRequestBody(os_start=option)
    return client.batch_start_servers(ecs.BatchStartServersRequest(body=body))


def delete(client: Any, *server_ids: str) -> Any:
    body = ecs.DeleteServersRequestBody(servers=[ecs.ServerId(id=s) for s in server_ids])
    return client.delete_servers(ecs.DeleteServersRequest(body=body))


def allocate(
    client: Any,
    *,
    name: str = "deh",
    az: str = "az-a",
    host_type: str = "t1",
    quantity: int = 1,
    auto_placement: str | None = None,
) -> list[str]:
    body = deh.ReqAllocateDeh(
        name=name,
        availability_zone=az,
        host_type=host_type,
        quantity=quantity,
        auto_placement=auto_placement,
    )
    response = client.create_dedicated_host(deh.CreateDedicatedHostRequest(body=body))
    return list(raw(response)["dedicated_host_ids"])


def show_deh(client: Any, host_id: str) -> Any:
    return client.show_dedicated_host(
        deh.ShowDedicatedHostRequest(dedicated_host_id=host_id)
    ).dedicated_host


def raw(response: Any) -> Any:
    """The JSON body as sent, for members the SDK model does not declare."""
    return json.loads(response.raw_content)


def ecs_client_for(url: str) -> Any:
    from tests.e2e.harness import ecs_client

    return ecs_client(url)


def expect_error(
    call: Callable[[], Any], status: int, code: Any, what: str = ""
) -> ClientRequestException:
    """The SDK raises ClientRequestException with this status and code, and a message."""
    with pytest.raises(ClientRequestException) as caught:
        call()
    err = caught.value
    seen = (what, err.status_code, err.error_code, err.error_msg)
    assert err.status_code == status, seen
    assert err.error_code == code, seen
    assert isinstance(err.error_msg, str) and err.error_msg.strip(), seen
    return err


def migrate(client: Any, server_id: str, dedicated_host_id: str | None = None) -> str:
    """Cold-migrate as the SDK does it: to a DeH, or (no id) to the public pool."""
    option = ecs.MigrateServerOption(dedicated_host_id=dedicated_host_id)
    body = ecs.MigrateServerRequestBody(migrate=option)
    response = client.migrate_server(ecs.MigrateServerRequest(server_id=server_id, body=body))
    return str(response.job_id)


def migrate_and_wait(client: Any, server_id: str, dedicated_host_id: str | None = None) -> Any:
    return wait_job(client, migrate(client, server_id, dedicated_host_id))


def stopped_servers(client: Any, **kwargs: Any) -> list[str]:
    """Create servers and stop them: what a cold migration starts from."""
    ids = create_and_wait(client, **kwargs)
    final = wait_job(client, stop(client, *ids).job_id)
    assert final.status == "SUCCESS", (final.error_code, final.fail_reason)
    return ids


def show_request(server_id: str) -> Any:
    return ecs.ShowServerRequest(server_id=server_id)


def raw_deh(client: Any, host_id: str) -> Any:
    """The DeH as sent, with coldshift's ``numa_nodes`` extension."""
    request = deh.ShowDedicatedHostRequest(dedicated_host_id=host_id)
    return raw(client.show_dedicated_host(request))["dedicated_host"]


def release_deh(client: Any, host_id: str) -> Any:
    return client.delete_dedicated_host(deh.DeleteDedicatedHostRequest(dedicated_host_id=host_id))


def create_group(client: Any, name: str = "ha", policies: list[str] | None = None) -> Any:
    option = ecs.CreateServerGroupOption(name=name, policies=policies or ["anti-affinity"])
    body = ecs.CreateServerGroupRequestBody(server_group=option)
    return client.create_server_group(ecs.CreateServerGroupRequest(body=body)).server_group


def show_group(client: Any, group_id: str) -> Any:
    request = ecs.ShowServerGroupRequest(server_group_id=group_id)
    return client.show_server_group(request).server_group


def delete_group(client: Any, group_id: str) -> Any:
    return client.delete_server_group(ecs.DeleteServerGroupRequest(server_group_id=group_id))


def add_member(client: Any, group_id: str, server_id: str) -> Any:
    body = ecs.AddServerGroupMemberRequestBody(
        add_member=ecs.ServerGroupMember(instance_uuid=server_id)
    )
    request = ecs.AddServerGroupMemberRequest(server_group_id=group_id, body=body)
    return client.add_server_group_member(request)


def remove_member(client: Any, group_id: str, server_id: str) -> Any:
    body = ecs.DeleteServerGroupMemberRequestBody(
        remove_member=ecs.ServerGroupMember(instance_uuid=server_id)
    )
    request = ecs.DeleteServerGroupMemberRequest(server_group_id=group_id, body=body)
    return client.delete_server_group_member(request)


def add_members(client: Any, group_id: str, *server_ids: str) -> Any:
    body = ecs.BatchAddServerGroupMemberReq(server_ids=list(server_ids))
    request = ecs.BatchAddServerGroupMemberRequest(server_group_id=group_id, body=body)
    with pytest.deprecated_call():  # Huawei lists the batch APIs as out of date
        return client.batch_add_server_group_member(request)


def remove_members(client: Any, group_id: str, *server_ids: str) -> Any:
    body = ecs.BatchDeleteServerGroupMemberReq(server_ids=list(server_ids))
    request = ecs.BatchDeleteServerGroupMemberRequest(server_group_id=group_id, body=body)
    with pytest.deprecated_call():
        return client.batch_delete_server_group_member(request)


def host_of(client: Any, server_id: str) -> str:
    """The host the server is on (``OS-EXT-SRV-ATTR:host``)."""
    return str(show(client, server_id).os_ext_srv_att_rhost)
