"""SDK-HMAC-SHA256 verification (api.md §1.3), checked against §1.3.6 and the real SDK signer."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from urllib.parse import quote

import pytest
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.sdk_request import SdkRequest
from huaweicloudsdkcore.signer.signer import Signer

from coldshift.api import signing
from coldshift.api.signing import (
    EMPTY_PAYLOAD_SHA256,
    Authorization,
    SignatureError,
    canonical_query,
    canonical_request,
    canonical_uri,
    parse_authorization,
    parse_sdk_date,
    payload_hash,
    sign,
    sign_request,
    string_to_sign,
    verify,
)

AK = "AKEXAMPLE0000000000"
SK = "SKEXAMPLEsecret0000000000000000000000000"
PROJECT = "0123456789abcdef0123456789abcdef"
DATE = "20240101T000000Z"
NOW = datetime(2024, 1, 1, tzinfo=UTC)
SIGNED = "content-type;host;user-agent;x-project-id;x-sdk-date"

VECTOR_A_PATH = f"/v1/{PROJECT}/cloudservers/5f3a1b2c-0000-4000-8000-000000000001/migrate"
VECTOR_A_BODY = b'{"migrate": {"dedicated_host_id": "6a1e0f1e-0000-4000-8000-0000000000d1"}}'
VECTOR_A_CANONICAL = "\n".join(
    [
        "POST",
        f"{VECTOR_A_PATH}/",
        "",
        "content-type:application/json;charset=utf-8",
        "host:ecs.example.com",
        "user-agent:huaweicloud-usdk-python/3.0",
        f"x-project-id:{PROJECT}",
        f"x-sdk-date:{DATE}",
        "",
        SIGNED,
        "18460990677a0286c150f05ddf9a5e7bb3c266005f38f49266a69e57d8f2a27d",
    ]
)
VECTOR_A_HASH = "5a17bec8dfb97b49077b3c03c2514a9af469a938813c3673bf9e52333cc9d809"
VECTOR_A_SIGNATURE = "d3895609bd1e99718caab434bd48856ea3b722f873cd2a46454043f2cd3f4ba2"

VECTOR_B_PATH = f"/v1/{PROJECT}/cloudservers/detail"
VECTOR_B_QUERY = "limit=10&name=web%2001&status=SHUTOFF"
VECTOR_B_CANONICAL = "\n".join(
    [
        "GET",
        f"{VECTOR_B_PATH}/",
        VECTOR_B_QUERY,
        "content-type:application/json",
        "host:ecs.example.com",
        "user-agent:huaweicloud-usdk-python/3.0",
        f"x-project-id:{PROJECT}",
        f"x-sdk-date:{DATE}",
        "",
        SIGNED,
        EMPTY_PAYLOAD_SHA256,
    ]
)
VECTOR_B_HASH = "d1c9de0f5f93dd01a4070d135fedcbfeb4878adb84ff523b093727e0938d3e37"
VECTOR_B_SIGNATURE = "ab0833c6d83b74e2ee23fcc3184baef43ddcf61b6e494633baff80d62dd3a74e"


def _vector_headers(content_type: str, signature: str) -> dict[str, str]:
    return {
        "content-type": content_type,
        "user-agent": "huaweicloud-usdk-python/3.0",
        "x-project-id": PROJECT,
        "x-sdk-date": DATE,
        "host": "ecs.example.com",
        "authorization": f"SDK-HMAC-SHA256 Access={AK}, SignedHeaders={SIGNED}, "
        f"Signature={signature}",
    }


def _secret_for(access_key: str) -> str | None:
    return {AK: SK}.get(access_key)


# --- a request as the server sees it -------------------------------------------------------------


@dataclass
class Wire:
    """A request as received: raw path and query, lower-case header names, body bytes."""

    method: str
    raw_path: str
    raw_query: str
    headers: dict[str, str]
    body: bytes = b""
    extra: dict[str, Any] = field(default_factory=dict)

    def verify(self, **overrides: Any) -> Authorization:
        kwargs: dict[str, Any] = {
            "method": self.method,
            "raw_path": self.raw_path,
            "raw_query": self.raw_query,
            "headers": self.headers,
            "body": self.body,
            "secret_for": _secret_for,
            "now": NOW,
        }
        kwargs.update(overrides)
        return verify(**kwargs)

    def with_header(self, name: str, value: str | None) -> dict[str, str]:
        headers = dict(self.headers)
        if value is None:
            headers.pop(name, None)
        else:
            headers[name] = value
        return headers


def vector_a() -> Wire:
    headers = _vector_headers("application/json;charset=utf-8", VECTOR_A_SIGNATURE)
    return Wire("POST", VECTOR_A_PATH, "", headers, VECTOR_A_BODY)


def vector_b() -> Wire:
    headers = _vector_headers("application/json", VECTOR_B_SIGNATURE)
    return Wire("GET", VECTOR_B_PATH, VECTOR_B_QUERY, headers)


def sdk_signed(
    method: str,
    resource_path: str,
    *,
    query: list[tuple[str, object]] | None = None,
    headers: dict[str, str] | None = None,
    body: str | bytes = "",
    host: str = "ecs.example.com",
    sdk_date: str | None = DATE,
    ak: str = AK,
    sk: str = SK,
) -> Wire:
    """Sign with huaweicloudsdkcore's own Signer and return what goes over the wire."""
    header_params = dict(headers or {})
    if sdk_date is not None:
        header_params["X-Sdk-Date"] = sdk_date
    request = SdkRequest(
        method=method,
        schema="https",
        host=host,
        resource_path=resource_path,
        query_params=list(query or []),
        header_params=header_params,
        body=body,
    )
    Signer(BasicCredentials(ak, sk, PROJECT)).sign(request)
    path, _, raw_query = request.uri.partition("?")
    # The SDK leaves UTF-8 bytes disguised as latin-1 text; the server decodes them as UTF-8.
    wire_headers = {
        name.lower(): str(value).encode("latin-1").decode("utf-8")
        for name, value in request.header_params.items()
    }
    raw_body = request.body if isinstance(request.body, bytes) else b""
    return Wire(method, path, raw_query, wire_headers, raw_body, {"request": request})


