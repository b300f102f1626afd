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
from coldshift.api.parsing import parse_model, query_str, raw_body
from coldshift.api.responses import JsonResponse
from coldshift.api.routes.servers import migrate_target
from coldshift.api.schemas import DrainBody, MigrateBody
from coldshift.api.views.servers import pool_alias
from coldshift.api.views.what_if import what_if_view
from coldshift.domain.commands import MigrateServer
from coldshift.domain.hosts import HostKind
from coldshift.services.drain import Drain, DrainDeh, drain
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


@router.post(
    "/v1/{project_id}/dedicated-hosts/{host_id}/drain",
    **doc.operation(Family.DEH, {200: r.Drain}, body=DrainBody),
)
def drain_dedicated_host(request: Request, project_id: str, host_id: str) -> Response:
    """Plan moving every server off the DeH onto ``targets`` and/or the pool, biggest first,
    NUMA and group rules honoured; unless ``dry_run``, run it as one drainDedicatedHost job
    (one sub-job per server, ``max_parallel`` at once; the DeH takes no new server until it
    ends). A plan that leaves servers behind is refused unless ``partial``."""
    body = parse_model(request, DrainBody)
    command = DrainDeh(
        project_id,
        host_id,
        targets=tuple(body.targets),
        to_pool=body.to_pool,
        dry_run=body.dry_run,
        restart=body.restart,
        partial=body.partial,
        max_parallel=body.max_parallel,
        admin=bool(request.state.project.admin),
    )
    return JsonResponse(_drain_view(drain(region_of(request), command)))


def _drain_view(found: Drain) -> dict[str, Any]:
    def name(server_id: str) -> str:
        server = found.servers.get(server_id)
        return server.name if server is not None else ""

    moves = []
    for move in found.plan.moves:
        server = found.servers[move.server_id]
        host = found.hosts[move.placement.host_id]
        shown = host.id if host.kind is HostKind.DEH else pool_alias(host.name)
        moves.append(
            {
                "server_id": server.id,
                "name": server.name,
                "flavor": server.flavor_id,
                "status": server.status,
                "restart": server.status == "ACTIVE",
                "to": move.to,
                "host": shown,
                "numa_nodes": list(move.placement.fit.node_indexes),
            }
        )
    return {
        "dedicated_host_id": found.host.id,
        "fits": found.plan.complete,
        "job_id": found.job_id,
        "max_parallel": found.max_parallel,
        "moves": moves,
        "left": [
            {"server_id": x.server_id, "name": name(x.server_id), "reason": x.reason}
            for x in found.plan.left
        ],
    }
