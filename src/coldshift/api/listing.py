"""Filters and paging of server listings (api.md §2.5, §2.6)."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import TypeVar

from starlette.requests import Request

from coldshift.api.parsing import query_int, query_str
from coldshift.domain.errors import BadRequest, InvalidMarker
from coldshift.domain.servers import Server, status_filter_matches
from coldshift.services.queries import Queries, ServerColumns

T = TypeVar("T")


def _name_matcher(pattern: str | None) -> Callable[[str], bool]:
    if pattern is None:
        return lambda _: True
    try:
        compiled = re.compile(pattern)
    except re.error as exc:
        raise BadRequest(f"query parameter name is not a valid pattern: {exc}") from exc
    return lambda name: compiled.search(name) is not None


def _tags_ok(server: Server, tags: str | None, not_tags: str | None) -> bool:
    have = set(server.details.get("tags", []))
    if tags is not None and tags not in have:
        return False
    return not (not_tags is not None and not_tags in have)


MAX_SERVER_IDS = 100


def requested_ids(request: Request) -> list[str] | None:
    """``server_id=a,b,c``: when given, every other filter is ignored (api.md §2.5)."""
    ids = query_str(request, "server_id")
    if ids is None:
        return None
    wanted = list(dict.fromkeys(i.strip() for i in ids.split(",") if i.strip()))
    if len(wanted) > MAX_SERVER_IDS:
        raise BadRequest(f"server_id lists {len(wanted)} ids; at most {MAX_SERVER_IDS}")
    return wanted


def filter_v1(request: Request, servers: list[Server]) -> list[Server]:
    name = _name_matcher(query_str(request, "name"))
    flavor, status = query_str(request, "flavor"), query_str(request, "status")
    ip, ip_eq = query_str(request, "ip"), query_str(request, "ip_eq")
    reservation = query_str(request, "reservation_id")
    tags, not_tags = query_str(request, "tags"), query_str(request, "not-tags")
    return [
        s
        for s in servers
        if name(s.name)
        and (flavor is None or s.flavor_id == flavor)
        and (status is None or status_filter_matches(status, s.status, s.vm_state))
        and (ip is None or ip in s.details.get("ip", ""))
        and (ip_eq is None or s.details.get("ip") == ip_eq)
        and (reservation is None or f"r-{s.id[:8]}" == reservation)
        and _tags_ok(s, tags, not_tags)
    ]


def filter_v11(request: Request, servers: list[Server]) -> list[Server]:
    name = _name_matcher(query_str(request, "name"))
    status, flavor = query_str(request, "status"), query_str(request, "flavor_name")
    server_id, image = query_str(request, "id"), query_str(request, "image_id")
    az, az_eq = query_str(request, "availability_zone"), query_str(request, "availability_zone_eq")
    tags, not_tags = query_str(request, "tags"), query_str(request, "not-tags")
    return [
        s
        for s in servers
        if name(s.name)
        and (status is None or status_filter_matches(status, s.status, s.vm_state))
        and (flavor is None or s.flavor_id == flavor)
        and (server_id is None or s.id == server_id)
        and (image is None or s.image_ref == image)
        and (az is None or az in s.availability_zone)
        and (az_eq is None or s.availability_zone == az_eq)
        and _tags_ok(s, tags, not_tags)
    ]


def page_v1(request: Request, matches: list[Server]) -> list[Server]:
    """``marker`` (last id of the previous page) wins over ``offset`` (a page number, 0 ≡ 1)."""
    limit = _v1_limit(request)
    marker = request.query_params.get("marker")
    if marker is not None:
        return page_by_marker(matches, marker, limit, lambda s: s.id)[0]
    start = _v1_start(request, limit)
    return matches[start : start + limit]


def _v1_limit(request: Request) -> int:
    return query_int(request, "limit", 25, 0, 1000) or 25


def _v1_start(request: Request, limit: int) -> int:
    page = max(1, query_int(request, "offset", 1, 0, 10**9))
    return (page - 1) * limit


# Every filter each listing reads (filter_v1, filter_v11; the routes document these), and
# those that are a plain column equality (query parameter → ServerColumns field): only these
# can be filtered in SQL.
V1_FILTERS = ("name", "flavor", "status", "ip", "ip_eq", "reservation_id", "tags", "not-tags")
_V1_COLUMNS = {"flavor": "flavor_id"}
V11_FILTERS = (
    "name",
    "status",
    "flavor_name",
    "id",
    "image_id",
    "availability_zone",
    "availability_zone_eq",
    "tags",
    "not-tags",
)
_V11_COLUMNS = {
    "flavor_name": "flavor_id",
    "id": "server_id",
    "image_id": "image_ref",
    "availability_zone_eq": "availability_zone",
}


def _column_filters(
    request: Request, filters: Sequence[str], columns: Mapping[str, str]
) -> ServerColumns | None:
    """The request's filters as column equalities, or None when one of them is not one."""
    values: dict[str, str] = {}
    for name in filters:
        value = query_str(request, name)
        if value is None:
            continue
        # NUL is refused before routing; were one to arrive, PostgreSQL would refuse it.
        if name not in columns or "\x00" in value:
            return None
        values[columns[name]] = value
    return ServerColumns(**values)


def list_v1(request: Request, queries: Queries, project_id: str) -> tuple[list[Server], int]:
    """The page of the v1 listing and how many servers match: a bounded query when the
    filters allow, else the whole project filtered and paged in memory."""
    columns = _column_filters(request, V1_FILTERS, _V1_COLUMNS)
    if columns is None:
        matches = filter_v1(request, queries.project_servers(project_id))
        return page_v1(request, matches), len(matches)
    limit = _v1_limit(request)
    marker = request.query_params.get("marker")
    start = 0 if marker is not None else _v1_start(request, limit)
    found = queries.server_page(
        project_id, columns, limit=limit, offset=start, after=marker, with_total=True
    )
    return found.servers, found.total or 0


def list_v11(request: Request, queries: Queries, project_id: str) -> tuple[list[Server], bool, int]:
    """The page of the v1.1 listing, whether more follow, and the page size."""
    columns = _column_filters(request, V11_FILTERS, _V11_COLUMNS)
    marker = request.query_params.get("marker")
    if columns is None:
        # Filtered before the limit is read: a bad name pattern is the error reported first.
        matches = filter_v11(request, queries.project_servers(project_id))
        limit = _v11_limit(request)
        page, more = page_by_marker(matches, marker, limit, lambda s: s.id)
        return page, more, limit
    limit = _v11_limit(request)
    found = queries.server_page(project_id, columns, limit=limit, after=marker)
    return found.servers, found.more, limit


def _v11_limit(request: Request) -> int:
    return query_int(request, "limit", 10, 1, 100)


def page_by_marker(
    items: Sequence[T], marker: str | None, limit: int, key: Callable[[T], str]
) -> tuple[list[T], bool]:
    """The ``limit`` items after ``marker``, and whether more follow. Unknown marker: 400."""
    start = 0
    if marker is not None:
        for index, item in enumerate(items):
            if key(item) == marker:
                start = index + 1
                break
        else:
            raise InvalidMarker(marker)
    page = list(items[start : start + limit])
    return page, start + limit < len(items)
