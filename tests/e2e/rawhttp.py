"""Raw HTTP against a region, signed exactly as the SDK signs: for what the SDK cannot send."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson

from coldshift.api.signing import sign_request

JSON_UTF8 = "application/json;charset=utf-8"
HUAWEI_CODE = re.compile(r"^(Ecs|Common|DEH|APIGW)\.\d{4}$")
# One client for the process: building an httpx.Client (its TLS context) costs ~50 ms. No
# keep-alive, so a restarted server on a reused port never meets a stale connection.
_CLIENT = httpx.Client(timeout=30, limits=httpx.Limits(max_keepalive_connections=0))


def signed_headers(
    method: str,
    url: str,
    creds: tuple[str, str, str],
    body: bytes = b"",
    headers: Mapping[str, str | None] | None = None,
    when: datetime | None = None,
) -> dict[str, str]:
    """The headers of a signed request; a ``None`` value in ``headers`` drops a default."""
    project_id, ak, sk = creds
    merged: dict[str, str | None] = {"Content-Type": JSON_UTF8, "X-Project-Id": project_id}
    merged.update(headers or {})
    plain = {k: v for k, v in merged.items() if v is not None}
    return sign_request(
        access_key=ak,
        secret_key=sk,
        method=method,
        url=url,
        headers=plain,
        body=body,
        when=when or datetime.now(UTC),
    )


def send(method: str, url: str, headers: Mapping[str, str], body: bytes = b"") -> httpx.Response:
    """Send as given: no signing, no extra headers beyond what httpx itself adds."""
    return _CLIENT.request(method, url, content=body, headers=dict(headers))


def signed(
    method: str,
    url: str,
    creds: tuple[str, str, str],
    body: bytes = b"",
    headers: Mapping[str, str | None] | None = None,
    when: datetime | None = None,
) -> httpx.Response:
    """One request signed with ``creds`` = (project_id, ak, sk)."""
    return send(method, url, signed_headers(method, url, creds, body, headers, when), body)


def dumps(value: Any) -> bytes:
    return orjson.dumps(value)


def ok_json(response: httpx.Response) -> Any:
    assert response.status_code < 300, (response.status_code, response.text)
    return response.json()


def huawei_error(response: httpx.Response, status: int, code: str | None = None) -> str:
    """Assert an ECS/DeH error ``{"error": {"code", "message"}}``; return the message."""
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers.get("x-request-id"), response.headers
    assert response.headers["content-type"].startswith("application/json")
    error = response.json()["error"]
    assert HUAWEI_CODE.match(error["code"]), error
    if code is not None:
        assert error["code"] == code, error
    assert isinstance(error["message"], str) and error["message"].strip(), error
    return str(error["message"])


def nova_error(response: httpx.Response, status: int, fault: str) -> str:
    """Assert a Nova error ``{"<fault>": {"code": <int>, "message"}}``; return the message."""
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers.get("x-request-id"), response.headers
    body = response.json()
    assert list(body) == [fault], body
    assert body[fault]["code"] == status and type(body[fault]["code"]) is int, body
    message = body[fault]["message"]
    assert isinstance(message, str) and message.strip(), body
    return str(message)
