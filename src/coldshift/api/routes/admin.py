"""The admin API (admin keys only, see auth.py): control of the simulated hypervisor."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from coldshift.api import openapi as doc
from coldshift.api import response_models as r
from coldshift.api.deps import region_of
from coldshift.api.errors import Family
from coldshift.api.parsing import parse_model, query_bool
from coldshift.api.responses import JsonResponse
from coldshift.api.schemas import DriverOperationBody
from coldshift.api.views.timefmt import millis_z
from coldshift.drivers.base import OperationState
from coldshift.jobs.model import MaintenanceTask
from coldshift.services import admin

router = APIRouter()


def _view(state: OperationState) -> dict[str, Any]:
    return asdict(state)


@router.get("/v1/admin/driver", **doc.operation(Family.ECS, {200: r.DriverShow}))
def show_driver(request: Request) -> Response:
    region = region_of(request)
    operations = admin.driver_operations(region)
    return JsonResponse(
        {
            "driver": {
                "kind": region.catalog.driver.kind,
                "operations": [_view(o) for o in operations],
                "hosts": [asdict(h) for h in admin.driver_hosts(region)],
            }
        }
    )


@router.put(
    "/v1/admin/driver/operations/{operation}",
    **doc.operation(Family.ECS, {200: r.DriverOperationShow}, body=DriverOperationBody),
)
def set_driver_operation(request: Request, operation: str) -> Response:
    body = parse_model(request, DriverOperationBody)
    state = admin.set_driver_operation(
        region_of(request), operation, body.fail_next, body.hold_seconds
    )
    return JsonResponse({"operation": _view(state)})


@router.delete(
    "/v1/admin/driver/operations",
    **doc.operation(Family.ECS, {204: "every fault and hold is cleared"}),
)
def reset_driver(request: Request) -> Response:
    admin.reset_driver(region_of(request))
    return Response(status_code=204)


def _task_view(task: MaintenanceTask) -> dict[str, Any]:
    return {
        "id": task.id,
        "job_id": task.job.id,
        "job_type": task.job.job_type,
        "server_id": task.job.entities.get("server_id"),
        "step": task.step,
        "work": task.work.value,
        "attempts": task.attempts,
        "last_error": task.last_error,
        "created_at": millis_z(task.created_at),
        "next_attempt_at": millis_z(task.next_attempt_at),
        "done_at": millis_z(task.done_at) if task.done_at is not None else None,
    }


@router.get("/v1/admin/maintenance", **doc.operation(Family.ECS, {200: r.MaintenanceList}))
def list_maintenance(request: Request) -> Response:
    """What jobs left to clean up; pending ones only unless ``all=true``."""
    everything = bool(query_bool(request, "all"))
    tasks = admin.maintenance_tasks(region_of(request), pending_only=not everything)
    return JsonResponse({"maintenance_tasks": [_task_view(t) for t in tasks]})
