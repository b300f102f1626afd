"""What routes take from the request: the region, its read side and the caller's project."""

from __future__ import annotations

from starlette.requests import Request

from coldshift.services.context import Region
from coldshift.services.queries import Queries


def region_of(request: Request) -> Region:
    region: Region = request.app.state.region
    return region


def queries_of(request: Request) -> Queries:
    return region_of(request).queries


def base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/")
