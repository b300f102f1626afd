from __future__ import annotations

from tests.e2e import sdk
from tests.e2e.conftest import Region


def test_create_a_pool_server_and_see_it_active(region: Region) -> None:
    client = region.ecs()
    [server_id] = sdk.create_and_wait(client, name="first")
    server = sdk.show(client, server_id)
    assert server.status == "ACTIVE"
    assert server.os_ext_a_zavailability_zone == "az-a"
    assert server.flavor.vcpus == "2"
