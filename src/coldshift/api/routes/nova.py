"""Nova-native v2.1 (and /v2 alias): show server, and the server actions coldshift supports."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from coldshift.api.deps import base_url, region_of
from coldshift.api.parsing import json_body
from coldshift.api.responses import JsonResponse
from coldshift.api.views.servers import nova_server
from coldshift.domain.errors import BadRequest, MalformedBody
from coldshift.services import servers as svc

router = APIRouter()

_ACTIONS = ("os-start", "os-stop", "lock", "unlock")


@router.get("/v2.1/{project_id}/servers/{server_id}")
@router.get("/v2/{project_id}/servers/{server_id}")
def nova_show_server(request: Request, project_id: str, server_id: str) -> Response:
    region = region_of(request)
    server = region.server(project_id, server_id)
    host = region.store.get_host(server.host_id) if server.host_id else None
    return JsonResponse(
        {"server": nova_server(server, region.flavor(server.flavor_id), host, base_url(request))}
    )


@router.post("/v2.1/{project_id}/servers/{server_id}/action")
@router.post("/v2/{project_id}/servers/{server_id}/action")
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
