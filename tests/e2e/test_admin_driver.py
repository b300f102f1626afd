"""The admin API of the simulated driver: admin keys only, strict bodies, visible state."""

from __future__ import annotations

import pytest

from tests.e2e import admin, rawhttp
from tests.e2e.conftest import Region
from tests.e2e.harness import ADMIN, ALPHA, BETA

OPERATION = "/v1/admin/driver/operations/copy_disks"


@pytest.fixture(autouse=True)
def clean_driver(shared: Region) -> None:
    admin.reset(shared.url)


def test_show_lists_every_operation_with_its_state(shared: Region) -> None:
    ops = admin.operations(shared.url)
    assert {"copy_disks", "define_on_target", "cleanup_source", "confirm_migration"} <= set(ops)
    assert ops["copy_disks"] == {
        "operation": "copy_disks",
        "fail_next": 0,
        "hold_seconds": 0.0,
        "in_progress": 0,
        "calls": ops["copy_disks"]["calls"],
        "faultable": True,
    }
    assert ops["confirm_migration"]["faultable"] is False


def test_set_and_reset(shared: Region) -> None:
    state = admin.set_operation(shared.url, "copy_disks", fail_next=3, hold_seconds=2.5)
    assert (state["fail_next"], state["hold_seconds"]) == (3, 2.5)
    assert admin.operations(shared.url)["copy_disks"]["fail_next"] == 3
    admin.reset(shared.url)
    assert admin.operations(shared.url)["copy_disks"]["fail_next"] == 0


@pytest.mark.parametrize("creds", [ALPHA, BETA], ids=["alpha", "beta"])
@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/v1/admin/driver", b""),
        ("PUT", OPERATION, b'{"fail_next": 1}'),
        ("DELETE", "/v1/admin/driver/operations", b""),
    ],
)
def test_a_tenant_key_is_forbidden(
    shared: Region, creds: tuple[str, str, str], method: str, path: str, body: bytes
) -> None:
    response = rawhttp.signed(method, shared.url + path, creds, body)
    rawhttp.huawei_error(response, 403)
    assert admin.operations(shared.url)["copy_disks"]["fail_next"] == 0


BAD = {
    "negative": b'{"fail_next": -1}',
    "string-count": b'{"fail_next": "1"}',
    "float-count": b'{"fail_next": 1.5}',
    "negative-hold": b'{"hold_seconds": -1}',
    "hold-too-long": b'{"hold_seconds": 100000}',
    "boolean-hold": b'{"hold_seconds": false}',  # found by test_fuzz: was taken as 0
    "string-hold": b'{"hold_seconds": "2"}',
    "unknown-member": b'{"fail_nxt": 1}',
    "nothing": b"{}",
    "array": b"[]",
    "not-json": b"fail",
    "empty": b"",
}


@pytest.mark.parametrize("case", list(BAD))
def test_a_bad_body_is_refused_and_changes_nothing(shared: Region, case: str) -> None:
    before = admin.operations(shared.url)
    response = rawhttp.signed("PUT", shared.url + OPERATION, ADMIN, BAD[case])
    rawhttp.huawei_error(response, 400)
    after = admin.operations(shared.url)
    assert after == before


@pytest.mark.parametrize(
    ("operation", "body", "words"),
    [
        ("explode", b'{"fail_next": 1}', "unknown driver operation"),
        ("confirm_migration", b'{"fail_next": 1}', "cannot be made to fail"),
        ("restore_source", b'{"fail_next": 1}', "cannot be made to fail"),
    ],
)
def test_an_operation_that_cannot_take_the_fault_is_refused(
    shared: Region, operation: str, body: bytes, words: str
) -> None:
    response = rawhttp.signed(
        "PUT", f"{shared.url}/v1/admin/driver/operations/{operation}", ADMIN, body
    )
    assert words in rawhttp.huawei_error(response, 400, "Ecs.0005")


# ---- maintenance: what jobs left to clean up (issue 10) --------------------------------------


def test_maintenance_is_listed_for_admins_only(shared: Region) -> None:
    response = rawhttp.signed("GET", f"{shared.url}/v1/admin/maintenance", ADMIN)
    tasks = rawhttp.ok_json(response)["maintenance_tasks"]
    assert isinstance(tasks, list)
    assert all(t["done_at"] is None for t in tasks)  # pending ones only, by default
    everything = rawhttp.signed("GET", f"{shared.url}/v1/admin/maintenance?all=true", ADMIN)
    assert len(rawhttp.ok_json(everything)["maintenance_tasks"]) >= len(tasks)
    tenant = rawhttp.signed("GET", f"{shared.url}/v1/admin/maintenance", ALPHA)
    rawhttp.huawei_error(tenant, 403)


def test_a_bad_maintenance_filter_is_refused(shared: Region) -> None:
    response = rawhttp.signed("GET", f"{shared.url}/v1/admin/maintenance?all=maybe", ADMIN)
    assert "all must be true or false" in rawhttp.huawei_error(response, 400, "Ecs.0005")