# --- §1.3.6 test vectors ------------------------------------------------------------------------


def test_vector_a_canonical_request() -> None:
    wire = vector_a()
    names = SIGNED.split(";")
    canonical = canonical_request("POST", wire.raw_path, "", wire.headers, names, wire.body)
    assert canonical == VECTOR_A_CANONICAL
    assert hashlib.sha256(canonical.encode()).hexdigest() == VECTOR_A_HASH
    assert string_to_sign(DATE, canonical) == f"SDK-HMAC-SHA256\n{DATE}\n{VECTOR_A_HASH}"
    assert sign(SK, DATE, canonical) == VECTOR_A_SIGNATURE


def test_vector_b_canonical_request() -> None:
    wire = vector_b()
    names = SIGNED.split(";")
    canonical = canonical_request("GET", wire.raw_path, wire.raw_query, wire.headers, names, b"")
    assert canonical == VECTOR_B_CANONICAL
    assert hashlib.sha256(canonical.encode()).hexdigest() == VECTOR_B_HASH
    assert string_to_sign(DATE, canonical).split("\n") == [
        "SDK-HMAC-SHA256",
        DATE,
        VECTOR_B_HASH,
    ]
    assert sign(SK, DATE, canonical) == VECTOR_B_SIGNATURE


@pytest.mark.parametrize("make", [vector_a, vector_b])
def test_vectors_verify(make: Any) -> None:
    wire: Wire = make()
    auth = wire.verify()
    assert auth.access_key == AK
    assert auth.signed_headers == tuple(SIGNED.split(";"))


@pytest.mark.parametrize(
    ("wire", "signature"),
    [(vector_a(), VECTOR_A_SIGNATURE), (vector_b(), VECTOR_B_SIGNATURE)],
    ids=["A", "B"],
)
def test_sdk_signer_reproduces_the_vectors(wire: Wire, signature: str) -> None:
    headers = {
        "Content-Type": wire.headers["content-type"],
        "User-Agent": wire.headers["user-agent"],
        "X-Project-Id": PROJECT,
    }
    query: list[tuple[str, object]] = (
        [("limit", 10), ("name", "web 01"), ("status", "SHUTOFF")] if wire.raw_query else []
    )
    sdk = sdk_signed(wire.method, wire.raw_path, query=query, headers=headers, body=wire.body)
    assert sdk.raw_query == wire.raw_query
    assert sdk.headers["authorization"].endswith(f"Signature={signature}")


