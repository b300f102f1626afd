"""Flavors and availability zones (ECS v1 and Nova-native)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from coldshift.api import openapi as doc
from coldshift.api import response_models as r
from coldshift.api.deps import base_url, region_of
from coldshift.api.errors import Family
from coldshift.api.listing import page_by_marker
from coldshift.api.parsing import query_int, query_str
from coldshift.api.responses import JsonResponse
from coldshift.api.views.flavors import flavor_view

router = APIRouter()
_NOVA_ZONES = doc.operation(Family.NOVA, {200: r.NovaZoneList})


@router.get(
    "/v1/{project_id}/cloudservers/flavors",
    **doc.operation(
        Family.ECS,
        {200: r.FlavorList},
        parameters=[
            *doc.text_queries("availability_zone", "flavor_id", "marker"),
            doc.limit_query(1000),
        ],
    ),
)
def list_flavors(request: Request, project_id: str) -> Response:
    catalog = region_of(request).catalog
    az = query_str(request, "availability_zone")
    flavor_id = query_str(request, "flavor_id")
    flavors = [f for f in catalog.flavors if flavor_id is None or f.id == flavor_id]
    if az is not None and az not in catalog.availability_zones:
        flavors = []
    limit = query_int(request, "limit", 1000, 1, 1000)
    page, _ = page_by_marker(flavors, query_str(request, "marker"), limit, lambda f: f.id)
    url = base_url(request)
    return JsonResponse(
        {"flavors": [flavor_view(f, url, project_id, catalog.availability_zones) for f in page]}
    )


@router.get(
    "/v1/{project_id}/availability-zones",
    **doc.operation(Family.ECS, {200: r.AvailabilityZoneList}),
)
def list_server_az_info(request: Request, project_id: str) -> Response:
    zones = region_of(request).catalog.availability_zones
    return JsonResponse(
        {
            "availability_zones": [
                {
                    "availability_zone_id": z,
                    "type": "core",
                    "mode": "single",
                    "public_border_group": "",
                    "alias": z,
                    "az_group_ids": [],
                    "category": 0,
                }
                for z in zones
            ]
        }
    )


@router.get("/v2.1/{project_id}/os-availability-zone", **_NOVA_ZONES)
@router.get("/v2/{project_id}/os-availability-zone", **_NOVA_ZONES)
def nova_list_availability_zones(request: Request, project_id: str) -> Response:
    zones = region_of(request).catalog.availability_zones
    return JsonResponse(
        {
            "availabilityZoneInfo": [
                {"zoneName": z, "zoneState": {"available": True}, "hosts": None} for z in zones
            ]
        }
    )
