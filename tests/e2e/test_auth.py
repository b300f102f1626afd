"""Authentication, project scoping and isolation against real `coldshift serve` processes.

api.md §1.3.5 (verification), §1.4 (error shapes), §7.3 (Common.0013). One region per backend
serves the whole module: every refused request is checked to change nothing by comparing what
the projects can see before and after.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException
from huaweicloudsdkecs.v2 import model as ecs

from coldshift.api import signing
from tests.e2e import sdk
from tests.e2e.conftest import Region
from tests.e2e.harness import ALPHA, BETA, ecs_client
from tests.e2e.rawhttp import (
    JSON_UTF8,
    dumps,
    huawei_error,
    nova_error,
    ok_json,
    send,
    signed,
    signed_headers,
)

Creds = tuple[str, str, str]
P_ALPHA, P_BETA = ALPHA[0], BETA[0]


@dataclass(frozen=True)
class Seed:
    server_id: str
    job_id: str
    deh_id: str


@pytest.fixture(scope="module")
def seed(shared: Region) -> Seed:
    """ALPHA owns one finished server (and its create job) and one DeH."""
    response = sdk.create_servers(shared.ecs(ALPHA), name="alpha-vm")
    assert sdk.wait_job(shared.ecs(ALPHA), response.job_id).status == "SUCCESS"
    [deh_id] = sdk.allocate(shared.deh(ALPHA), name="alpha-deh")
    return Seed(response.server_ids[0], response.job_id, deh_id)


def create_body(name: str = "made") -> bytes:
    server = {
        "name": name,
        "imageRef": sdk.IMAGE,
        "flavorRef": "t1.large.2",
        "vpcid": sdk.VPC,
        "nics": [{"subnet_id": sdk.SUBNET}],
        "root_volume": {"volumetype": "SSD", "size": 40},
        "availability_zone": "az-a",
    }
    return dumps({"server": server})


def allocate_body(name: str = "made") -> bytes:
    return dumps({"name": name, "availability_zone": "az-a", "host_type": "t1", "quantity": 1})


# (what, path under the project, body): state-changing requests that must be refused whole.
MUTATIONS = {
    "create": ("/v1/{p}/cloudservers", create_body()),
    "allocate": ("/v1.0/{p}/dedicated-hosts", allocate_body()),
}


def visible(region: Region, creds: Creds = ALPHA) -> dict[str, Any]:
    """Everything a project can see that a refused request might have changed."""
    base, p = region.url, creds[0]
    return {
        "servers": ok_json(signed("GET", f"{base}/v1/{p}/cloudservers/detail?limit=1000", creds)),
        "hosts": ok_json(signed("GET", f"{base}/v1.0/{p}/dedicated-hosts", creds)),
    }


# --- broken signatures ------------------------------------------------------------------------

Sender = Callable[[str, bytes], httpx.Response]


def _unsigned(url: str, body: bytes) -> httpx.Response:
    return send("POST", url, {"Content-Type": JSON_UTF8, "X-Project-Id": P_ALPHA}, body)


def _with_authorization(value: Callable[[str], str]) -> Sender:
    def sender(url: str, body: bytes) -> httpx.Response:
        headers = signed_headers("POST", url, ALPHA, body)
        headers["Authorization"] = value(headers["Authorization"])
        return send("POST", url, headers, body)

    return sender


def _signed_as(creds: Creds) -> Sender:
    return lambda url, body: signed("POST", url, creds, body)


def _signed_at(offset: timedelta) -> Sender:
    return lambda url, body: signed("POST", url, ALPHA, body, when=datetime.now(UTC) + offset)


def _body_tampered(url: str, body: bytes) -> httpx.Response:
    headers = signed_headers("POST", url, ALPHA, body)
    return send("POST", url, headers, body.replace(b'"made"', b'"made2"'))


def _declared_hash(value: Callable[[bytes], str]) -> Sender:
    """Sign with X-Sdk-Content-Sha256 standing for the body, then send a different body."""

    def sender(url: str, body: bytes) -> httpx.Response:
        extra = {"X-Sdk-Content-Sha256": value(body)}
        headers = signed_headers("POST", url, ALPHA, body, headers=extra)
        return send("POST", url, headers, body.replace(b'"made"', b'"made2"'))

    return sender


def _query_tampered(url: str, body: bytes) -> httpx.Response:
    headers = signed_headers("POST", url + "?x=1", ALPHA, body)
    return send("POST", url + "?x=2", headers, body)


def _method_tampered(url: str, body: bytes) -> httpx.Response:
    return send("POST", url, signed_headers("PUT", url, ALPHA, body), body)


def _date_header(value: str | None) -> Sender:
    def sender(url: str, body: bytes) -> httpx.Response:
        headers = signed_headers("POST", url, ALPHA, body)
        del headers["X-Sdk-Date"]
        if value is not None:
            headers["X-Sdk-Date"] = value
        return send("POST", url, headers, body)

    return sender


def _host_not_signed(url: str, body: bytes) -> httpx.Response:
    """A correct signature over every header except host (the client may not omit host)."""
    date = datetime.now(UTC).strftime(signing.DATE_FORMAT)
    headers = {"content-type": JSON_UTF8, "x-project-id": P_ALPHA, "x-sdk-date": date}
    names = sorted(headers)
    parts = urlsplit(url)
    canonical = signing.canonical_request("POST", parts.path, "", headers, names, body)
    headers["authorization"] = (
        f"{signing.ALGORITHM} Access={ALPHA[1]}, SignedHeaders={';'.join(names)}, "
        f"Signature={signing.sign(ALPHA[2], date, canonical)}"
    )
    return send("POST", url, headers, body)


# name: (how the request is broken, a word the refusal's message must contain)
BROKEN: dict[str, tuple[Sender, str]] = {
    "unsigned": (_unsigned, "not signed"),
    "garbage-authorization": (_with_authorization(lambda _: "garbage"), "SDK-HMAC-SHA256"),
    "authorization-without-signature": (
        _with_authorization(lambda v: v.split(", Signature=")[0]),
        "Signature",
    ),
    "algorithm-sm3": (
        _with_authorization(lambda v: v.replace("SDK-HMAC-SHA256", "SDK-HMAC-SM3", 1)),
        "SDK-HMAC-SM3",
    ),
    "unknown-ak": (_signed_as((P_ALPHA, "TESTNOSUCHKEY0000000", "x")), "access key"),
    "wrong-sk": (_signed_as((P_ALPHA, ALPHA[1], "forged-secret")), "does not match"),
    "beta-sk-with-alpha-ak": (_signed_as((P_ALPHA, ALPHA[1], BETA[2])), "does not match"),
    "body-tampered": (_body_tampered, "does not match"),
    "unsigned-payload-tampered": (_declared_hash(lambda _: "UNSIGNED-PAYLOAD"), "unsigned"),
    "declared-hash-tampered": (
        _declared_hash(lambda body: hashlib.sha256(body).hexdigest()),
        "X-Sdk-Content-Sha256",
    ),
    "query-tampered": (_query_tampered, "does not match"),
    "method-tampered": (_method_tampered, "does not match"),
    "date-16-min-old": (_signed_at(timedelta(minutes=-16)), "away from the server time"),
    "date-16-min-ahead": (_signed_at(timedelta(minutes=16)), "away from the server time"),
    "date-malformed": (_date_header("2024-01-01T00:00:00Z"), "X-Sdk-Date"),
    "date-missing": (_date_header(None), "X-Sdk-Date"),
    "host-not-signed": (_host_not_signed, "host"),
}


@pytest.mark.parametrize("what", MUTATIONS)
@pytest.mark.parametrize("case", BROKEN)
def test_badly_signed_request_is_refused_with_401_and_changes_nothing(
    shared: Region, case: str, what: str
) -> None:
    sender, reason = BROKEN[case]
    path, body = MUTATIONS[what]
    before = visible(shared)
    response = sender(shared.url + path.format(p=P_ALPHA), body)
    message = huawei_error(response, 401, "Common.0013")
    assert reason in message
    assert visible(shared) == before


def test_the_same_requests_correctly_signed_are_accepted(shared: Region) -> None:
    """Control for the table above: the helper signs like the SDK, so the refusals are real."""
    before = visible(shared)
    for path, body in MUTATIONS.values():
        response = signed("POST", shared.url + path.format(p=P_ALPHA), ALPHA, body)
        assert response.status_code == 200, response.text
        assert response.headers.get("x-request-id")
        if job_id := response.json().get("job_id"):  # settle, so later snapshots are stable
            assert sdk.wait_job(shared.ecs(), job_id).status == "SUCCESS"
    after = visible(shared)
    assert after["servers"]["count"] == before["servers"]["count"] + 1
    assert len(after["hosts"]["dedicated_hosts"]) == len(before["hosts"]["dedicated_hosts"]) + 1


def test_request_id_header_matches_the_body_where_the_body_has_one(shared: Region) -> None:
    response = signed("GET", f"{shared.url}/v1.1/{P_ALPHA}/cloudservers/detail", ALPHA)
    assert ok_json(response)["request_id"] == response.headers["x-request-id"]
    other = signed("GET", f"{shared.url}/v1.1/{P_ALPHA}/cloudservers/detail", ALPHA)
    assert other.headers["x-request-id"] != response.headers["x-request-id"]


def test_dates_within_the_window_are_accepted(shared: Region) -> None:
    url = f"{shared.url}/v1/{P_ALPHA}/cloudservers/detail"
    for minutes in (-14, 14):
        when = datetime.now(UTC) + timedelta(minutes=minutes)
        assert signed("GET", url, ALPHA, when=when).status_code == 200


def test_sdk_with_a_wrong_secret_key_gets_401_common_0013(shared: Region) -> None:
    client = ecs_client(shared.url, (P_ALPHA, ALPHA[1], "not-the-secret"))
    with pytest.raises(ClientRequestException) as caught:
        client.list_servers_details(ecs.ListServersDetailsRequest())
    assert caught.value.status_code == 401
    assert caught.value.error_code == "Common.0013"
    assert caught.value.error_msg
    assert caught.value.request_id


def test_sdk_with_a_wrong_secret_key_cannot_create(shared: Region) -> None:
    before = visible(shared)
    with pytest.raises(ClientRequestException) as caught:
        sdk.create_servers(ecs_client(shared.url, (P_ALPHA, ALPHA[1], "nope")))
    assert (caught.value.status_code, caught.value.error_code) == (401, "Common.0013")
    assert visible(shared) == before


# --- which paths need a signature -------------------------------------------------------------


def test_healthz_needs_no_signature(shared: Region) -> None:
    response = httpx.get(shared.url + "/healthz")
    assert response.status_code == 200
    assert response.headers.get("x-request-id")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/{p}/cloudservers/detail"),
        ("GET", "/v1.1/{p}/cloudservers/detail"),
        ("GET", "/v1/{p}/cloudservers/00000000-0000-4000-8000-000000000000"),
        ("GET", "/v1/{p}/jobs/0123456789abcdef0123456789abcdef"),
        ("GET", "/v1/{p}/cloudservers/flavors"),
        ("GET", "/v1/{p}/availability-zones"),
        ("GET", "/v2.1/{p}/servers/00000000-0000-4000-8000-000000000000"),
        ("GET", "/v1.0/{p}/dedicated-hosts"),
        ("GET", "/v1.0/{p}/quota-sets/{p}"),
        ("POST", "/v1/{p}/cloudservers/delete"),
        ("DELETE", "/v1.0/{p}/dedicated-hosts/00000000-0000-4000-8000-000000000000"),
        ("GET", "/v1/{p}/no-such-api"),
        ("GET", "/no-such-path"),
        ("GET", "/healthz/"),
        ("GET", "/"),
    ],
)
def test_every_other_path_needs_a_signature(shared: Region, method: str, path: str) -> None:
    response = send(method, shared.url + path.format(p=P_ALPHA), {})
    status, body = response.status_code, response.json()
    assert status == 401, (status, body)
    assert response.headers.get("x-request-id")
    error = body.get("error") or body.get("unauthorized")
    assert error and error["code"] in ("Common.0013", 401) and error["message"], body


# --- project scoping --------------------------------------------------------------------------


@pytest.mark.parametrize("what", MUTATIONS)
@pytest.mark.parametrize(
    ("url_project", "header_project"),
    [
        pytest.param(P_BETA, P_BETA, id="alpha-key-beta-url"),
        pytest.param(P_BETA, None, id="alpha-key-beta-url-no-header"),
        pytest.param(P_BETA, P_ALPHA, id="alpha-key-beta-url-alpha-header"),
        pytest.param(P_ALPHA, P_BETA, id="header-differs-from-url"),
    ],
)
def test_a_key_outside_its_project_gets_403_and_changes_nothing(
    shared: Region, seed: Seed, what: str, url_project: str, header_project: str | None
) -> None:
    path, body = MUTATIONS[what]
    before = visible(shared, ALPHA), visible(shared, BETA)
    url = shared.url + path.format(p=url_project)
    response = signed("POST", url, ALPHA, body, headers={"X-Project-Id": header_project})
    huawei_error(response, 403, "Ecs.0110" if what == "create" else "DEH.0033")
    assert (visible(shared, ALPHA), visible(shared, BETA)) == before


@pytest.mark.parametrize(
    "path",
    [
        "/v1/{p}/cloudservers/{server}",
        "/v1/{p}/jobs/{job}",
        "/v1/{p}/cloudservers/detail",
        "/v1.0/{p}/dedicated-hosts/{deh}",
    ],
)
def test_beta_cannot_read_alpha_through_alphas_url(shared: Region, seed: Seed, path: str) -> None:
    url = shared.url + path.format(
        p=P_ALPHA, server=seed.server_id, job=seed.job_id, deh=seed.deh_id
    )
    response = signed("GET", url, BETA)
    assert response.status_code == 403, response.text
    assert seed.server_id not in response.text and seed.deh_id not in response.text


def _encoded(project_id: str) -> str:
    return "".join(f"%{ord(c):02X}" for c in project_id)


@pytest.mark.parametrize(
    "path",
    [
        pytest.param(f"/v1/{_encoded(P_ALPHA)}/cloudservers/detail", id="percent-encoded-project"),
        pytest.param(f"//v1/{P_ALPHA}/cloudservers/detail", id="double-slash"),
        pytest.param(f"/v1/{P_BETA}/%2e%2e/{P_ALPHA}/cloudservers/detail", id="dot-dot"),
        pytest.param(f"/v1/{P_BETA}/..%2F{P_ALPHA}/cloudservers/detail", id="encoded-slash"),
        pytest.param(f"/v1/{P_BETA}/cloudservers/%2E%2E%2F%2E%2E%2F{P_ALPHA}", id="dot-dot-id"),
    ],
)
def test_path_tricks_do_not_reach_another_project(shared: Region, seed: Seed, path: str) -> None:
    response = signed("GET", shared.url + path, BETA, headers={"X-Project-Id": None})
    assert response.status_code in (403, 404), response.text  # signed fine, then refused
    assert seed.server_id not in response.text
    huawei_error(response, response.status_code)


def test_admin_api_needs_an_admin_key(shared: Region) -> None:
    response = signed("GET", shared.url + "/v1/admin/anything", ALPHA)
    huawei_error(response, 403)


# --- isolation: BETA, through its own URL, cannot tell ALPHA's resources exist -----------------


def _same_shape(a: str, a_id: str, b: str, b_id: str) -> None:
    assert a_id in a and b_id in b
    assert a.replace(a_id, "<id>") == b.replace(b_id, "<id>")


def test_beta_sees_alphas_server_exactly_like_an_unknown_one(shared: Region, seed: Seed) -> None:
    unknown = str(uuid.uuid4())
    base = f"{shared.url}/v1/{P_BETA}/cloudservers/"
    foreign = huawei_error(signed("GET", base + seed.server_id, BETA), 404, "Ecs.0114")
    missing = huawei_error(signed("GET", base + unknown, BETA), 404, "Ecs.0114")
    _same_shape(foreign, seed.server_id, missing, unknown)
    # and ALPHA still sees it
    assert ok_json(signed("GET", base.replace(P_BETA, P_ALPHA) + seed.server_id, ALPHA))


def test_beta_sees_alphas_job_exactly_like_an_unknown_one(shared: Region, seed: Seed) -> None:
    unknown = uuid.uuid4().hex
    base = f"{shared.url}/v1/{P_BETA}/jobs/"
    foreign = huawei_error(signed("GET", base + seed.job_id, BETA), 400, "Common.0011")
    missing = huawei_error(signed("GET", base + unknown, BETA), 400, "Common.0011")
    _same_shape(foreign, seed.job_id, missing, unknown)
    with pytest.raises(ClientRequestException) as caught:
        sdk.job(shared.ecs(BETA), seed.job_id)
    assert (caught.value.status_code, caught.value.error_code) == (400, "Common.0011")


def test_beta_sees_alphas_server_natively_like_an_unknown_one(shared: Region, seed: Seed) -> None:
    unknown = str(uuid.uuid4())
    base = f"{shared.url}/v2.1/{P_BETA}/servers/"
    foreign = nova_error(signed("GET", base + seed.server_id, BETA), 404, "itemNotFound")
    missing = nova_error(signed("GET", base + unknown, BETA), 404, "itemNotFound")
    _same_shape(foreign, seed.server_id, missing, unknown)


def test_beta_sees_alphas_deh_exactly_like_an_unknown_one(shared: Region, seed: Seed) -> None:
    unknown = str(uuid.uuid4())
    base = f"{shared.url}/v1.0/{P_BETA}/dedicated-hosts/"
    foreign = huawei_error(signed("GET", base + seed.deh_id, BETA), 404, "DEH.0018")
    missing = huawei_error(signed("GET", base + unknown, BETA), 404, "DEH.0018")
    _same_shape(foreign, seed.deh_id, missing, unknown)


@pytest.mark.parametrize(
    "path",
    [
        "/v1/{p}/cloudservers/detail",
        "/v1.1/{p}/cloudservers/detail",
        "/v1.0/{p}/dedicated-hosts",
        "/v1.0/{p}/dedicated-hosts?dedicated_host_id={deh}",
    ],
)
def test_beta_lists_do_not_show_alphas_resources(shared: Region, seed: Seed, path: str) -> None:
    fmt = {"server": seed.server_id, "deh": seed.deh_id}
    alpha = signed("GET", shared.url + path.format(p=P_ALPHA, **fmt), ALPHA)
    assert seed.server_id in alpha.text or seed.deh_id in alpha.text  # control
    beta = signed("GET", shared.url + path.format(p=P_BETA, **fmt), BETA)
    assert beta.status_code == 200, beta.text
    assert seed.server_id not in beta.text and seed.deh_id not in beta.text


def test_alphas_server_id_in_a_beta_listing_answers_like_an_unknown_id(
    shared: Region, seed: Seed
) -> None:
    """api.md §2.5: an id the project does not own comes back as an entry with only ``id``
    and ``fault``, exactly as an id that exists nowhere."""
    unknown = str(uuid.uuid4())
    base = f"{shared.url}/v1/{P_BETA}/cloudservers/detail?server_id="
    foreign = ok_json(signed("GET", base + seed.server_id, BETA))
    missing = ok_json(signed("GET", base + unknown, BETA))
    assert foreign["count"] == 1 and set(foreign["servers"][0]) == {"id", "fault"}
    for body in (foreign, missing):
        body["servers"][0]["fault"].pop("created")
    _same_shape(json.dumps(foreign), seed.server_id, json.dumps(missing), unknown)


@pytest.mark.parametrize("version", ["v1", "v1.1"])
def test_alphas_server_as_a_beta_marker_is_an_unknown_marker(
    shared: Region, seed: Seed, version: str
) -> None:
    base = f"{shared.url}/{version}/{P_BETA}/cloudservers/detail?marker="
    foreign = huawei_error(signed("GET", base + seed.server_id, BETA), 400, "Ecs.0005")
    unknown = str(uuid.uuid4())
    missing = huawei_error(signed("GET", base + unknown, BETA), 400, "Ecs.0005")
    _same_shape(foreign, seed.server_id, missing, unknown)


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/{p}/cloudservers/action", {"os-stop": {"servers": [{"id": "{s}"}], "type": "HARD"}}),
        ("/v1/{p}/cloudservers/delete", {"servers": [{"id": "{s}"}]}),
    ],
)
def test_beta_cannot_act_on_alphas_server(
    shared: Region, seed: Seed, path: str, body: dict[str, Any]
) -> None:
    before = visible(shared, ALPHA)
    raw = dumps(body).replace(b"{s}", seed.server_id.encode())
    response = signed("POST", shared.url + path.format(p=P_BETA), BETA, raw)
    huawei_error(response, 404, "Ecs.0114")
    assert visible(shared, ALPHA) == before


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/v2.1/{p}/servers/{s}/action", {"lock": None}),
        ("POST", "/v2.1/{p}/servers/{s}/action", {"os-stop": None}),
    ],
)
def test_beta_cannot_act_natively_on_alphas_server(
    shared: Region, seed: Seed, method: str, path: str, body: Any
) -> None:
    before = visible(shared, ALPHA)
    url = shared.url + path.format(p=P_BETA, s=seed.server_id)
    nova_error(signed(method, url, BETA, dumps(body)), 404, "itemNotFound")
    assert visible(shared, ALPHA) == before


@pytest.mark.parametrize(
    ("method", "body"),
    [("DELETE", b""), ("PUT", dumps({"dedicated_host": {"name": "stolen"}}))],
)
def test_beta_cannot_change_alphas_deh(
    shared: Region, seed: Seed, method: str, body: bytes
) -> None:
    before = visible(shared, ALPHA)
    url = f"{shared.url}/v1.0/{P_BETA}/dedicated-hosts/{seed.deh_id}"
    huawei_error(signed(method, url, BETA, body), 404, "DEH.0018")
    assert visible(shared, ALPHA) == before