# --- end-to-end against the real SDK signer ------------------------------------------------------


def test_sdk_post_with_json_body_verifies() -> None:
    body = json.dumps({"migrate": {"dedicated_host_id": "6a1e0f1e-0000-4000-8000-0000000000d1"}})
    wire = sdk_signed(
        "POST",
        f"/v1/{PROJECT}/cloudservers/5f3a1b2c-0000-4000-8000-000000000001/migrate",
        headers={
            "Content-Type": "application/json;charset=UTF-8",
            "User-Agent": "huaweicloud-usdk-python/3.0",
            "X-Project-Id": PROJECT,
        },
        body=body,
    )
    assert wire.body == body.encode()
    assert "x-sdk-content-sha256" not in wire.headers
    auth = wire.verify()
    assert auth.signed_headers == tuple(SIGNED.split(";"))


def test_sdk_get_with_awkward_query_verifies() -> None:
    wire = sdk_signed(
        "GET",
        f"/v1/{PROJECT}/cloudservers/detail",
        query=[
            ("name", "web 01/a b"),
            ("changes-since", "2015-08-27T09:49:58-05:00"),
            ("expect-fields", ["tenancy", "dedicated_host_id"]),
            ("tags", "z"),
            ("tags", "a"),
            ("not-tags", "k=v&x"),
            ("reservation_id", ""),
            ("with_deleted", True),
            ("limit", 25),
        ],
        headers={"Content-Type": "application/json", "X-Project-Id": PROJECT},
    )
    assert "name=web%2001%2Fa%20b" in wire.raw_query
    assert "changes-since=2015-08-27T09%3A49%3A58-05%3A00" in wire.raw_query
    assert "expect-fields=dedicated_host_id&expect-fields=tenancy" in wire.raw_query
    assert "with_deleted=true" in wire.raw_query
    wire.verify()
    # What the SDK sends already is the canonical form.
    assert canonical_query(wire.raw_query) == wire.raw_query


def test_sdk_query_received_in_another_order_still_verifies() -> None:
    wire = sdk_signed(
        "GET",
        "/v1/p/cloudservers/detail",
        query=[("tags", "b"), ("tags", "a"), ("name", "x y")],
        headers={"Content-Type": "application/json"},
    )
    reordered = "&".join(reversed(wire.raw_query.split("&")))
    assert reordered != wire.raw_query
    wire.verify(raw_query=reordered.replace("%20", "+"))


def test_sdk_path_with_special_characters_verifies() -> None:
    # The SDK quotes path parameters with safe='' (client._parse_path_params).
    server_id = quote("srv:01 é/x~y_z.%", safe="")
    wire = sdk_signed(
        "DELETE",
        f"/v1/{PROJECT}/cloudservers/{server_id}/tags/a%2Bb",
        headers={"Content-Type": "application/json"},
    )
    assert wire.raw_path.endswith(f"{server_id}/tags/a%2Bb")
    wire.verify()


def test_sdk_host_with_port_and_non_ascii_header_verifies() -> None:
    wire = sdk_signed(
        "GET",
        "/v1/p/jobs/j1",
        host="ecs.example.com:8443",
        headers={"Content-Type": "application/json", "X-Client-Name": "  café  client "},
    )
    assert wire.headers["host"] == "ecs.example.com:8443"
    assert wire.headers["x-client-name"] == "café  client"
    assert "x-client-name" in wire.verify().signed_headers


def test_sdk_signature_with_sdk_chosen_date_verifies() -> None:
    wire = sdk_signed(
        "GET", "/v1/p/jobs/j1", headers={"Content-Type": "application/json"}, sdk_date=None
    )
    sent = parse_sdk_date(wire.headers["x-sdk-date"])
    wire.verify(now=sent + timedelta(seconds=3))


def test_sdk_post_with_declared_content_sha256_verifies() -> None:
    body = b'{"a": 1}'
    wire = sdk_signed(
        "POST",
        "/v1/p/x",
        headers={
            "Content-Type": "application/json",
            "X-Sdk-Content-Sha256": hashlib.sha256(body).hexdigest().upper(),
        },
        body=body,
    )
    wire.verify()


