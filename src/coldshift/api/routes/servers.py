"""ECS v1/v1.1: create, show, list, batch actions, delete."""

from __future__ import annotations

import hashlib
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from coldshift.api import openapi as doc
from coldshift.api import response_models as r
from coldshift.api.deps import base_url, region_of
from coldshift.api.errors import Family
from coldshift.api.listing import V1_FILTERS, V11_FILTERS, list_v1, list_v11, requested_ids
from coldshift.api.parsing import FieldErrors, parse_json, parse_model, raw_body
from coldshift.api.responses import JsonResponse
from coldshift.api.schemas import (
    BatchActionBody,
    CreateServersBody,
    DeleteServersBody,
    MigrateBody,
)
from coldshift.api.views.servers import (
    EXPECT_FIELDS,
    cloud_server,
    server_detail,
    unknown_server,
)
from coldshift.domain.commands import CreateServers, MigrateServer
from coldshift.domain.errors import (
    BadRequest,
    DescriptionInvalid,
    MalformedBody,
    ServerNameInvalid,
    ServerNameTooLong,
    TooManyServers,
)
from coldshift.domain.servers import Server
from coldshift.services import migration
from coldshift.services import servers as svc
from coldshift.services.context import Region

router = APIRouter()
ECS = Family.ECS

_CREATE_DOC = doc.operation(
    ECS,
    {200: r.ServersCreated, 202: "dry_run: the request would be accepted; nothing is created"},
    body=CreateServersBody,
    parameters=[
        doc.header("X-Client-Token", {"type": "string"}, "idempotency token, at most 128 chars")
    ],
)

_CREATE_FIELD_ERRORS: FieldErrors = {
    (("server", "count"), "less_than_equal"): TooManyServers,
    (("server", "name"), "string_too_long"): ServerNameTooLong,
    (("server", "name"), "string_pattern_mismatch"): ServerNameInvalid,
    (("server", "description"), None): DescriptionInvalid,
}


def _command(
    project_id: str, body: CreateServersBody, client_token: str | None, raw_body: bytes
) -> CreateServers:
    spec = body.server
    hints = spec.scheduler_hints
    return CreateServers(
        project_id=project_id,
        name=spec.name,
        flavor_id=spec.flavor_ref,
        image_ref=spec.image_ref,
        vpc_id=spec.vpcid,
        subnet_ids=tuple(n.subnet_id for n in spec.nics),
        root_volume_type=spec.root_volume.volumetype,
        root_volume_size=spec.root_volume.size or 40,
        data_volumes=tuple((v.volumetype, v.size) for v in spec.data_volumes),
        count=spec.count,
        availability_zone=spec.availability_zone,
        tenancy=hints.tenancy if hints else None,
        dedicated_host_id=hints.dedicated_host_id if hints else None,
        group_id=hints.group if hints else None,
        metadata=dict(spec.metadata),
        tags=tuple(spec.tags),
        description=spec.description,
        key_name=spec.key_name,
        dry_run=body.dry_run,
        client_token=client_token,
        body_hash=hashlib.sha256(raw_body).hexdigest(),
    )


def _create(request: Request, project_id: str) -> Response:
    body = parse_model(request, CreateServersBody, _CREATE_FIELD_ERRORS)
    if (
        body.server.scheduler_hints
        and body.server.scheduler_hints.group
        and body.server.scheduler_hints.dedicated_host_id
    ):
        raise BadRequest("os:scheduler_hints.group cannot be combined with dedicated_host_id")
    token = request.headers.get("x-client-token") or None
    if token is not None and len(token) > 128:
        raise BadRequest("X-Client-Token must be at most 128 characters")
    command = _command(project_id, body, token, raw_body(request))
    submitted = svc.create_servers(region_of(request), command)
    if body.dry_run:
        return Response(status_code=202)
    return JsonResponse({"job_id": submitted.job_id, "serverIds": list(submitted.server_ids)})


@router.post("/v1/{project_id}/cloudservers", **_CREATE_DOC)
def create_post_paid_servers(request: Request, project_id: str) -> Response:
    return _create(request, project_id)


@router.post("/v1.1/{project_id}/cloudservers", **_CREATE_DOC)
def create_servers(request: Request, project_id: str) -> Response:
    return _create(request, project_id)


@router.get(
    "/v1/{project_id}/cloudservers/detail",
    **doc.operation(
        ECS,
        {200: r.ServerDetailList},
        parameters=[
            doc.query("server_id", {"type": "string"}, "ids joined by ','; other filters ignored"),
            *doc.text_queries(*V1_FILTERS),
            doc.limit_query(1000, minimum=0),
            doc.query("offset", {"type": "integer", "minimum": 0, "maximum": 10**9}),
            doc.query("marker", {"type": "string"}, empty_is_absent=False),
        ],
    ),
)
def list_servers_details(request: Request, project_id: str) -> Response:
    region = region_of(request)
    wanted = requested_ids(request)
    if wanted is not None:
        return _servers_by_id(region, region.queries.project_servers(project_id), wanted)
    page, count = list_v1(request, region.queries, project_id)
    hosts = region.queries.hosts_of(page)
    return JsonResponse(
        {
            "count": count,
            "servers": [
                server_detail(s, region.flavor(s.flavor_id), hosts.get(s.host_id or ""))
                for s in page
            ],
        }
    )


