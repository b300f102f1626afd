"""The client side of the operator commands: signed HTTP requests to a running region.

Requests are signed as the official SDK signs them (``api.signing.sign_request``, the same
code the region verifies with), over httpx: the SDK is a development dependency only, and
the CLI must work where it is not installed. Credentials come from the SDK's own
environment variables; the exit codes are operations.md's.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import httpx

from coldshift.api.signing import sign_request

DEFAULT_ENDPOINT = "http://127.0.0.1:8080"

#: operations.md's exit codes
OK, FAILED, REFUSED, UNREACHABLE = 0, 1, 2, 3


class CliError(Exception):
    """Ends the command with ``exit_code`` after printing ``message`` (one line)."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class ApiError(CliError):
    """The region answered with an error: its code and message, as the API gave them."""

    def __init__(self, status: int, code: str, message: str) -> None:
        # 4xx: the request was refused (bad usage); 5xx: it ran and failed
        super().__init__(f"{code}: {message}", REFUSED if status < 500 else FAILED)
        self.status, self.code, self.message = status, code, message


@dataclass(frozen=True, slots=True)
class Credentials:
    endpoint: str
    access_key: str
    secret_key: str
    project_id: str


def credentials(
    endpoint: str | None, ak: str | None, sk: str | None, project: str | None
) -> Credentials:
    missing = [
        name
        for name, value in (
            ("--ak / HUAWEICLOUD_SDK_AK", ak),
            ("--sk / HUAWEICLOUD_SDK_SK", sk),
            ("--project-id / HUAWEICLOUD_SDK_PROJECT_ID", project),
        )
        if not value
    ]
    if missing:
        raise CliError(f"missing credentials: {', '.join(missing)}", REFUSED)
    assert ak and sk and project
    return Credentials((endpoint or DEFAULT_ENDPOINT).rstrip("/"), ak, sk, project)


class Client:
    """One region, one project's key."""

    def __init__(self, creds: Credentials, timeout: float = 30.0) -> None:
        self.creds = creds
        self._http = httpx.Client(timeout=timeout)

    def close(self) -> None:
        self._http.close()

    def get(self, path: str, **query: str | int | None) -> Any:
        wanted = {k: v for k, v in query.items() if v is not None}
        return self.call("GET", path + (f"?{urlencode(wanted)}" if wanted else ""))

    def post(self, path: str, body: dict[str, Any] | None = None) -> Any:
        return self.call("POST", path, body)

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        """``path`` may hold ``{project_id}``; the answer's JSON (None for an empty body)."""
        url = self.creds.endpoint + path.replace("{project_id}", self.creds.project_id)
        payload = json.dumps(body).encode() if body is not None else b""
        headers = sign_request(
            access_key=self.creds.access_key,
            secret_key=self.creds.secret_key,
            method=method,
            url=url,
            headers={
                "Content-Type": "application/json;charset=utf-8",
                "X-Project-Id": self.creds.project_id,
            },
            body=payload,
            when=datetime.now(UTC),
        )
        try:
            response = self._http.request(method, url, content=payload, headers=headers)
        except httpx.TransportError as exc:
            raise CliError(
                f"cannot reach the region at {self.creds.endpoint}: {exc or type(exc).__name__}"
                " (is `coldshift serve` running? set --endpoint or COLDSHIFT_ENDPOINT)",
                UNREACHABLE,
            ) from exc
        if response.status_code >= 400:
            raise _api_error(response)
        return response.json() if response.content else None


def _api_error(response: httpx.Response) -> ApiError:
    """Huawei's ``{"error": {"code", "message"}}``, or the older/Nova shapes, or the status."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        inner = body.get("error") if isinstance(body.get("error"), dict) else body
        if isinstance(inner, dict):
            code = inner.get("code") or inner.get("error_code")
            message = inner.get("message") or inner.get("error_msg")
            if code or message:
                return ApiError(response.status_code, str(code), str(message))
        for value in body.values():  # Nova: {"badRequest": {"code": 400, "message": ...}}
            if isinstance(value, dict) and "message" in value:
                return ApiError(response.status_code, str(value.get("code")), value["message"])
    return ApiError(response.status_code, f"HTTP {response.status_code}", response.text[:200])