def test_sdk_unsigned_payload_refused_unless_allowed() -> None:
    wire = sdk_signed("POST", "/v1/p/x", headers={"Content-Type": "text/plain"}, body="hello")
    assert wire.headers["x-sdk-content-sha256"] == "UNSIGNED-PAYLOAD"
    with pytest.raises(SignatureError, match="unsigned payload"):
        wire.verify()
    wire.verify(allow_unsigned_payload=True)
    # ...which is why it is off by default: the body is then not covered at all.
    wire.verify(allow_unsigned_payload=True, body=b"tampered")


def test_sdk_unsigned_payload_without_body_is_fine() -> None:
    wire = sdk_signed("GET", "/v1/p/x", headers={"Content-Type": "text/plain"})
    assert wire.headers["x-sdk-content-sha256"] == "UNSIGNED-PAYLOAD"
    wire.verify()


@pytest.mark.xfail(
    strict=True,
    reason="§1.3.3 sorts query values as strings; the SDK sorts a list of ints numerically",
)
def test_sdk_integer_list_query_param() -> None:
    wire = sdk_signed(
        "GET", "/v1/p/x", query=[("ids", [2, 10])], headers={"Content-Type": "application/json"}
    )
    assert wire.raw_query == "ids=2&ids=10"
    wire.verify()


# --- refusals -----------------------------------------------------------------------------------


def _refused(wire: Wire, match: str, **overrides: Any) -> SignatureError:
    with pytest.raises(SignatureError, match=match) as info:
        wire.verify(**overrides)
    message = str(info.value)
    assert VECTOR_A_SIGNATURE not in message and VECTOR_B_SIGNATURE not in message
    return info.value


def test_refuses_missing_authorization() -> None:
    wire = vector_a()
    _refused(wire, "no Authorization", headers=wire.with_header("authorization", None))
    _refused(wire, "no Authorization", headers=wire.with_header("authorization", ""))


@pytest.mark.parametrize(
    "value",
    [
        "garbage",
        "SDK-HMAC-SHA256",
        "SDK-HMAC-SHA256 garbage",
        f"SDK-HMAC-SHA256 Access={AK}, SignedHeaders={SIGNED}",
        f"SDK-HMAC-SHA256 Access=, SignedHeaders={SIGNED}, Signature={VECTOR_A_SIGNATURE}",
        f"SDK-HMAC-SHA256 Access={AK}, SignedHeaders=, Signature={VECTOR_A_SIGNATURE}",
        f"SDK-HMAC-SHA256 Access={AK}, SignedHeaders=host;;x-sdk-date, Signature={'0' * 64}",
        f"SDK-HMAC-SHA256 Access={AK}, SignedHeaders=Host;x-sdk-date, Signature={'0' * 64}",
        f"SDK-HMAC-SHA256 Access={AK}, SignedHeaders={SIGNED}, Signature=abc",
        f"SDK-HMAC-SHA256 Access={AK}, SignedHeaders={SIGNED}, Signature={'g' * 64}",
        f"SDK-HMAC-SHA256 Access={AK}, Access=X, SignedHeaders={SIGNED}, Signature={'0' * 64}",
        f"SDK-HMAC-SHA256 Access={AK}, SignedHeaders={SIGNED}, Signature={'0' * 64}, Extra=1",
    ],
)
def test_refuses_garbage_authorization(value: str) -> None:
    wire = vector_a()
    _refused(wire, "Authorization", headers=wire.with_header("authorization", value))


@pytest.mark.parametrize(
    "algorithm",
    [
        "SDK-HMAC-SM3",
        "SDK-ECDSA-P256-SHA256",
        "SDK-SM2-SM3",
        "V11-HMAC-SHA256",
        "AWS4-HMAC-SHA256",
        "sdk-hmac-sha256",
    ],
)
def test_refuses_other_algorithms(algorithm: str) -> None:
    wire = vector_a()
    value = wire.headers["authorization"].replace("SDK-HMAC-SHA256", algorithm, 1)
    _refused(wire, "unsupported", headers=wire.with_header("authorization", value))


def test_refuses_unknown_access_key() -> None:
    wire = vector_a()
    _refused(wire, "unknown access key", secret_for=lambda ak: None)


def test_refuses_wrong_secret() -> None:
    _refused(vector_a(), "does not match", secret_for=lambda ak: SK[:-1] + "1")


