"""ECS groups: the ECS v1 API (``/v1/{project_id}/cloudservers/os-server-groups``, what the
official SDK calls) and the Nova-native one (``/v2.1/{project_id}/os-server-groups``).

Bodies are checked here for their shape; what they ask for is decided in services.groups.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from coldshift.api import openapi as doc
from coldshift.api import response_models as r
from coldshift.api.deps import region_of
from coldshift.api.errors import Family
from coldshift.api.parsing import json_body, query_int, query_str
from coldshift.api.responses import JsonResponse
from coldshift.api.views.servers import USER_ID
from coldshift.domain.errors import MalformedBody
from coldshift.domain.groups import MAX_MEMBERS, MAX_NAME, ServerGroup
from coldshift.services import groups as svc

router = APIRouter()

V1 = "/v1/{project_id}/cloudservers/os-server-groups"
NOVA_PATHS = ("/v2.1/{project_id}/os-server-groups", "/v2/{project_id}/os-server-groups")

_UUID = {"type": "string", "minLength": 1}
_CREATE_BODY = {
    "type": "object",
    "properties": {
        "server_group": {
            "type": "object",
            "properties": {
                "name": {"type": "string", "minLength": 1, "maxLength": MAX_NAME},
                "policies": {"type": "array", "items": {"enum": ["anti-affinity"]}},
            },
            "required": ["name", "policies"],
        }
    },
    "required": ["server_group"],
}
_MEMBER = {"type": "object", "properties": {"instance_uuid": _UUID}, "required": ["instance_uuid"]}
_ACTION_BODY = {
    "oneOf": [
        {"type": "object", "properties": {key: _MEMBER}, "required": [key], "maxProperties": 1}
        for key in ("add_member", "remove_member")
    ]
}
_BATCH_BODY = {
    "type": "object",
    "properties": {
        "server_ids": {"type": "array", "items": _UUID, "minItems": 1, "maxItems": MAX_MEMBERS}
    },
    "required": ["server_ids"],
}
_V1_LIST_QUERY = [doc.query("marker", {"type": "string"}), doc.limit_query(1000)]
_NOVA_LIST_QUERY = [doc.limit_query(1000), doc.query("offset", {"type": "integer", "minimum": 0})]


# ---- the ECS v1 API -------------------------------------------------------------------------


@router.post(V1, **doc.operation(Family.ECS, {200: r.ServerGroupShow}, body=_CREATE_BODY))
def create_server_group(request: Request, project_id: str) -> Response:
    group = _create(request, project_id)
    return JsonResponse({"server_group": _group_view(group)})


@router.get(V1, **doc.operation(Family.ECS, {200: r.ServerGroupList}, parameters=_V1_LIST_QUERY))
def list_server_groups(request: Request, project_id: str) -> Response:
    limit = query_int(request, "limit", 1000, 1, 1000)
    page = svc.list_groups(region_of(request), project_id, limit, query_str(request, "marker"))
    body: dict[str, Any] = {"server_groups": [_group_view(g) for g in page.groups]}
    if page.more:
        body["page_info"] = {"next_marker": page.groups[-1].id}
    return JsonResponse(body)


@router.get(V1 + "/{server_group_id}", **doc.operation(Family.ECS, {200: r.ServerGroupShow}))
def show_server_group(request: Request, project_id: str, server_group_id: str) -> Response:
    group = svc.show_group(region_of(request), project_id, server_group_id)
    return JsonResponse({"server_group": _group_view(group)})


@router.delete(V1 + "/{server_group_id}", **doc.operation(Family.ECS, {204: "deleted"}))
def delete_server_group(request: Request, project_id: str, server_group_id: str) -> Response:
    svc.delete_group(region_of(request), project_id, server_group_id)
    return Response(status_code=204)


@router.post(
    V1 + "/{server_group_id}/action",
    **doc.operation(Family.ECS, {200: "the ECS joined or left the group"}, body=_ACTION_BODY),
)
def server_group_action(request: Request, project_id: str, server_group_id: str) -> Response:
    body = json_body(request)
    if not isinstance(body, dict) or len(body) != 1:
        raise MalformedBody('the body must be {"add_member": ...} or {"remove_member": ...}')
    action, member = next(iter(body.items()))
    if action not in ("add_member", "remove_member"):
        raise MalformedBody(f"unknown action {action!r}: add_member or remove_member")
    server_id = member.get("instance_uuid") if isinstance(member, dict) else None
    if not isinstance(server_id, str) or not server_id:
        raise MalformedBody(f"{action}.instance_uuid must be a non-empty string")
    change = svc.add_members if action == "add_member" else svc.remove_members
    change(region_of(request), project_id, server_group_id, [server_id])
    return Response(status_code=200)


_BATCH_DOC = doc.operation(Family.ECS, {200: r.MembersChanged}, body=_BATCH_BODY)


@router.post(V1 + "/{server_group_id}/add_members", **_BATCH_DOC)
def batch_add_server_group_member(
    request: Request, project_id: str, server_group_id: str
) -> Response:
    server_ids = _server_ids(request)
    svc.add_members(region_of(request), project_id, server_group_id, server_ids)
    return JsonResponse(_batch_view(server_ids))


@router.post(V1 + "/{server_group_id}/remove_members", **_BATCH_DOC)
def batch_delete_server_group_member(
    request: Request, project_id: str, server_group_id: str
) -> Response:
    server_ids = _server_ids(request)
    svc.remove_members(region_of(request), project_id, server_group_id, server_ids)
    return JsonResponse(_batch_view(server_ids))


# ---- the Nova-native API --------------------------------------------------------------------

_NOVA_CREATE = doc.operation(Family.NOVA, {200: r.NovaServerGroupShow}, body=_CREATE_BODY)
_NOVA_LIST = doc.operation(Family.NOVA, {200: r.NovaServerGroupList}, parameters=_NOVA_LIST_QUERY)
_NOVA_SHOW = doc.operation(Family.NOVA, {200: r.NovaServerGroupShow})
_NOVA_DELETE = doc.operation(Family.NOVA, {204: "deleted"})


def nova_create_server_group(request: Request, project_id: str) -> Response:
    group = _create(request, project_id)
    return JsonResponse({"server_group": _nova_view(group)})


def nova_list_server_groups(request: Request, project_id: str) -> Response:
    limit = query_int(request, "limit", 1000, 1, 1000)
    offset = query_int(request, "offset", 0, 0, 2**31 - 1)
    groups = svc.list_groups(region_of(request), project_id).groups[offset : offset + limit]
    return JsonResponse({"server_groups": [_nova_view(g) for g in groups]})


def nova_show_server_group(request: Request, project_id: str, server_group_id: str) -> Response:
    group = svc.show_group(region_of(request), project_id, server_group_id)
    return JsonResponse({"server_group": _nova_view(group)})


def nova_delete_server_group(request: Request, project_id: str, server_group_id: str) -> Response:
    svc.delete_group(region_of(request), project_id, server_group_id)
    return Response(status_code=204)


for _path in NOVA_PATHS:
    router.post(_path, **_NOVA_CREATE)(nova_create_server_group)
    router.get(_path, **_NOVA_LIST)(nova_list_server_groups)
    router.get(_path + "/{server_group_id}", **_NOVA_SHOW)(nova_show_server_group)
    router.delete(_path + "/{server_group_id}", **_NOVA_DELETE)(nova_delete_server_group)


# ---- bodies and views -----------------------------------------------------------------------


def _create(request: Request, project_id: str) -> ServerGroup:
    body = json_body(request)
    spec = body.get("server_group") if isinstance(body, dict) else None
    if not isinstance(spec, dict):
        raise MalformedBody('the body must be {"server_group": {"name": ..., "policies": [...]}}')
    return svc.create_group(region_of(request), project_id, spec.get("name"), spec.get("policies"))


def _server_ids(request: Request) -> list[str]:
    body = json_body(request)
    ids = body.get("server_ids") if isinstance(body, dict) else None
    if not isinstance(ids, list) or not all(isinstance(i, str) and i for i in ids):
        raise MalformedBody('the body must be {"server_ids": ["<ECS id>", ...]}')
    return ids


def _group_view(group: ServerGroup) -> dict[str, Any]:
    return {
        "id": group.id,
        "name": group.name,
        "policies": [group.policy],
        "members": list(group.members),
        "metadata": {},
    }


def _nova_view(group: ServerGroup) -> dict[str, Any]:
    return _group_view(group) | {"project_id": group.project_id, "user_id": USER_ID}


def _batch_view(server_ids: list[str]) -> dict[str, Any]:
    # All or nothing (a refusal answers 4xx): every server named succeeded.
    results = [{"status": "success", "server_id": s, "fail_reason": ""} for s in server_ids]
    return {"status": "success", "servers": results}
