"""The admin API of the simulated driver, through signed raw HTTP (the SDKs have no such API)."""

from __future__ import annotations

from typing import Any

from tests.e2e import rawhttp
from tests.e2e.harness import ADMIN


def driver(url: str) -> dict[str, Any]:
    response = rawhttp.signed("GET", f"{url}/v1/admin/driver", ADMIN)
    return dict(rawhttp.ok_json(response)["driver"])


def maintenance(url: str) -> list[dict[str, Any]]:
    """The clean-ups jobs left that are still pending."""
    response = rawhttp.signed("GET", f"{url}/v1/admin/maintenance", ADMIN)
    return list(rawhttp.ok_json(response)["maintenance_tasks"])


def operations(url: str) -> dict[str, Any]:
    response = rawhttp.signed("GET", f"{url}/v1/admin/driver", ADMIN)
    return {o["operation"]: o for o in rawhttp.ok_json(response)["driver"]["operations"]}


def set_operation(url: str, operation: str, **values: Any) -> Any:
    response = rawhttp.signed(
        "PUT", f"{url}/v1/admin/driver/operations/{operation}", ADMIN, rawhttp.dumps(values)
    )
    return rawhttp.ok_json(response)["operation"]


def fail_next(url: str, operation: str, count: int = 1) -> Any:
    return set_operation(url, operation, fail_next=count)


def hold(url: str, operation: str, seconds: float = 600.0) -> Any:
    """Every call of ``operation`` now waits (up to ``seconds``) until released."""
    return set_operation(url, operation, hold_seconds=seconds)


def release(url: str, operation: str) -> Any:
    return set_operation(url, operation, hold_seconds=0)


def in_progress(url: str, operation: str) -> int:
    return int(operations(url)[operation]["in_progress"])


def reset(url: str) -> None:
    response = rawhttp.signed("DELETE", f"{url}/v1/admin/driver/operations", ADMIN)
    assert response.status_code == 204, response.text