def test_refuses_missing_date() -> None:
    wire = vector_a()
    _refused(wire, "no X-Sdk-Date", headers=wire.with_header("x-sdk-date", None))


@pytest.mark.parametrize(
    "value",
    [
        "2024-01-01T00:00:00Z",
        "20240101T000000",
        "20240101000000Z",
        "2024011T000000Z",
        "20241301T000000Z",
        "20240101T250000Z",
        "Mon, 01 Jan 2024 00:00:00 GMT",
        "２０２４0101T000000Z",
    ],
)
def test_refuses_bad_date_format(value: str) -> None:
    wire = vector_a()
    _refused(wire, "X-Sdk-Date", headers=wire.with_header("x-sdk-date", value))


@pytest.mark.parametrize("offset", [timedelta(minutes=16), -timedelta(minutes=16)])
def test_refuses_stale_or_future_date(offset: timedelta) -> None:
    # The request was signed at NOW; the server's clock is 16 minutes later / earlier.
    _refused(vector_a(), "more than 15 minutes away", now=NOW + offset)


@pytest.mark.parametrize("offset", [timedelta(minutes=15), -timedelta(minutes=15)])
def test_accepts_date_at_the_edge_of_the_window(offset: timedelta) -> None:
    vector_a().verify(now=NOW + offset)


def test_max_skew_is_configurable() -> None:
    wire = vector_a()
    _refused(
        wire,
        "more than 30 seconds",
        now=NOW + timedelta(seconds=31),
        max_skew=timedelta(seconds=30),
    )
    wire.verify(now=NOW + timedelta(hours=1), max_skew=timedelta(hours=2))


def test_needs_an_aware_now() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        vector_a().verify(now=datetime(2024, 1, 1))


def test_now_in_another_timezone_is_compared_as_an_instant() -> None:
    vector_a().verify(now=datetime(2024, 1, 1, 2, tzinfo=timezone(timedelta(hours=2))))


@pytest.mark.parametrize("required", ["host", "x-sdk-date"])
def test_refuses_required_header_not_signed(required: str) -> None:
    names = [n for n in SIGNED.split(";") if n != required]
    wire = vector_a()
    canonical = canonical_request("POST", wire.raw_path, "", wire.headers, names, wire.body)
    value = (
        f"SDK-HMAC-SHA256 Access={AK}, SignedHeaders={';'.join(names)}, "
        f"Signature={sign(SK, DATE, canonical)}"
    )
    _refused(wire, f"must include '{required}'", headers=wire.with_header("authorization", value))


def test_refuses_signed_header_absent_from_request() -> None:
    wire = vector_a()
    _refused(wire, "'user-agent' is absent", headers=wire.with_header("user-agent", None))


def test_refuses_tampered_body() -> None:
    body = VECTOR_A_BODY.replace(b"d1", b"d2")
    _refused(vector_a(), "does not match", body=body)
    _refused(vector_a(), "does not match", body=b"")


def test_refuses_body_that_does_not_match_declared_hash() -> None:
    body = b'{"a": 1}'
    wire = sdk_signed(
        "POST",
        "/v1/p/x",
        headers={
            "Content-Type": "application/json",
            "X-Sdk-Content-Sha256": hashlib.sha256(body).hexdigest(),
        },
        body=body,
    )
    _refused(wire, "X-Sdk-Content-Sha256", body=b'{"a": 2}')


def test_refuses_tampered_query() -> None:
    wire = vector_b()
    _refused(wire, "does not match", raw_query="limit=1000&name=web%2001&status=SHUTOFF")
    _refused(wire, "does not match", raw_query=VECTOR_B_QUERY + "&all_tenants=1")
    _refused(wire, "does not match", raw_query="limit=10&status=SHUTOFF")


@pytest.mark.parametrize(
    "path",
    [
        f"/v1/{PROJECT}/cloudservers/detailx",
        f"/v1/{PROJECT}/cloudservers/detail/x",
        f"/v1/{PROJECT}/cloudservers",
        "/v1/ffff456789abcdef0123456789abcdef/cloudservers/detail",
    ],
)
def test_refuses_tampered_path(path: str) -> None:
    _refused(vector_b(), "does not match", raw_path=path)


def test_refuses_tampered_method() -> None:
    _refused(vector_b(), "does not match", method="DELETE")


