"""DeH v1.0: allocate, list, show, update, release, servers on a DeH, host types, quota."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from coldshift.api import openapi as doc
from coldshift.api import response_models as r
from coldshift.api.deps import queries_of, region_of
from coldshift.api.errors import Family
from coldshift.api.listing import page_by_marker
from coldshift.api.parsing import parse_model, query_int, query_str
from coldshift.api.responses import JsonResponse
from coldshift.api.schemas import AllocateHostsBody, UpdateHostBody
from coldshift.api.views.hosts import dedicated_host, host_type_brief, host_type_full
from coldshift.api.views.servers import deh_server
from coldshift.domain.commands import AllocateHosts
from coldshift.domain.errors import Forbidden
from coldshift.domain.hosts import Host, HostState
from coldshift.services import hosts as svc
from coldshift.services.context import Region

router = APIRouter()
PREFIX = "/v1.0/{project_id}"
DEH = Family.DEH
_PAGE = [doc.query("marker", {"type": "string"}), doc.limit_query(1000)]


@router.post(
    PREFIX + "/dedicated-hosts",
    **doc.operation(DEH, {200: r.HostsAllocated}, body=AllocateHostsBody),
)
def create_dedicated_host(request: Request, project_id: str) -> Response:
    body = parse_model(request, AllocateHostsBody)
    ids = svc.allocate_hosts(
        region_of(request),
        AllocateHosts(
            project_id=project_id,
            name=body.name,
            availability_zone=body.availability_zone,
            host_type=body.host_type,
            quantity=body.quantity,
            auto_placement=body.auto_placement,
            tags={t.key: t.value for t in body.tags},
        ),
    )
    return JsonResponse({"dedicated_host_ids": ids, "job_id": None})


_FILTERS = (
    "dedicated_host_id",
    "name",
    "host_type",
    "host_type_name",
    "flavor",
    "state",
    "availability_zone",
    "changes-since",
)


def _matches(request: Request, region: Region, host: Host) -> bool:
    q = {k: query_str(request, k) for k in _FILTERS}
    if q["state"] is None and q["changes-since"] is None and host.state is HostState.RELEASED:
        return False
    host_type = region.catalog.host_type(host.host_type)
    checks = [
        q["dedicated_host_id"] in (None, host.id),
        q["name"] in (None, host.name),
        q["host_type"] in (None, host.host_type),
        q["state"] in (None, host.state.value),
        q["availability_zone"] in (None, host.availability_zone),
        q["host_type_name"] is None
        or (host_type is not None and host_type.host_type_name == q["host_type_name"]),
        q["flavor"] is None or (host_type is not None and host_type.supports(q["flavor"])),
    ]
    return all(checks)


@router.get(
    PREFIX + "/dedicated-hosts",
    **doc.operation(
        DEH,
        {200: r.DedicatedHostList},
        parameters=[
            *doc.text_queries(*_FILTERS, "instance_uuid"),
            doc.query("tenant", {"type": "string"}, "another project (admin only), or all"),
            *_PAGE,
        ],
    ),
)
def list_dedicated_hosts(request: Request, project_id: str) -> Response:
    region = region_of(request)
    tenant = query_str(request, "tenant")
    if tenant not in (None, project_id) and not request.state.project.admin:
        raise Forbidden("only an admin may list another tenant's dedicated hosts")
    owner = None if tenant == "all" else (tenant or project_id)
    hosts = (
        [
            h
            for h in region.queries.project_dehs(owner, include_released=True)
            if _matches(request, region, h)
        ]
        if owner
        else [h for h in region.queries.all_dehs() if _matches(request, region, h)]
    )
    instance = query_str(request, "instance_uuid")
    on_host = region.queries.instance_ids_by_host(h.id for h in hosts)
    if instance is not None:
        hosts = [h for h in hosts if instance in on_host.get(h.id, [])]
    limit = query_int(request, "limit", 1000, 1, 1000)
    page, _ = page_by_marker(hosts, query_str(request, "marker"), limit, lambda h: h.id)
    return JsonResponse(
        {
            "dedicated_hosts": [
                dedicated_host(h, region.catalog, on_host.get(h.id), with_uuids=False) for h in page
            ],
            "total": len(hosts),
        }
    )


@router.get(
    PREFIX + "/dedicated-hosts/{dedicated_host_id}",
    **doc.operation(DEH, {200: r.DedicatedHostShow}),
)
def show_dedicated_host(request: Request, project_id: str, dedicated_host_id: str) -> Response:
    region = region_of(request)
    host = region.queries.deh(project_id, dedicated_host_id)
    on_host = region.queries.instance_ids_by_host([host.id])
    return JsonResponse(
        {
            "dedicated_host": dedicated_host(
                host, region.catalog, on_host.get(host.id), with_uuids=True
            )
        }
    )


@router.put(
    PREFIX + "/dedicated-hosts/{dedicated_host_id}",
    **doc.operation(DEH, {204: "updated"}, body=UpdateHostBody),
)
def update_dedicated_host(request: Request, project_id: str, dedicated_host_id: str) -> Response:
    body = parse_model(request, UpdateHostBody)
    svc.update_host(
        region_of(request),
        project_id,
        dedicated_host_id,
        body.dedicated_host.name,
        body.dedicated_host.auto_placement,
    )
    return Response(status_code=204)


@router.delete(
    PREFIX + "/dedicated-hosts/{dedicated_host_id}", **doc.operation(DEH, {204: "released"})
)
def delete_dedicated_host(request: Request, project_id: str, dedicated_host_id: str) -> Response:
    svc.release_host(region_of(request), project_id, dedicated_host_id)
    return Response(status_code=204)


@router.get(
    PREFIX + "/dedicated-hosts/{dedicated_host_id}/servers",
    **doc.operation(DEH, {200: r.DehServerList}, parameters=_PAGE),
)
def list_servers_dedicated_host(
    request: Request, project_id: str, dedicated_host_id: str
) -> Response:
    servers = queries_of(request).deh_servers(project_id, dedicated_host_id)
    limit = query_int(request, "limit", 1000, 1, 1000)
    page, _ = page_by_marker(servers, query_str(request, "marker"), limit, lambda s: s.id)
    return JsonResponse({"servers": [deh_server(s) for s in page]})


@router.get(
    PREFIX + "/availability-zone/{availability_zone}/dedicated-host-types",
    **doc.operation(DEH, {200: r.HostTypeBriefList}, parameters=_PAGE),
)
def list_dedicated_host_types(
    request: Request, project_id: str, availability_zone: str
) -> Response:
    catalog = region_of(request).catalog
    types = list(catalog.host_types) if availability_zone in catalog.availability_zones else []
    limit = query_int(request, "limit", 1000, 1, 1000)
    page, _ = page_by_marker(types, query_str(request, "marker"), limit, lambda t: t.host_type)
    return JsonResponse({"dedicated_host_types": [host_type_brief(t) for t in page]})


@router.get(
    PREFIX + "/dedicated-host-types",
    **doc.operation(
        DEH,
        {200: r.HostTypeFullList},
        parameters=[*doc.text_queries("flavor", "availability_zone", "host_type"), *_PAGE],
    ),
)
def list_dedicated_host_all_types(request: Request, project_id: str) -> Response:
    catalog = region_of(request).catalog
    flavor, az = query_str(request, "flavor"), query_str(request, "availability_zone")
    wanted = query_str(request, "host_type")
    types = [
        t
        for t in catalog.host_types
        if (flavor is None or t.supports(flavor))
        and wanted in (None, t.host_type)
        and (az is None or az in catalog.availability_zones)
    ]
    limit = query_int(request, "limit", 1000, 1, 1000)
    page, more = page_by_marker(types, query_str(request, "marker"), limit, lambda t: t.host_type)
    return JsonResponse(
        {
            "dedicated_host_types": [host_type_full(t, catalog) for t in page],
            "page_info": {"next_marker": page[-1].host_type if more and page else None},
        }
    )


@router.get(
    PREFIX + "/quota-sets/{tenant_id}",
    **doc.operation(DEH, {200: r.QuotaSet}, parameters=doc.text_queries("resource")),
)
def show_quota_sets(request: Request, project_id: str, tenant_id: str) -> Response:
    if tenant_id != project_id and not request.state.project.admin:
        raise Forbidden("only an admin may read another tenant's quota")
    lines = queries_of(request).quota(tenant_id, query_str(request, "resource"))
    return JsonResponse(
        {
            "quota_set": [
                {"resource": q.resource, "hard_limit": q.hard_limit, "used": q.used} for q in lines
            ]
        }
    )
