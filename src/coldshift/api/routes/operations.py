"""coldshift's operator extensions (docs/api-extensions.md): the migration what-if, the
hosts' NUMA occupancy, and drains. Huawei's APIs have none of them; the SDK never calls them."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from coldshift.api import openapi as doc
from coldshift.api import response_models as r
from coldshift.api.deps import region_of
from coldshift.api.errors import Family
from coldshift.api.parsing import query_str, raw_body
from coldshift.api.responses import JsonResponse
from coldshift.api.routes.servers import migrate_target
from coldshift.api.schemas import MigrateBody
from coldshift.api.views.what_if import what_if_view
from coldshift.domain.commands import MigrateServer
from coldshift.services.occupancy import HostOccupancy, occupancy
from coldshift.services.what_if import what_if

router = APIRouter()


@router.post(
    "/v1/{project_id}/cloudservers/{server_id}/migrate/what-if",
    **doc.operation(Family.ECS, {200: r.WhatIf}, body=MigrateBody, body_required=False),
)
def migrate_server_what_if(request: Request, project_id: str, server_id: str) -> Response:
    """The migrate call's body, checks and placement decision; nothing is claimed or recorded.
    A request the migration would refuse is refused alike (same status, code and words)."""
    target = migrate_target(raw_body(request))
    command = MigrateServer(project_id, server_id, target)
    return JsonResponse(what_if_view(what_if(region_of(request), command)))


@router.get(
    "/v1/{project_id}/hosts",
    **doc.operation(
        Family.ECS,
        {200: r.HostOccupancyList},
        parameters=[doc.query("availability_zone", {"type": "string"})],
    ),
)
def list_host_occupancy(request: Request, project_id: str) -> Response:
    """The project's DeHs, each NUMA node with its capacity and servers; an admin's key sees
    every host, the public pool's too (by name)."""
    admin = bool(request.state.project.admin)
    az = query_str(request, "availability_zone")
    found = occupancy(region_of(request), project_id, every_host=admin, az=az)
    return JsonResponse({"hosts": [_host_view(h) for h in found]})


def _host_view(found: HostOccupancy) -> dict[str, Any]:
    host = found.host
    unplaced = [o for o in found.occupants if not o.nodes]
    return {
        "id": host.id,
        "name": host.name,
        "kind": host.kind.value,
        "availability_zone": host.availability_zone,
        "host_type": host.host_type,
        "state": host.state.value,
        "project_id": host.project_id,
        "numa_nodes": [
            {
                "node": n.index,
                "vcpus": n.vcpus_total,
                "memory": n.memory_total,
                "available_vcpus": n.vcpus_free,
                "available_memory": n.memory_free,
                "servers": [_server(o.server) for o in found.occupants if n.index in o.nodes],
            }
            for n in host.nodes
        ],
        "unplaced_servers": [_server(o.server) for o in unplaced],
    }


def _server(server: Any) -> dict[str, Any]:
    return {
        "id": server.id,
        "name": server.name,
        "status": server.status,
        "flavor": server.flavor_id,
        "project_id": server.project_id,
    }