def test_refuses_tampered_signed_header() -> None:
    wire = vector_a()
    _refused(wire, "does not match", headers=wire.with_header("x-project-id", "f" * 32))
    _refused(wire, "does not match", headers=wire.with_header("host", "evil.example.com"))


def test_refuses_tampered_signature() -> None:
    wire = vector_a()
    forged = wire.headers["authorization"][:-1] + ("0" if VECTOR_A_SIGNATURE[-1] != "0" else "1")
    _refused(wire, "does not match", headers=wire.with_header("authorization", forged))


def test_unsigned_headers_may_change() -> None:
    wire = vector_a()
    wire.verify(headers=wire.with_header("x-request-id", "anything"))


def test_uppercase_signature_is_accepted() -> None:
    wire = vector_a()
    value = wire.headers["authorization"].replace(VECTOR_A_SIGNATURE, VECTOR_A_SIGNATURE.upper())
    assert wire.verify(headers=wire.with_header("authorization", value)).signature == (
        VECTOR_A_SIGNATURE
    )


# --- building blocks -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw_path", "expected"),
    [
        ("/v1/p/jobs/j1", "/v1/p/jobs/j1/"),
        ("/v1/p/jobs/j1/", "/v1/p/jobs/j1/"),
        ("/", "/"),
        ("", "/"),
        ("/v1/a%2Fb/c", "/v1/a/b/c/"),
        ("/v1/a%2fb", "/v1/a/b/"),
        ("/v1/srv:01", "/v1/srv%3A01/"),
        ("/v1/srv%3a01", "/v1/srv%3A01/"),
        ("/v1/a%20b/a+b", "/v1/a%20b/a%2Bb/"),
        ("/v1/100%25", "/v1/100%25/"),
        ("/v1/-_.~", "/v1/-_.~/"),
        ("/v1/%7E", "/v1/~/"),
        ("/v1/caf%C3%A9", "/v1/caf%C3%A9/"),
        ("/v1/café", "/v1/caf%C3%A9/"),
        ("/v1//x", "/v1//x/"),
        ("/v1/x%2F", "/v1/x/"),
        ("/v1/!$&'()*,;=@", "/v1/%21%24%26%27%28%29%2A%2C%3B%3D%40/"),
    ],
)
def test_canonical_uri(raw_path: str, expected: str) -> None:
    assert canonical_uri(raw_path) == expected


@pytest.mark.parametrize(
    ("raw_query", "expected"),
    [
        ("", ""),
        ("a=1", "a=1"),
        ("b=2&a=1", "a=1&b=2"),
        ("k=b&k=a&j=z", "j=z&k=a&k=b"),
        ("a=", "a="),
        ("a", "a="),
        ("a=&b=1", "a=&b=1"),
        ("&&a=1&", "a=1"),
        ("name=a+b", "name=a%20b"),
        ("name=a%2Bb", "name=a%2Bb"),
        ("t=2015-08-27T09:49:58-05:00", "t=2015-08-27T09%3A49%3A58-05%3A00"),
        ("n=a%2fb", "n=a%2Fb"),
        ("x=a=b", "x=a%3Db"),
        ("q=caf%C3%A9", "q=caf%C3%A9"),
        ("B=1&a=1", "B=1&a=1"),
        ("a%20b=1", "a%20b=1"),
    ],
)
def test_canonical_query(raw_query: str, expected: str) -> None:
    assert canonical_query(raw_query) == expected


def test_payload_hash() -> None:
    assert EMPTY_PAYLOAD_SHA256 == hashlib.sha256(b"").hexdigest()
    assert payload_hash(b"", {"x-sdk-content-sha256": "UNSIGNED-PAYLOAD"}) == EMPTY_PAYLOAD_SHA256
    assert payload_hash(b"x", {"x-sdk-content-sha256": "UNSIGNED-PAYLOAD"}) == "UNSIGNED-PAYLOAD"
    assert payload_hash(b"x", {}) == hashlib.sha256(b"x").hexdigest()
    assert payload_hash(b"x", {"x-sdk-content-sha256": ""}) == hashlib.sha256(b"x").hexdigest()


