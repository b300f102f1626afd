"""Nova-native v2.1 (and /v2 alias): show server, and the server actions coldshift supports."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from coldshift.api import openapi as doc
from coldshift.api import response_models as r
from coldshift.api.deps import base_url, region_of
from coldshift.api.errors import Family
from coldshift.api.parsing import json_body
from coldshift.api.responses import JsonResponse
from coldshift.api.views.flavors import extra_specs
from coldshift.api.views.servers import nova_server
from coldshift.domain.errors import BadRequest, MalformedBody
from coldshift.services import servers as svc

router = APIRouter()

_ACTIONS = ("os-start", "os-stop", "lock", "unlock")
MIN_MICROVERSION = (2, 1)
MAX_MICROVERSION = (2, 60)

# Any text is sent on to microversion(); the enums name the ones that change the view.
_VERSION_HEADERS = [
    doc.header(
        "X-OpenStack-Nova-API-Version",
        {"anyOf": [{"enum": ["2.1", "2.3", "2.16", "2.26", "2.47", "latest"]}, {"type": "string"}]},
        "a microversion from 2.1 to 2.60, or latest",
    ),
    doc.header(
        "OpenStack-API-Version",
        {"anyOf": [{"enum": ["compute 2.19", "compute latest"]}, {"type": "string"}]},
        "compute and a microversion; wins over X-OpenStack-Nova-API-Version",
    ),
]
_SHOW = doc.operation(Family.NOVA, {200: r.NovaServerShow}, parameters=_VERSION_HEADERS)
# Exactly one action, whose value is an object or null.
_ACTION_BODY = {
    "oneOf": [
        {
            "type": "object",
            "properties": {action: {"type": ["object", "null"]}},
            "required": [action],
            "maxProperties": 1,
        }
        for action in _ACTIONS
    ]
}
_ACTION = doc.operation(Family.NOVA, {202: "the action is under way"}, body=_ACTION_BODY)


def microversion(request: Request) -> tuple[int, int]:
    """``OpenStack-API-Version: compute 2.x`` (wins) or ``X-OpenStack-Nova-API-Version: 2.x``;
    2.1 when neither names one; ``latest`` is the highest supported (api.md §3.1, §3.4)."""
    value = None
    header = request.headers.get("openstack-api-version")
    if header is not None:
        service, _, rest = header.strip().partition(" ")
        if service.lower() == "compute":
            value = rest.strip()
    if value is None:
        value = request.headers.get("x-openstack-nova-api-version")
    if value is None:
        return MIN_MICROVERSION
    if value.strip().lower() == "latest":
        return MAX_MICROVERSION
    major, dot, minor = value.strip().partition(".")
    if not (dot and major.isdigit() and minor.isdigit()):
        raise BadRequest(f"invalid API version request {value!r}; expected e.g. 2.47")
    version = (int(major), int(minor))
    if not MIN_MICROVERSION <= version <= MAX_MICROVERSION:
        raise BadRequest(f"API version {value} is not supported; supported: 2.1 to 2.60")
    return version


@router.get("/v2.1/{project_id}/servers/{server_id}", **_SHOW)
@router.get("/v2/{project_id}/servers/{server_id}", **_SHOW)
def nova_show_server(request: Request, project_id: str, server_id: str) -> Response:
    version = microversion(request)
    region = region_of(request)
    server, host = region.queries.server_and_host(project_id, server_id)
    flavor = region.flavor(server.flavor_id)
    specs = extra_specs(flavor, region.catalog.availability_zones)
    return JsonResponse(
        {"server": nova_server(server, flavor, host, base_url(request), version, specs)}
    )


@router.post("/v2.1/{project_id}/servers/{server_id}/action", **_ACTION)
@router.post("/v2/{project_id}/servers/{server_id}/action", **_ACTION)
def nova_server_action(request: Request, project_id: str, server_id: str) -> Response:
    body = json_body(request)
    if not isinstance(body, dict) or len(body) != 1:
        raise MalformedBody("the action body must be a JSON object with exactly one action")
    action, argument = next(iter(body.items()))
    if action not in _ACTIONS:
        raise BadRequest(f"unsupported server action {action!r}; supported: {', '.join(_ACTIONS)}")
    if argument is not None and not isinstance(argument, dict):
        raise BadRequest(f"the value of {action} must be an object or null")
    region = region_of(request)
    if action in ("lock", "unlock"):
        svc.set_locked(region, project_id, server_id, action == "lock")
    else:
        svc.native_power_action(region, project_id, server_id, action.removeprefix("os-"))
    return Response(status_code=202)
