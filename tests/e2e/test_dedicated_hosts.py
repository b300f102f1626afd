"""DeH v1.0 through the official DeHClient against real `coldshift serve` processes
(api.md §5, §7.4, §1.4, §1.5), on SQLite and PostgreSQL.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any

from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException
from huaweicloudsdkdeh.v1 import model as m

from tests.e2e import sdk
from tests.e2e.conftest import Region
from tests.e2e.harness import ADMIN, ALPHA, BETA, deh_client
from tests.e2e.rawhttp import dumps, huawei_error, signed
from tests.e2e.sdk import expect_error

SECONDS_Z = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
T1_FLAVORS = ["t1.large.2", "t1.xlarge.2", "t1.2xlarge.2", "t1.4xlarge.2"]


# ---- helpers ---------------------------------------------------------------------------


def show_raw(client: Any, host_id: str) -> dict[str, Any]:
    response = client.show_dedicated_host(m.ShowDedicatedHostRequest(dedicated_host_id=host_id))
    body: dict[str, Any] = sdk.raw(response)["dedicated_host"]
    return body


def list_hosts(client: Any, **query: Any) -> Any:
    return client.list_dedicated_hosts(m.ListDedicatedHostsRequest(**query))


def listed_ids(client: Any, **query: Any) -> list[str]:
    return [h.dedicated_host_id for h in list_hosts(client, **query).dedicated_hosts]


def total(client: Any, **query: Any) -> int:
    return int(list_hosts(client, **query).total)


def numa_free(client: Any, host_id: str) -> list[tuple[int, int]]:
    """Free (vCPUs, MiB) per NUMA node, smallest first (node order is not the point)."""
    nodes = show_raw(client, host_id)["numa_nodes"]
    return sorted((n["available_vcpus"], n["available_memory"]) for n in nodes)


def servers_on(client: Any, host_id: str, **query: Any) -> list[Any]:
    request = m.ListServersDedicatedHostRequest(dedicated_host_id=host_id, **query)
    return list(client.list_servers_dedicated_host(request).servers)


def on_deh(region: Region, host_id: str, flavor: str = "t1.large.2", name: str = "vm") -> str:
    [server_id] = sdk.create_and_wait(
        region.ecs(), name=name, flavor=flavor, tenancy="dedicated", dedicated_host_id=host_id
    )
    return server_id


def delete_server(region: Region, server_id: str) -> None:
    client = region.ecs()
    final = sdk.wait_job(client, sdk.delete(client, server_id).job_id)
    assert final.status == "SUCCESS", (final.error_code, final.fail_reason)


def update(client: Any, host_id: str, **fields: Any) -> Any:
    body = m.ReqUpdateDeh(dedicated_host=m.ReqUpdateDehMessage(**fields))
    return client.update_dedicated_host(
        m.UpdateDedicatedHostRequest(dedicated_host_id=host_id, body=body)
    )


def release(client: Any, host_id: str) -> Any:
    return client.delete_dedicated_host(m.DeleteDedicatedHostRequest(dedicated_host_id=host_id))


def quota(client: Any, tenant_id: str, resource: str | None = None) -> list[Any]:
    request = m.ShowQuotaSetsRequest(tenant_id=tenant_id, resource=resource)
    return list(client.show_quota_sets(request).quota_set)


def allocate_body(**fields: Any) -> m.CreateDedicatedHostRequest:
    return m.CreateDedicatedHostRequest(body=m.ReqAllocateDeh(**fields))


# ---- allocate and show -----------------------------------------------------------------


def test_allocate_two_then_show_each_fully(region: Region) -> None:
    client = region.deh()
    response = client.create_dedicated_host(
        allocate_body(
            name="pair", availability_zone="az-a", host_type="t1", quantity=2, auto_placement="off"
        )
    )
    assert response.status_code == 200
    ids = sdk.raw(response)["dedicated_host_ids"]
    assert len(ids) == 2 and len(set(ids)) == 2
    for host_id in ids:
        uuid.UUID(host_id)
    [default_id] = sdk.allocate(client, name="dflt")

    expected = [(ids[0], "pair", "off"), (ids[1], "pair", "off"), (default_id, "dflt", "on")]
    for host_id, name, auto in expected:
        host = sdk.show_deh(client, host_id)
        assert host.dedicated_host_id == host_id
        assert host.name == name
        assert host.auto_placement == auto
        assert host.availability_zone == "az-a"
        assert host.project_id == ALPHA[0]
        assert host.state == "available"
        props = host.host_properties
        assert props.host_type == "t1"
        assert props.host_type_name == "Test general"
        assert (props.vcpus, props.sockets, props.cores, props.memory) == (16, 2, 8, 32768)
        assert [c.flavor for c in props.available_instance_capacities] == T1_FLAVORS
        assert host.available_vcpus == 16
        assert host.available_memory == 32768
        assert host.instance_total == 0
        assert host.instance_uuids == []
        assert SECONDS_Z.match(host.allocated_at), host.allocated_at
        assert host.released_at == ""

        body = show_raw(client, host_id)
        # integers are JSON numbers (api.md §1.5), released_at is "" not null
        assert type(body["available_vcpus"]) is int and type(body["instance_total"]) is int
        assert body["released_at"] == "" and body["instance_uuids"] == []
        assert [(n["vcpus"], n["memory"]) for n in body["numa_nodes"]] == [
            (8, 16384),
            (8, 16384),
        ]
        assert numa_free(client, host_id) == [(8, 16384), (8, 16384)]

    assert total(client) == 3


# ---- servers on a DeH ------------------------------------------------------------------


def test_a_server_on_a_deh_takes_capacity_and_is_listed_on_it(region: Region) -> None:
    client = region.deh()
    [host_id] = sdk.allocate(client)
    [other_id] = sdk.allocate(client, name="other")

    first = on_deh(region, host_id, "t1.xlarge.2", name="first")
    host = sdk.show_deh(client, host_id)
    assert host.instance_uuids == [first]
    assert host.instance_total == 1
    assert host.available_vcpus == 12
    assert host.available_memory == 32768 - 8192
    assert numa_free(client, host_id) == [(4, 16384 - 8192), (8, 16384)]
    # the other DeH is untouched
    assert sdk.show_deh(client, other_id).instance_total == 0
    assert numa_free(client, other_id) == [(8, 16384), (8, 16384)]

    [server] = servers_on(client, host_id)
    assert server.id == first
    assert server.name == "first"
    assert server.flavor.id == "t1.xlarge.2"
    assert server.tenant_id == ALPHA[0]
    assert server.status == "ACTIVE"

    second = on_deh(region, host_id, "t1.large.2", name="second")
    host = sdk.show_deh(client, host_id)
    assert sorted(host.instance_uuids) == sorted([first, second])
    assert host.instance_total == 2
    assert (host.available_vcpus, host.available_memory) == (10, 32768 - 8192 - 4096)
    assert sum(v for v, _ in numa_free(client, host_id)) == 10

    everything = servers_on(client, host_id)
    order = [s.id for s in everything]
    assert order == host.instance_uuids
    assert {s.id: s.flavor.id for s in everything} == {
        first: "t1.xlarge.2",
        second: "t1.large.2",
    }
    page1 = servers_on(client, host_id, limit=1)
    assert [s.id for s in page1] == order[:1]
    page2 = servers_on(client, host_id, limit=1, marker=order[0])
    assert [s.id for s in page2] == order[1:2]
    assert servers_on(client, host_id, limit=1, marker=order[1]) == []
    assert servers_on(client, other_id) == []

    expect_error(lambda: servers_on(client, host_id, marker=str(uuid.uuid4())), 400, "DEH.0018")
    expect_error(lambda: servers_on(client, str(uuid.uuid4())), 404, "DEH.0018")


# ---- list ------------------------------------------------------------------------------


def test_list_filters_paging_and_shape(region: Region) -> None:
    client = region.deh()
    web = sdk.allocate(client, name="web", quantity=2)
    [db] = sdk.allocate(client, name="db", az="az-b", host_type="m1")
    [edge] = sdk.allocate(client, name="edge", az="az-b")
    everyone = set(web) | {db, edge}
    vm = on_deh(region, web[1])

    response = list_hosts(client)
    assert response.total == 4
    assert {h.dedicated_host_id for h in response.dedicated_hosts} == everyone
    items = sdk.raw(response)["dedicated_hosts"]
    assert all("instance_uuids" not in item for item in items), items
    assert all(h.instance_uuids is None for h in response.dedicated_hosts)
    by_id = {item["dedicated_host_id"]: item for item in items}
    assert by_id[web[1]]["instance_total"] == 1
    assert by_id[web[1]]["available_vcpus"] == 14
    assert by_id[db]["host_properties"]["memory"] == 131072

    assert set(listed_ids(client, host_type="m1")) == {db}
    assert set(listed_ids(client, host_type="t1")) == set(web) | {edge}
    assert set(listed_ids(client, availability_zone="az-b")) == {db, edge}
    assert set(listed_ids(client, availability_zone="az-a", host_type="m1")) == set()
    assert set(listed_ids(client, name="web")) == set(web)
    assert set(listed_ids(client, state="available")) == everyone
    assert listed_ids(client, state="released") == []
    assert set(listed_ids(client, flavor="m1.large.8")) == {db}
    assert set(listed_ids(client, flavor="t1.2xlarge.2")) == set(web) | {edge}
    assert listed_ids(client, dedicated_host_id=edge) == [edge]
    assert listed_ids(client, instance_uuid=vm) == [web[1]]
    assert listed_ids(client, instance_uuid=str(uuid.uuid4())) == []
    assert total(client, name="web") == 2
    assert total(client, name="nope") == 0

    order = listed_ids(client)
    page1 = list_hosts(client, limit=2)
    assert [h.dedicated_host_id for h in page1.dedicated_hosts] == order[:2]
    assert page1.total == 4  # total counts every match, not the page
    page2 = listed_ids(client, limit=2, marker=order[1])
    assert page2 == order[2:4]
    assert listed_ids(client, limit=2, marker=order[3]) == []
    t1_order = [i for i in order if i in set(web) | {edge}]
    for at, marker in enumerate(t1_order):  # a marker pages within the filtered list
        after = listed_ids(client, host_type="t1", limit=1, marker=marker)
        assert after == t1_order[at + 1 : at + 2]
    # a marker that exists but is filtered out is not a position in that list
    expect_error(lambda: list_hosts(client, host_type="t1", marker=db), 400, "DEH.0018")

    expect_error(lambda: list_hosts(client, marker=str(uuid.uuid4())), 400, "DEH.0018")
    expect_error(lambda: list_hosts(client, marker="not-a-host"), 400, "DEH.0018")


# ---- update ----------------------------------------------------------------------------


def test_update_name_and_auto_placement(region: Region) -> None:
    client = region.deh()
    [host_id] = sdk.allocate(client, name="before")

    response = update(client, host_id, name="after", auto_placement="off")
    assert response.status_code == 204
    host = sdk.show_deh(client, host_id)
    assert (host.name, host.auto_placement) == ("after", "off")

    # auto_placement off: ECSs created with tenancy=dedicated but no DeH ID do not land here
    expect_error(lambda: sdk.create_servers(region.ecs(), tenancy="dedicated"), 400, "Ecs.0005")
    assert sdk.show_deh(client, host_id).instance_total == 0

    assert update(client, host_id, auto_placement="on").status_code == 204
    host = sdk.show_deh(client, host_id)
    assert (host.name, host.auto_placement) == ("after", "on")  # name untouched
    [auto] = sdk.create_and_wait(region.ecs(), tenancy="dedicated")
    assert sdk.show_deh(client, host_id).instance_uuids == [auto]

    assert update(client, host_id, name="renamed").status_code == 204
    host = sdk.show_deh(client, host_id)
    assert (host.name, host.auto_placement) == ("renamed", "on")
    assert listed_ids(client, name="renamed") == [host_id]

    before = show_raw(client, host_id)
    for bad in (
        {"auto_placement": "maybe"},
        {"auto_placement": "ON"},
        {"name": ""},
        {"name": " padded "},
        {"name": "x" * 256},
        {"name": "ok", "auto_placement": "maybe"},  # all or nothing
    ):
        expect_error(partial(update, client, host_id, **bad), 400, "DEH.0018")
        assert show_raw(client, host_id) == before, bad

    expect_error(lambda: update(client, str(uuid.uuid4()), name="x"), 404, "DEH.0018")

    url = f"{region.url}/v1.0/{ALPHA[0]}/dedicated-hosts/{host_id}"
    huawei_error(signed("PUT", url, ALPHA, b"{nope"), 400, "DEH.0001")
    huawei_error(signed("PUT", url, ALPHA, dumps({"name": "x"})), 400, "DEH.0018")
    huawei_error(signed("PUT", url, ALPHA, dumps({"dedicated_host": "x"})), 400, "DEH.0018")
    assert show_raw(client, host_id) == before


# ---- release ---------------------------------------------------------------------------


def test_release_is_refused_while_a_server_is_on_the_deh(region: Region) -> None:
    client = region.deh()
    [host_id] = sdk.allocate(client)
    [line] = quota(client, ALPHA[0], "t1")
    assert line.used == 1
    vm = on_deh(region, host_id)

    expect_error(lambda: release(client, host_id), 409, "DEH.0055")
    host = sdk.show_deh(client, host_id)
    assert host.state == "available" and host.released_at == ""
    assert host.instance_uuids == [vm]
    assert quota(client, ALPHA[0], "t1")[0].used == 1

    # a stopped server still holds the DeH (api.md §5.6)
    sdk.wait_job(region.ecs(), sdk.stop(region.ecs(), vm).job_id)
    expect_error(lambda: release(client, host_id), 409, "DEH.0055")
    assert sdk.show_deh(client, host_id).state == "available"

    delete_server(region, vm)
    host = sdk.show_deh(client, host_id)
    assert host.instance_total == 0 and host.available_vcpus == 16

    response = release(client, host_id)
    assert response.status_code == 204
    host = sdk.show_deh(client, host_id)
    assert host.state == "released"
    assert SECONDS_Z.match(host.released_at), host.released_at
    assert host.released_at >= host.allocated_at

    assert listed_ids(client) == []
    assert total(client) == 0
    assert listed_ids(client, state="released") == [host_id]
    assert listed_ids(client, state="available") == []
    assert quota(client, ALPHA[0], "t1")[0].used == 0

    expect_error(lambda: release(client, host_id), 409, "DEH.0055")
    expect_error(lambda: update(client, host_id, name="zombie"), 409, "DEH.0055")
    assert sdk.show_deh(client, host_id).name == "deh"
    expect_error(lambda: release(client, str(uuid.uuid4())), 404, "DEH.0018")


# ---- quota -----------------------------------------------------------------------------


def test_quota_is_reported_and_enforced(region: Region) -> None:
    client = region.deh()
    [line] = quota(client, ALPHA[0], "t1")
    assert (line.resource, line.hard_limit, line.used) == ("t1", 6, 0)
    lines = {q.resource: q for q in quota(client, ALPHA[0])}
    assert set(lines) == {"t1", "m1"}
    assert all(q.hard_limit == 6 and q.used == 0 for q in lines.values())
    assert quota(client, ALPHA[0], "zz") == []

    sdk.allocate(client, quantity=3)
    sdk.allocate(client, host_type="m1")
    assert {q.resource: q.used for q in quota(client, ALPHA[0])} == {"t1": 3, "m1": 1}

    expect_error(lambda: sdk.allocate(client, quantity=3), 403, "DEH.0018")
    assert total(client) == 4  # nothing of the refused request was allocated
    assert {q.resource: q.used for q in quota(client, ALPHA[0])} == {"t1": 3, "m1": 1}

    sdk.allocate(client, quantity=2)  # exactly up to the limit
    assert total(client) == 6
    expect_error(lambda: sdk.allocate(client, host_type="m1"), 403, "DEH.0018")
    assert total(client) == 6

    expect_error(lambda: quota(client, BETA[0]), 403, "DEH.0033")
    expect_error(lambda: quota(region.deh(BETA), ALPHA[0]), 403, "DEH.0033")
    admin_view = {q.resource: q.used for q in quota(region.deh(ADMIN), ALPHA[0])}
    assert admin_view == {"t1": 5, "m1": 1}


# ---- host types ------------------------------------------------------------------------


def test_host_types_per_az_and_overall(region: Region) -> None:
    client = region.deh()
    response = client.list_dedicated_host_types(
        m.ListDedicatedHostTypesRequest(availability_zone="az-a")
    )
    assert [(t.host_type, t.host_type_name) for t in response.dedicated_host_types] == [
        ("t1", "Test general"),
        ("m1", "Test memory"),
    ]
    response = client.list_dedicated_host_types(
        m.ListDedicatedHostTypesRequest(availability_zone="az-zz")
    )
    assert response.dedicated_host_types == []
    assert sdk.raw(response) == {"dedicated_host_types": []}

    def all_types(**query: Any) -> Any:
        return client.list_dedicated_host_all_types(m.ListDedicatedHostAllTypesRequest(**query))

    response = all_types(flavor="t1.large.2")
    [t1] = response.dedicated_host_types
    assert t1.host_type == "t1"
    assert (t1.vcpus, t1.cores, t1.sockets, t1.memory) == (16, 8, 2, 32768)
    assert t1.supported_flavors == T1_FLAVORS
    assert sorted(o.availability_zone for o in t1.availability_zone_offerings) == [
        "az-a",
        "az-b",
    ]
    assert response.page_info.next_marker is None

    assert [t.host_type for t in all_types(flavor="m1.large.8").dedicated_host_types] == ["m1"]
    assert all_types(flavor="x9.huge.1").dedicated_host_types == []
    everything = all_types()
    assert [t.host_type for t in everything.dedicated_host_types] == ["t1", "m1"]
    first = all_types(limit="1")
    assert [t.host_type for t in first.dedicated_host_types] == ["t1"]
    assert first.page_info.next_marker == "t1"
    second = all_types(limit="1", marker="t1")
    assert [t.host_type for t in second.dedicated_host_types] == ["m1"]
    assert second.page_info.next_marker is None
    expect_error(lambda: all_types(marker="zz"), 400, "DEH.0018")


# ---- bad allocation requests -----------------------------------------------------------


GOOD = {"name": "d", "availability_zone": "az-a", "host_type": "t1", "quantity": 1}


def without(key: str) -> dict[str, Any]:
    return {k: v for k, v in GOOD.items() if k != key}


SDK_CASES: list[tuple[str, dict[str, Any], int, str]] = [
    ("no name", without("name"), 400, "DEH.0018"),
    ("no availability_zone", without("availability_zone"), 400, "DEH.0018"),
    ("no host_type", without("host_type"), 400, "DEH.0018"),
    ("no quantity", without("quantity"), 400, "DEH.0018"),
    ("quantity 0", {**GOOD, "quantity": 0}, 400, "DEH.0018"),
    ("quantity -1", {**GOOD, "quantity": -1}, 400, "DEH.0018"),
    ("empty name", {**GOOD, "name": ""}, 400, "DEH.0018"),
    ("auto_placement maybe", {**GOOD, "auto_placement": "maybe"}, 400, "DEH.0018"),
    ("unknown host_type", {**GOOD, "host_type": "zz"}, 404, "DEH.0018"),
    ("unknown AZ", {**GOOD, "availability_zone": "az-zz"}, 403, "DEH.0018"),
]


def test_bad_allocation_through_the_sdk_allocates_nothing(region: Region) -> None:
    client = region.deh()
    sdk.allocate(client, name="existing")
    before = list_hosts(client)
    assert before.total == 1
    for what, fields, status, code in SDK_CASES:
        err = expect_error(
            partial(client.create_dedicated_host, allocate_body(**fields)), status, code, what
        )
        if what == "unknown host_type":
            assert "FlavorNotFound" in err.error_msg, err.error_msg
        after = list_hosts(client)
        assert after.total == before.total, what
        assert sdk.raw(after) == sdk.raw(before), what
    assert quota(client, ALPHA[0], "t1")[0].used == 1


def test_bad_allocation_bodies_the_sdk_cannot_send(region: Region) -> None:
    client = region.deh()
    sdk.allocate(client, name="existing")
    before = sdk.raw(list_hosts(client))
    url = f"{region.url}/v1.0/{ALPHA[0]}/dedicated-hosts"
    cases: list[tuple[bytes, int, str]] = [
        (dumps({**GOOD, "quantity": "2"}), 400, "DEH.0018"),
        (dumps({**GOOD, "quantity": 1.5}), 400, "DEH.0018"),
        (dumps({**GOOD, "quantity": True}), 400, "DEH.0018"),
        (dumps({**GOOD, "name": 7}), 400, "DEH.0018"),
        (dumps({**GOOD, "tags": [{"key": "a=b", "value": "v"}]}), 400, "DEH.0018"),
        (b'{"name": "d", "quantity": 1', 400, "DEH.0001"),
        (b"not json", 400, "DEH.0001"),
        (b"", 400, "DEH.0001"),
        (dumps([GOOD]), 400, "DEH.0001"),
        (dumps("text"), 400, "DEH.0001"),
    ]
    for body, status, code in cases:
        response = signed("POST", url, ALPHA, body)
        assert response.status_code == status, (body, response.status_code, response.text)
        huawei_error(response, status, code)
        assert sdk.raw(list_hosts(client)) == before, body
    # the same route accepts a well-formed raw body: the failures above are about the body
    good = signed("POST", url, ALPHA, dumps(GOOD))
    assert good.status_code == 200, good.text
    assert total(client) == 2


# ---- isolation -------------------------------------------------------------------------


def test_another_project_cannot_see_or_touch_a_deh(region: Region) -> None:
    alpha, beta = region.deh(), region.deh(BETA)
    [host_id] = sdk.allocate(alpha, name="mine")
    vm = on_deh(region, host_id)
    before = show_raw(alpha, host_id)
    unknown = str(uuid.uuid4())

    attempts: list[Callable[[str], Any]] = [
        lambda h: sdk.show_deh(beta, h),
        lambda h: update(beta, h, name="stolen"),
        lambda h: release(beta, h),
        lambda h: servers_on(beta, h),
    ]
    for attempt in attempts:
        theirs = expect_error(partial(attempt, host_id), 404, "DEH.0018")
        nobody = expect_error(partial(attempt, unknown), 404, "DEH.0018")
        # indistinguishable from an unknown ID, apart from the ID itself
        assert theirs.error_msg.replace(host_id, "<id>") == nobody.error_msg.replace(
            unknown, "<id>"
        )

    assert total(beta) == 0
    assert listed_ids(beta, dedicated_host_id=host_id) == []
    assert listed_ids(beta, instance_uuid=vm) == []
    assert listed_ids(beta, state="available") == []
    expect_error(lambda: list_hosts(beta, marker=host_id), 400, "DEH.0018")
    expect_error(lambda: list_hosts(beta, tenant=ALPHA[0]), 403, "DEH.0033")

    assert show_raw(alpha, host_id) == before
    assert listed_ids(alpha) == [host_id]


# ---- concurrency -----------------------------------------------------------------------


def test_concurrent_allocations_never_exceed_the_quota(region: Region) -> None:
    if region.backend == "pg":
        region.start()  # a second process on the same database
    clients = [deh_client(s.url) for s in region.servers]

    def one(i: int) -> str:
        try:
            [host_id] = sdk.allocate(clients[i % len(clients)], name=f"c{i}")
        except ClientRequestException as err:
            assert (err.status_code, err.error_code) == (403, "DEH.0018"), err
            assert err.error_msg.strip()
            return ""
        return str(host_id)

    with ThreadPoolExecutor(16) as pool:
        won = [h for h in pool.map(one, range(16)) if h]

    client = region.deh()
    # the quota is counted inside the writing transaction (an advisory lock per project on
    # PostgreSQL), so exactly the quota wins, within one process or across two
    assert len(won) == 6, won
    assert sorted(listed_ids(client)) == sorted(won)  # nothing half-allocated remains
    assert quota(client, ALPHA[0], "t1")[0].used == len(won)
    for host_id in won:
        host = sdk.show_deh(client, host_id)
        assert (host.state, host.auto_placement) == ("available", "on")

    expect_error(lambda: sdk.allocate(client), 403, "DEH.0018")
    assert total(client) == 6