def test_canonical_request_strips_header_values_and_refuses_missing_ones() -> None:
    headers = {"host": "  h.example  ", "x-sdk-date": DATE}
    canonical = canonical_request("get", "/a", "", headers, ["host", "x-sdk-date"], b"")
    assert canonical.split("\n")[:5] == ["GET", "/a/", "", "host:h.example", f"x-sdk-date:{DATE}"]
    with pytest.raises(SignatureError, match="absent"):
        canonical_request("GET", "/a", "", headers, ["host", "user-agent"], b"")


def test_parse_authorization() -> None:
    auth = parse_authorization(
        f"SDK-HMAC-SHA256 Access={AK}, SignedHeaders={SIGNED}, Signature={VECTOR_A_SIGNATURE}"
    )
    assert auth == Authorization(AK, tuple(SIGNED.split(";")), VECTOR_A_SIGNATURE)
    tight = parse_authorization(
        f"SDK-HMAC-SHA256 Signature={VECTOR_A_SIGNATURE},Access={AK},SignedHeaders=host"
    )
    assert tight == Authorization(AK, ("host",), VECTOR_A_SIGNATURE)


def test_parse_sdk_date() -> None:
    assert parse_sdk_date("20240229T235959Z") == datetime(2024, 2, 29, 23, 59, 59, tzinfo=UTC)
    with pytest.raises(SignatureError):
        parse_sdk_date("20230229T000000Z")
    with pytest.raises(SignatureError):
        parse_sdk_date("")


# --- sign_request ------------------------------------------------------------------------------


def test_sign_request_round_trips_through_verify() -> None:
    headers = {"Content-Type": "application/json", "X-Project-Id": PROJECT}
    body = b'{"os-stop": {"type": "SOFT"}}'
    url = f"http://127.0.0.1:8080/v1/{PROJECT}/cloudservers/action?b=2&a=x%20y"
    signed = sign_request(
        access_key=AK,
        secret_key=SK,
        method="POST",
        url=url,
        headers=headers,
        body=body,
        when=NOW,
    )
    assert headers == {"Content-Type": "application/json", "X-Project-Id": PROJECT}
    assert signed["Host"] == "127.0.0.1:8080"
    assert signed["X-Sdk-Date"] == DATE
    wire = Wire(
        "POST",
        f"/v1/{PROJECT}/cloudservers/action",
        "b=2&a=x%20y",
        {k.lower(): v for k, v in signed.items()},
        body,
    )
    auth = wire.verify()
    assert auth.signed_headers == ("content-type", "host", "x-project-id", "x-sdk-date")


def test_sign_request_matches_the_sdk_signer() -> None:
    for wire, signature in [(vector_a(), VECTOR_A_SIGNATURE), (vector_b(), VECTOR_B_SIGNATURE)]:
        query = f"?{wire.raw_query}" if wire.raw_query else ""
        signed = sign_request(
            access_key=AK,
            secret_key=SK,
            method=wire.method,
            url=f"https://ecs.example.com{wire.raw_path}{query}",
            headers={
                "Content-Type": wire.headers["content-type"],
                "User-Agent": wire.headers["user-agent"],
                "X-Project-Id": PROJECT,
            },
            body=wire.body,
            when=NOW,
        )
        assert signed["Authorization"] == wire.headers["authorization"]
        assert signed["Authorization"].endswith(signature)


def test_sign_request_replaces_date_and_authorization_and_keeps_host() -> None:
    signed = sign_request(
        access_key=AK,
        secret_key=SK,
        method="GET",
        url="https://internal:9000/v1/p/jobs/j1",
        headers={"host": "ecs.example.com", "x-sdk-date": "x", "authorization": "old"},
        body=b"",
        when=NOW + timedelta(hours=1),
    )
    assert signed["host"] == "ecs.example.com"
    assert "Host" not in signed and "x-sdk-date" not in signed and "authorization" not in signed
    assert signed["X-Sdk-Date"] == "20240101T010000Z"
    wire = Wire("GET", "/v1/p/jobs/j1", "", {k.lower(): v for k, v in signed.items()})
    wire.verify(now=NOW + timedelta(hours=1))


def test_sign_request_needs_an_aware_time() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        sign_request(
            access_key=AK,
            secret_key=SK,
            method="GET",
            url="https://h/",
            headers={},
            body=b"",
            when=datetime(2024, 1, 1),
        )


def test_module_exports() -> None:
    assert signing.ALGORITHM == "SDK-HMAC-SHA256"
    assert issubclass(SignatureError, Exception)
