"""The instance quota holds under concurrent creates (counted inside the writing transaction)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException
from huaweicloudsdkecs.v2 import model as ecs

from tests.e2e import sdk
from tests.e2e.conftest import Region


def test_concurrent_creates_never_exceed_the_instance_quota(region: Region) -> None:
    """Alpha's quota is 40 instances: of eight creates of ten, exactly four are accepted.
    Five DeHs hold exactly 40 two-vCPU guests, so that no create fails for room (a failed
    create is not kept, which would give quota back while the race runs)."""
    sdk.allocate(region.deh(), quantity=5)
    if region.backend == "pg":
        region.start()  # two processes on one database
    urls = [s.url for s in region.servers]

    def one(i: int) -> str | None:
        client = sdk.ecs_client_for(urls[i % len(urls)])
        try:
            return str(sdk.create_servers(client, count=10, tenancy="dedicated").job_id)
        except ClientRequestException as err:
            assert (err.status_code, err.error_code) == (400, "Ecs.0001"), err
            assert "quota" in err.error_msg
            return None

    with ThreadPoolExecutor(8) as pool:
        accepted = [j for j in pool.map(one, range(8)) if j]
    assert len(accepted) == 4
    client = region.ecs()
    assert [sdk.wait_job(client, j).status for j in accepted] == ["SUCCESS"] * 4
    listing = client.list_servers_details(ecs.ListServersDetailsRequest(limit=1000))
    assert listing.count == 40
