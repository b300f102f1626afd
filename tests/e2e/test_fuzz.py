"""Schemathesis against a real `coldshift serve`, from the region's own /openapi.json.

Every operation gets positive cases (what the description allows) and negative ones (what it
does not), each signed as the SDK signs; the answers must never be 5xx and must match the
description: a documented status, its content type and its body schema. Path parameters are the
caller's project and, in part of the cases, real objects (a stopped server on a DeH, a job, a
driver operation) so that cases get past the 403s and 404s.

The run is bounded and repeatable: a fixed number of examples per operation and mode,
derandomized, no example database, no shrinking (the first failure of an operation is reported
with a curl command that reproduces it).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import hypothesis
import pytest
import requests
import schemathesis
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Err
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from coldshift.api.signing import sign_request
from tests.e2e import admin, sdk
from tests.e2e.conftest import Region
from tests.e2e.harness import ADMIN, ALPHA

# Query parameters that make a negative case no negative case at all; the rest of the
# operation's parameters are still negated.
NOT_IN_NEGATIVE_CASES = {
    # api.md §2.5: beside server_id every other query parameter is ignored, so a bad one is
    # rightly not refused.
    "GET /v1/{project_id}/cloudservers/detail": "server_id",
    # Any text is a valid expect-fields (unknown names are ignored, as Huawei does), but
    # schemathesis "negates" it with a number, whose text in a query string is text again.
    "GET /v1.1/{project_id}/cloudservers/detail": "expect-fields",
}
EXAMPLES = 20  # per operation and generation mode
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
]
SETTINGS = hypothesis.settings(
    max_examples=EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
    suppress_health_check=list(hypothesis.HealthCheck),
)


Operation = schemathesis.APIOperation[Any, Any, Any, Any]
Case = schemathesis.Case[Any]


class SdkSignature(requests.auth.AuthBase):
    """Signs the request as it will go out (final URL, headers and body), as huaweicloudsdkcore
    does."""

    def __init__(self, creds: tuple[str, str, str]) -> None:
        self.creds = creds

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        project_id, ak, sk = self.creds
        body = request.body or b""
        assert isinstance(body, bytes | str), "schemathesis sends whole bodies"
        # Every header is signed, as the SDK signs every header it sets; the server refuses
        # some (X-Client-Token) unsigned.
        signed = {name: _text(value) for name, value in request.headers.items()}
        signed["X-Project-Id"] = project_id
        request.headers.update(
            sign_request(
                access_key=ak,
                secret_key=sk,
                method=request.method or "GET",
                url=request.url or "",
                headers=signed,
                body=body.encode() if isinstance(body, str) else body,
                when=datetime.now(UTC),
            )
        )
        return request


def _text(value: str | bytes) -> str:
    return value if isinstance(value, str) else value.decode("latin-1")


@dataclass
class Tally:
    statuses: Counter[int] = field(default_factory=Counter)
    failures: dict[str, str] = field(default_factory=dict)


def real_ids(region: Region) -> dict[str, str]:
    """Path parameter values that name objects ALPHA really has: a stopped server on a DeH, so
    that a migration to the pool is accepted and the DeH cannot be released."""
    [host_id] = sdk.allocate(region.deh(), quantity=1)
    [server_id] = sdk.stopped_servers(
        region.ecs(), name="fuzzed", tenancy="dedicated", dedicated_host_id=host_id
    )
    job_id = sdk.stop(region.ecs(), server_id).job_id  # a job of ALPHA's, ended
    assert sdk.wait_job(region.ecs(), job_id).status == "SUCCESS"
    return {
        "project_id": ALPHA[0],
        "tenant_id": ALPHA[0],
        "server_id": server_id,
        "job_id": job_id,
        "dedicated_host_id": host_id,
        "server_group_id": sdk.create_group(region.ecs(), "fuzzed").id,
        "availability_zone": "az-a",
        "operation": sorted(admin.operations(region.url))[0],
    }


def case_strategy(
    operation: Operation, mode: GenerationMode, real: dict[str, str]
) -> st.SearchStrategy[Case]:
    """Cases with the caller's project (others stop at 403) and, for half, real objects."""
    names = {p.name for p in operation.path_parameters}
    own = {k: v for k, v in real.items() if k == "project_id" and k in names}
    known = {k: v for k, v in real.items() if k in names}
    cases = st.one_of(
        operation.as_strategy(generation_mode=mode, path_parameters=own),
        operation.as_strategy(generation_mode=mode, path_parameters=known),
    )
    left_out = NOT_IN_NEGATIVE_CASES.get(operation.label)
    if mode is GenerationMode.NEGATIVE and left_out is not None:
        return cases.filter(lambda case: left_out not in (case.query or {}))
    return cases


def negatable(operation: Operation) -> bool:
    """Whether negative cases exist: path parameters and headers are any string here, and a
    string has no wrong value."""
    return bool(len(operation.query) or len(operation.body))


def fuzz_operation(
    operation: Operation, mode: GenerationMode, real: dict[str, str], tally: Tally
) -> None:
    creds = ADMIN if operation.path.startswith("/v1/admin/") else ALPHA
    signature = SdkSignature(creds)

    @SETTINGS
    @hypothesis.given(case=case_strategy(operation, mode, real))
    def run(case: Case) -> None:
        response = case.call(auth=signature, timeout=30)
        tally.statuses[response.status_code] += 1
        case.validate_response(response, checks=CHECKS)

    try:
        run()
    # Schemathesis raises a FailureGroup (a BaseExceptionGroup) when several checks fail.
    except (Exception, BaseExceptionGroup) as exc:
        tally.failures[f"{mode.value} {operation.label}"] = str(exc)


def operations_of(schema: schemathesis.BaseSchema) -> list[Operation]:
    found = []
    for result in schema.get_all_operations():
        assert not isinstance(result, Err), f"/openapi.json describes an operation badly: {result}"
        found.append(result.ok())
    return found


def destructive_last(operation: Operation) -> bool:
    # Releasing the DeH or deleting the server first would turn the rest into 404s.
    return operation.method.upper() == "DELETE" or operation.path.endswith("/delete")


@pytest.fixture
def fuzzed_region(region: Region) -> Iterator[Region]:
    yield region
    admin.reset(region.url)  # releases held driver operations, so the server stops promptly


def test_no_operation_answers_5xx_or_outside_its_description(fuzzed_region: Region) -> None:
    schema = schemathesis.openapi.from_url(fuzzed_region.url + "/openapi.json")
    real = real_ids(fuzzed_region)
    operations = sorted(operations_of(schema), key=destructive_last)
    tally = Tally()
    for operation in operations:
        fuzz_operation(operation, GenerationMode.POSITIVE, real, tally)
    for operation in filter(negatable, operations):
        fuzz_operation(operation, GenerationMode.NEGATIVE, real, tally)
    cases = sum(tally.statuses.values())
    print(f"fuzzed {len(operations)} operations, {cases} cases, {sorted(tally.statuses.items())}")
    # Most cases must get past the signature check, or the run proves nothing.
    assert tally.statuses[401] < cases / 10, tally.statuses
    assert not tally.failures, "\n\n".join(f"== {k}\n{v}" for k, v in tally.failures.items())
