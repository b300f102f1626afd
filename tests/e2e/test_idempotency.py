"""X-Client-Token: a create repeated with the same token gets the first answer (api.md §9.33)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException
from huaweicloudsdkecs.v2 import model as ecs

from tests.e2e import sdk
from tests.e2e.conftest import Region
from tests.e2e.harness import BETA


def create(client: Any, token: str, name: str = "idem", count: int = 1) -> Any:
    server = ecs.PostPaidServer(
        name=name,
        image_ref=sdk.IMAGE,
        flavor_ref="t1.large.2",
        vpcid=sdk.VPC,
        nics=[ecs.PostPaidServerNic(subnet_id=sdk.SUBNET)],
        root_volume=ecs.PostPaidServerRootVolume(volumetype="SSD", size=40),
        count=count,
        availability_zone="az-a",
    )
    return client.create_post_paid_servers(
        ecs.CreatePostPaidServersRequest(
            x_client_token=token, body=ecs.CreatePostPaidServersRequestBody(server=server)
        )
    )


def server_count(client: Any) -> int:
    return int(client.list_servers_details(ecs.ListServersDetailsRequest()).count)


def test_a_repeated_create_returns_the_first_job_and_creates_nothing_more(
    region: Region,
) -> None:
    client = region.ecs()
    first = create(client, "token-1", count=2)
    again = create(client, "token-1", count=2)
    assert (again.job_id, again.server_ids) == (first.job_id, first.server_ids)
    sdk.wait_job(client, first.job_id)
    assert server_count(client) == 2


def test_concurrent_repeats_create_once(region: Region) -> None:
    client = region.ecs()
    with ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(lambda _: create(region.ecs(), "token-race"), range(6)))
    assert len({a.job_id for a in answers}) == 1
    sdk.wait_job(client, answers[0].job_id)
    assert server_count(client) == 1


def test_a_reused_token_with_another_body_is_refused(region: Region) -> None:
    client = region.ecs()
    create(client, "token-2", name="one")
    with pytest.raises(ClientRequestException) as err:
        create(client, "token-2", name="two")
    assert (err.value.status_code, err.value.error_code) == (400, "Ecs.0005")
    assert "X-Client-Token" in err.value.error_msg
    assert server_count(client) == 1


def test_tokens_are_per_project(region: Region) -> None:
    mine = create(region.ecs(), "shared-token")
    theirs = create(region.ecs(BETA), "shared-token")
    assert mine.job_id != theirs.job_id
