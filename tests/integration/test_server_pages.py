"""Pages of a server listing read in SQL are exactly the slices of the whole listing."""

from __future__ import annotations

import itertools
import time

import pytest

from coldshift.domain.errors import InvalidMarker
from coldshift.domain.servers import Server
from coldshift.persistence.db import Database
from coldshift.persistence.region_store import SqlRegionStore
from coldshift.persistence.rows import server_to_values
from coldshift.persistence.tables import servers
from coldshift.services.ports import ServerColumns

PROJECT, OTHER = "p-pages", "p-other"


def _server(index: int, project: str) -> Server:
    return Server(
        id=f"srv-{index:03d}-{project}",
        project_id=project,
        name=f"vm-{index}",
        flavor_id=("s6.small.1", "s6.large.2")[index % 2],
        availability_zone=("az-1", "az-2", "az-3")[index % 3],
        vm_state="stopped",
        task_state=None,
        power_state=4,
        locked=False,
        host_id=None,
        tenancy="shared",
        dedicated_host_id=None,
        image_ref=("img-a", "img-b")[index % 5 == 0],
        vpc_id="vpc-1",
        details={},
        # Four servers share each instant: the id must break the ties, in SQL and in paging.
        created_at=1_700_000_000.25 + index // 4,
        updated_at=1_700_000_000.25,
        launched_at=None,
    )


@pytest.fixture
def store(db: Database) -> SqlRegionStore:
    made = [_server(i, p) for i in range(30) for p in (PROJECT, OTHER)]
    with db.write() as conn:
        conn.execute(servers.insert(), [server_to_values(s) for s in made])
    return SqlRegionStore(db, time.time)


def _matches(store: SqlRegionStore, where: ServerColumns) -> list[Server]:
    wanted = {
        "flavor_id": where.flavor_id,
        "image_ref": where.image_ref,
        "id": where.server_id,
        "availability_zone": where.availability_zone,
    }
    return [
        s
        for s in store.list_servers(PROJECT)
        if all(v is None or getattr(s, k) == v for k, v in wanted.items())
    ]


FILTERS = [
    ServerColumns(),
    ServerColumns(flavor_id="s6.large.2"),
    ServerColumns(image_ref="img-b", availability_zone="az-2"),
    ServerColumns(server_id=f"srv-007-{PROJECT}"),
    ServerColumns(flavor_id="no-such-flavor"),
]


@pytest.mark.parametrize("where", FILTERS)
def test_offset_pages_are_slices_of_the_listing_and_count_all_matches(
    store: SqlRegionStore, where: ServerColumns
) -> None:
    matches = _matches(store, where)
    for limit, offset in itertools.product((1, 3, 7, 100), (0, 2, 5, 29, 40)):
        page = store.page_servers(PROJECT, where, limit=limit, offset=offset, with_total=True)
        assert page.servers == matches[offset : offset + limit]
        assert page.more == (offset + limit < len(matches))
        assert page.total == len(matches)


@pytest.mark.parametrize("where", FILTERS)
def test_following_markers_walks_every_match_once_in_order(
    store: SqlRegionStore, where: ServerColumns
) -> None:
    matches = _matches(store, where)
    for limit in (1, 3, 4, 100):
        walked: list[Server] = []
        marker = None
        for _ in range(len(matches) + 1):  # bounded: a marker that loops must fail, not hang
            page = store.page_servers(PROJECT, where, limit=limit, after=marker)
            walked.extend(page.servers)
            if not page.more:
                break
            marker = page.servers[-1].id
        assert walked == matches
        assert page.total is None


@pytest.mark.parametrize(
    ("where", "marker"),
    [
        (ServerColumns(), "srv-999"),
        (ServerColumns(), f"srv-001-{OTHER}"),  # another project's server
        (ServerColumns(flavor_id="s6.large.2"), f"srv-002-{PROJECT}"),  # not a match
        (ServerColumns(), "srv-\x00"),
        (ServerColumns(), ""),
    ],
)
def test_a_marker_that_names_no_match_is_refused(
    store: SqlRegionStore, where: ServerColumns, marker: str
) -> None:
    with pytest.raises(InvalidMarker):
        store.page_servers(PROJECT, where, limit=5, after=marker)