def _servers_by_id(region: Region, servers: list[Server], wanted: list[str]) -> Response:
    """Each id answers: a known server in full, an unknown (or foreign) one as an entry with
    only ``id`` and ``fault``, exactly alike."""
    by_id = {s.id: s for s in servers}
    found = [by_id[i] for i in wanted if i in by_id]
    hosts = region.queries.hosts_of(found)
    entries = [
        server_detail(
            by_id[i], region.flavor(by_id[i].flavor_id), hosts.get(by_id[i].host_id or "")
        )
        if i in by_id
        else unknown_server(i, region.clock())
        for i in wanted
    ]
    return JsonResponse({"count": len(entries), "servers": entries})


@router.get(
    "/v1.1/{project_id}/cloudservers/detail",
    **doc.operation(
        ECS,
        {200: r.CloudServerList},
        parameters=[
            *doc.text_queries(*V11_FILTERS),
            doc.query("marker", {"type": "string"}, empty_is_absent=False),
            doc.limit_query(100),
            doc.query(
                "expect-fields",
                # Names it does not know are ignored, as Huawei does.
                {
                    "type": "array",
                    "items": {"anyOf": [{"enum": sorted(EXPECT_FIELDS)}, {"type": "string"}]},
                },
                "optional members to add to each server",
            ),
        ],
    ),
)
def list_cloud_servers(request: Request, project_id: str) -> Response:
    region = region_of(request)
    page, more, limit = list_v11(request, region.queries, project_id)
    expect = frozenset(request.query_params.getlist("expect-fields")) & EXPECT_FIELDS
    hosts = region.queries.hosts_of(page)
    links: list[dict[str, Any]] = []
    if more and page:
        href = (
            f"{base_url(request)}/v1.1/{project_id}/cloudservers/detail"
            f"?limit={limit}&marker={page[-1].id}"
        )
        links.append({"rel": "next", "href": href})
    return JsonResponse(
        {
            "servers": [
                cloud_server(s, region.flavor(s.flavor_id), hosts.get(s.host_id or ""), expect)
                for s in page
            ],
            "servers_links": links,
            "request_id": request.state.request_id,
        }
    )


@router.get("/v1/{project_id}/cloudservers/{server_id}", **doc.operation(ECS, {200: r.ServerShow}))
def show_server(request: Request, project_id: str, server_id: str) -> Response:
    region = region_of(request)
    server, host = region.queries.server_and_host(project_id, server_id)
    return JsonResponse({"server": server_detail(server, region.flavor(server.flavor_id), host)})


@router.post(
    "/v1/{project_id}/cloudservers/action",
    **doc.operation(ECS, {200: r.JobAccepted}, body=BatchActionBody),
)
def batch_action(request: Request, project_id: str) -> Response:
    body = parse_model(request, BatchActionBody)
    given = [
        (name, spec)
        for name, spec in (
            ("start", body.os_start),
            ("stop", body.os_stop),
            ("reboot", body.reboot),
        )
        if spec is not None
    ]
    if len(given) != 1:
        raise BadRequest("the body must hold exactly one of os-start, os-stop, reboot")
    action, spec = given[0]
    options = {"type": getattr(spec, "type", "SOFT")}
    submitted = svc.batch_action(
        region_of(request), project_id, action, [s.id for s in spec.servers], options
    )
    return JsonResponse({"job_id": submitted.job_id})


@router.post(
    "/v1/{project_id}/cloudservers/delete",
    **doc.operation(ECS, {200: r.JobAccepted}, body=DeleteServersBody),
)
def delete_servers(request: Request, project_id: str) -> Response:
    body = parse_model(request, DeleteServersBody)
    submitted = svc.batch_action(
        region_of(request), project_id, "delete", [s.id for s in body.servers]
    )
    return JsonResponse({"job_id": submitted.job_id})


@router.post(
    "/v1/{project_id}/cloudservers/{server_id}/migrate",
    # An empty body, like {} and {"migrate": null}, moves the ECS to the public pool.
    **doc.operation(ECS, {200: r.JobAccepted}, body=MigrateBody, body_required=False),
)
def migrate_server(request: Request, project_id: str, server_id: str) -> Response:
    # api.hot_routes answers this path before the route table is consulted; the route stays
    # for the OpenAPI description and for any caller of the bare router.
    return JsonResponse(migrate(region_of(request), project_id, server_id, raw_body(request)))


def migrate(region: Region, project_id: str, server_id: str, body: bytes) -> dict[str, str]:
    """What ``POST .../migrate`` answers (refusals raise, with nothing changed)."""
    command = MigrateServer(project_id, server_id, migrate_target(body))
    return {"job_id": migration.migrate_server(region, command)}


def migrate_target(body: bytes) -> str | None:
    """The target DeH of a migrate body, or None for the public pool (api.md §2.1: an empty
    body, ``{}``, ``{"migrate": null}`` and ``{"migrate": {}}`` all mean the pool)."""
    if not body.strip():
        return None
    data = parse_json(body)
    if not isinstance(data, dict):
        raise MalformedBody('the body must be a JSON object such as {"migrate": {...}}')
    order = data.get("migrate")
    if order is None:
        return None
    if not isinstance(order, dict):
        raise MalformedBody(
            "migrate must be an object (with an optional dedicated_host_id) or null, "
            f"not {type(order).__name__}"
        )
    if "dedicated_host_id" not in order:
        return None
    host_id = order["dedicated_host_id"]
    if not isinstance(host_id, str) or not host_id.strip():
        raise MalformedBody(
            "migrate.dedicated_host_id must be the non-empty id of a dedicated host; "
            "leave it out to move the ECS to the public pool"
        )
    return host_id
