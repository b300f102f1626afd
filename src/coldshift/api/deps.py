"""What routes take from the request: the region and the caller's project."""

from __future__ import annotations

from starlette.requests import Request

from coldshift.domain.hosts import Host
from coldshift.services.context import Region


def region_of(request: Request) -> Region:
    region: Region = request.app.state.region
    return region


def base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def hosts_by_id(region: Region, host_ids: set[str]) -> dict[str, Host]:
    if not host_ids:
        return {}
    return {h.id: h for h in region.store.list_hosts(host_ids=sorted(host_ids))}
