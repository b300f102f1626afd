"""Server listings answer the same whether paged in SQL (no filter, or only column filters) or
in memory (any other filter): ``name=^`` matches every server and forces the memory path."""

from __future__ import annotations

from typing import Any

import httpx

from tests.e2e import sdk
from tests.e2e.conftest import Region
from tests.e2e.harness import ALPHA
from tests.e2e.rawhttp import signed

EVERY_NAME = "name=^"


def _answer(region: Region, version: str, query: str) -> tuple[int, Any]:
    url = f"{region.url}/{version}/{ALPHA[0]}/cloudservers/detail?{query}"
    response = signed("GET", url, ALPHA)
    return response.status_code, _comparable(response)


def _comparable(response: httpx.Response) -> Any:
    body = response.json()
    body.pop("request_id", None)  # differs per request by design
    if "error" in body:
        return {k: body["error"][k] for k in ("code", "message")}
    return body


def _same_both_ways(region: Region, version: str, query: str) -> tuple[int, Any]:
    in_sql = _answer(region, version, query)
    in_memory = _answer(region, version, f"{query}&{EVERY_NAME}" if query else EVERY_NAME)
    assert in_sql == in_memory, query
    return in_sql


def test_sql_and_memory_paths_answer_alike(region: Region) -> None:
    client = region.ecs()
    # Servers of one batch share their creation instant: the id must order them alike.
    web = sdk.create_and_wait(client, name="web", count=6)
    db = sdk.create_and_wait(client, name="db", count=3, flavor="t1.xlarge.2", az="az-b")
    status, everything = _same_both_ways(region, "v1", "limit=100")
    assert status == 200 and everything["count"] == 9
    ids = [s["id"] for s in everything["servers"]]
    assert sorted(ids) == sorted(web + db)
    db_ids = [i for i in ids if i in db]

    v1 = [
        "",
        "limit=4",
        "limit=4&offset=0",
        "limit=4&offset=2",
        "limit=4&offset=3",
        "limit=4&offset=99",
        "limit=0&offset=2",
        f"limit=3&marker={ids[1]}",
        f"marker={ids[-1]}",
        f"marker={ids[4]}&offset=2",  # the marker wins over the offset
        "flavor=t1.xlarge.2",
        f"flavor=t1.xlarge.2&limit=1&offset=2&marker={db_ids[0]}",
        "flavor=t1.xlarge.2&limit=2&offset=2",
        "flavor=no-such-flavor",
    ]
    for query in v1:
        assert _same_both_ways(region, "v1", query)[0] == 200, query
    v11 = [
        "",
        "limit=3",
        f"limit=3&marker={ids[2]}",
        f"limit=3&marker={ids[5]}",  # the last page: no next link
        f"marker={ids[-1]}",
        "flavor_name=t1.xlarge.2&limit=2",
        f"availability_zone_eq=az-b&limit=1&marker={db_ids[1]}",
        f"id={web[2]}",
        f"image_id={sdk.IMAGE}&flavor_name=t1.large.2&limit=5",
        "image_id=no-such-image",
    ]
    for query in v11:
        assert _same_both_ways(region, "v1.1", query)[0] == 200, query

    refused = [
        "marker=no-such-server",
        f"flavor=t1.xlarge.2&marker={web[0]}",  # a server, but not one of the matches
        "marker=%00",
    ]
    for query in refused:
        status, body = _same_both_ways(region, "v1", query)
        assert (status, body["code"]) == (400, "Ecs.0005"), query
    status, body = _same_both_ways(region, "v1.1", f"flavor_name=t1.large.2&marker={db[0]}")
    assert (status, body["code"]) == (400, "Ecs.0005")
    # NUL in a filter is refused before either path (PostgreSQL would refuse it in text).
    assert _same_both_ways(region, "v1", "flavor=a%00b")[0] == 400
