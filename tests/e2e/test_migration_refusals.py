"""Every synchronous refusal of a migrate request (cold-migration.md, checks 2-9, in order),
and a corpus of bad bodies and ids: a 4xx with code and message, no job, nothing changed.

One region per backend serves the module; its fixtures are never migrated successfully.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import create_engine, func, select

from coldshift.persistence.tables import jobs
from tests.e2e import rawhttp, sdk
from tests.e2e.conftest import Region
from tests.e2e.harness import ALPHA, BETA

P = ALPHA[0]
UNKNOWN = "6a1e0f1e-0000-4000-8000-0000000000d1"


@dataclass(frozen=True)
class World:
    on_deh: str  # stopped t1.large.2 on deh_a
    on_m1: str  # stopped m1.large.8 on deh_m1
    in_pool: str  # stopped, public pool
    running: str  # ACTIVE, on deh_a
    locked_running: str  # ACTIVE and locked, public pool
    beta_server: str
    deh_a: str
    deh_b: str  # az-a, t1, empty: a valid target
    deh_az_b: str
    deh_m1: str
    released: str
    beta_deh: str


def lock(region: Region, server_id: str) -> None:
    response = rawhttp.signed(
        "POST",
        f"{region.url}/v2.1/{P}/servers/{server_id}/action",
        ALPHA,
        rawhttp.dumps({"lock": None}),
    )
    assert response.status_code == 202, response.text


@pytest.fixture(scope="module")
def world(shared: Region) -> World:
    client, dehs = shared.ecs(), shared.deh()
    deh_a, deh_b, released = sdk.allocate(dehs, quantity=3)
    [deh_az_b] = sdk.allocate(dehs, az="az-b")
    [deh_m1] = sdk.allocate(dehs, host_type="m1")
    sdk.release_deh(dehs, released)
    [beta_deh] = sdk.allocate(shared.deh(BETA))
    on_deh = sdk.stopped_servers(client, tenancy="dedicated", dedicated_host_id=deh_a)[0]
    on_m1 = sdk.stopped_servers(
        client, flavor="m1.large.8", tenancy="dedicated", dedicated_host_id=deh_m1
    )[0]
    [in_pool] = sdk.stopped_servers(client)
    [running] = sdk.create_and_wait(client, tenancy="dedicated", dedicated_host_id=deh_a)
    [locked_running] = sdk.create_and_wait(client)
    lock(shared, locked_running)
    [beta_server] = sdk.stopped_servers(shared.ecs(BETA))
    return World(
        on_deh,
        on_m1,
        in_pool,
        running,
        locked_running,
        beta_server,
        deh_a,
        deh_b,
        deh_az_b,
        deh_m1,
        released,
        beta_deh,
    )


def job_count(region: Region) -> int:
    engine = create_engine(region.db_url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(jobs)).scalar_one())
    finally:
        engine.dispose()


def state(region: Region) -> dict[str, Any]:
    def get(path: str) -> Any:
        return rawhttp.ok_json(rawhttp.signed("GET", region.url + path, ALPHA))

    return {
        "servers": get(f"/v1/{P}/cloudservers/detail?limit=1000"),
        "hosts": [
            get(f"/v1.0/{P}/dedicated-hosts/{h['dedicated_host_id']}")
            for h in get(f"/v1.0/{P}/dedicated-hosts")["dedicated_hosts"]
        ],
        "jobs": job_count(region),
    }


@pytest.fixture
def unchanged(shared: Region, world: World) -> Iterator[None]:
    before = state(shared)
    yield
    assert state(shared) == before


def migrate_raw(region: Region, server_id: str, body: bytes) -> Any:
    return rawhttp.signed(
        "POST", f"{region.url}/v1/{P}/cloudservers/{server_id}/migrate", ALPHA, body
    )


def to(host_id: str) -> bytes:
    return rawhttp.dumps({"migrate": {"dedicated_host_id": host_id}})


# (server attribute or literal id, body, status, code, words the message must hold)
CHECKS: dict[str, tuple[str, bytes | str, int, str, tuple[str, ...]]] = {
    # 2 before 3: a bad body on an unknown server is a bad body
    "2-body-before-server": (UNKNOWN, b'{"migrate": "x"}', 400, "Ecs.0005", ("migrate",)),
    "3-unknown-server": (UNKNOWN, b"{}", 404, "Ecs.0114", (UNKNOWN,)),
    "3-another-projects-server": ("beta_server", b"{}", 404, "Ecs.0114", ()),
    # 4 before 5: a locked server that is also running is refused as locked
    "4-locked": ("locked_running", b"{}", 400, "Ecs.0605", ("locked",)),
    "5-running": ("running", "deh_b", 400, "Ecs.0100", ("ACTIVE", "stop")),
    "6-pool-to-pool": ("in_pool", b"{}", 400, "Ecs.0005", ("public pool", "dedicated")),
    "6-pool-to-pool-null": ("in_pool", b'{"migrate": null}', 400, "Ecs.0005", ("public pool",)),
    "7-unknown-deh": ("on_deh", to(UNKNOWN), 400, "Ecs.0005", (UNKNOWN, "does not exist")),
    "7-another-projects-deh": ("on_deh", "beta_deh", 400, "Ecs.0005", ("does not exist",)),
    "7-released-deh": ("on_deh", "released", 400, "Ecs.0005", ("released",)),
    "7-from-pool-unknown-deh": ("in_pool", to(UNKNOWN), 400, "Ecs.0005", (UNKNOWN,)),
    "8-same-deh": ("on_deh", "deh_a", 400, "Ecs.0221", ("same",)),
    "9-other-az": ("on_deh", "deh_az_b", 400, "Ecs.0005", ("az-a", "az-b")),
    "9-flavor-unsupported": ("on_deh", "deh_m1", 400, "Ecs.0005", ("t1.large.2", "m1")),
    "9-flavor-unsupported-back": ("on_m1", "deh_b", 400, "Ecs.0005", ("m1.large.8", "t1")),
    "9-flavor-unsupported-from-pool": ("in_pool", "deh_m1", 400, "Ecs.0005", ("t1.large.2",)),
}


@pytest.mark.usefixtures("unchanged")
@pytest.mark.parametrize("case", list(CHECKS))
def test_each_synchronous_check_refuses_with_its_code(
    shared: Region, world: World, case: str
) -> None:
    server, body, status, code, words = CHECKS[case]
    server_id = getattr(world, server, server)
    if isinstance(body, str):
        body = to(getattr(world, body))
    message = rawhttp.huawei_error(migrate_raw(shared, server_id, body), status, code)
    for word in words:
        assert word in message, (word, message)


@pytest.mark.usefixtures("unchanged")
def test_another_projects_deh_answers_exactly_like_an_unknown_one(
    shared: Region, world: World
) -> None:
    foreign = rawhttp.huawei_error(
        migrate_raw(shared, world.on_deh, to(world.beta_deh)), 400, "Ecs.0005"
    )
    unknown = rawhttp.huawei_error(migrate_raw(shared, world.on_deh, to(UNKNOWN)), 400, "Ecs.0005")
    assert foreign.replace(world.beta_deh, "X") == unknown.replace(UNKNOWN, "X")


@pytest.mark.usefixtures("unchanged")
def test_another_projects_server_answers_exactly_like_an_unknown_one(
    shared: Region, world: World
) -> None:
    foreign = rawhttp.huawei_error(migrate_raw(shared, world.beta_server, b"{}"), 404, "Ecs.0114")
    unknown = rawhttp.huawei_error(migrate_raw(shared, UNKNOWN, b"{}"), 404, "Ecs.0114")
    assert foreign.replace(world.beta_server, "X") == unknown.replace(UNKNOWN, "X")


@pytest.mark.usefixtures("unchanged")
def test_the_sdk_sees_the_refusal(shared: Region, world: World) -> None:
    err = sdk.expect_error(
        lambda: sdk.migrate(shared.ecs(), world.on_deh, world.deh_a), 400, "Ecs.0221"
    )
    assert world.deh_a in err.error_msg


BAD_BODIES: dict[str, bytes] = {
    "json-null": b"null",
    "json-array": b"[]",
    "json-string": b'"migrate"',
    "json-number": b"1",
    "json-true": b"true",
    "not-json": b"migrate: {}",
    "truncated": b'{"migrate": {"dedicated_host_id": "x"}',
    "invalid-utf8": b'{"migrate": {"dedicated_host_id": "\xff\xfe"}}',
    "nan": b'{"migrate": NaN}',
    "deep-nesting": b'{"migrate": ' + b"[" * 5000 + b"]" * 5000 + b"}",
    "migrate-string": b'{"migrate": "pool"}',
    "migrate-number": b'{"migrate": 0}',
    "migrate-false": b'{"migrate": false}',
    "migrate-array": b'{"migrate": []}',
    "migrate-array-of-object": b'{"migrate": [{"dedicated_host_id": "x"}]}',
    "id-empty": b'{"migrate": {"dedicated_host_id": ""}}',
    "id-blank": b'{"migrate": {"dedicated_host_id": "   "}}',
    "id-null": b'{"migrate": {"dedicated_host_id": null}}',
    "id-number": b'{"migrate": {"dedicated_host_id": 7}}',
    "id-bool": b'{"migrate": {"dedicated_host_id": true}}',
    "id-array": b'{"migrate": {"dedicated_host_id": ["x"]}}',
    "id-object": b'{"migrate": {"dedicated_host_id": {"id": "x"}}}',
    "id-huge": to("d" * 100_000),
    "id-sql": to("' OR 1=1 --"),
    "id-nul": to("abc\u0000def"),
    "id-unicode": to("ホスト"),
}


@pytest.mark.usefixtures("unchanged")
@pytest.mark.parametrize("case", list(BAD_BODIES))
def test_bad_body_is_refused(shared: Region, world: World, case: str) -> None:
    rawhttp.huawei_error(migrate_raw(shared, world.on_deh, BAD_BODIES[case]), 400, "Ecs.0005")


# id in the URL → the code of the 404 (a "/" decoded from %2f makes it another, unknown API)
BAD_SERVER_IDS = {
    "not-a-uuid": ("not-a-uuid", "Ecs.0114"),
    "uppercase-uuid": ("6A1E0F1E-0000-4000-8000-0000000000D1", "Ecs.0114"),
    "long": ("s" * 4000, "Ecs.0114"),
    "unicode": ("%E3%83%9B", "Ecs.0114"),
    "sql": ("x'%20OR%20'1'%3D'1", "Ecs.0114"),
    "dot-dot": ("%2e%2e", "Ecs.0114"),
    "path-traversal": ("%2e%2e%2fjobs", "APIGW.0101"),
}


@pytest.mark.usefixtures("unchanged")
@pytest.mark.parametrize("case", list(BAD_SERVER_IDS))
def test_bad_server_id_is_not_found(shared: Region, world: World, case: str) -> None:
    server_id, code = BAD_SERVER_IDS[case]
    rawhttp.huawei_error(migrate_raw(shared, server_id, to(world.deh_b)), 404, code)


@pytest.mark.usefixtures("unchanged")
@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "PATCH"])
def test_wrong_method_is_refused(shared: Region, world: World, method: str) -> None:
    response = rawhttp.signed(
        method, f"{shared.url}/v1/{P}/cloudservers/{world.on_deh}/migrate", ALPHA
    )
    rawhttp.huawei_error(response, 405, "APIGW.0101")


@pytest.mark.usefixtures("unchanged")
def test_another_projects_url_is_forbidden(shared: Region, world: World) -> None:
    response = rawhttp.signed(
        "POST",
        f"{shared.url}/v1/{BETA[0]}/cloudservers/{world.beta_server}/migrate",
        ALPHA,
        b"{}",
    )
    assert response.status_code == 403, response.text
    rawhttp.huawei_error(response, 403)


@pytest.mark.usefixtures("unchanged")
def test_an_unsigned_request_is_refused(shared: Region, world: World) -> None:
    response = rawhttp.send(
        "POST",
        f"{shared.url}/v1/{P}/cloudservers/{world.on_deh}/migrate",
        {"Content-Type": "application/json"},
        b"{}",
    )
    rawhttp.huawei_error(response, 401)
