"""The public pool's capacity index against a real database shared by several processes.

A "process" here is its own ``PoolCapacity`` (and ``Region``) on the shared database, as with
several ``coldshift serve`` on one PostgreSQL. Each test checks the index's decisions against
``choose_host`` over a fresh read of the database, which is what placement did before the index.
"""

from __future__ import annotations

import random
import time

import pytest

from coldshift.catalog import load_default_catalog
from coldshift.domain.catalog import Catalog, Flavor
from coldshift.domain.hosts import HostKind
from coldshift.drivers.simulated import SimulatedDriver
from coldshift.persistence.db import Database
from coldshift.persistence.invariants import check
from coldshift.persistence.job_store import SqlJobStore
from coldshift.persistence.region_store import SqlRegionStore
from coldshift.placement import HostView, Placement, Strategy, choose_host, host_view, numa_request
from coldshift.services.claims import PUBLIC_POOL, NoCapacity, claim_room
from coldshift.services.context import Region
from coldshift.services.region_setup import sync_public_pool

AZ = "local-1a"
# On the shipped catalog's s6 pool hosts (4 per AZ, 2 NUMA nodes of 40 vCPUs):
BIG = "s6.16xlarge.2"  # 2 x 32 vCPUs: one per host
HALF_NODE = "s6.4xlarge.2"  # 16 vCPUs in one node
FLAVORS = ["s6.large.2", "s6.xlarge.2", "s6.2xlarge.2", HALF_NODE, "s6.8xlarge.2", BIG]


class QuietNotifier:
    def notify(self, count: int = 1) -> None:
        pass


def process(db: Database, catalog: Catalog) -> Region:
    """A process as bootstrap builds and prepares it: its index read at start."""
    store = SqlRegionStore(db, time.time)
    driver = SimulatedDriver(catalog.driver.simulated)
    jobs = SqlJobStore(db, time.time)
    region = Region(catalog, store, driver, QuietNotifier(), time.time, jobs)
    region.pool.rebuild(store)
    return region


@pytest.fixture
def catalog(db: Database) -> Catalog:
    catalog = load_default_catalog()
    sync_public_pool(SqlRegionStore(db, time.time), catalog, time.time())
    return catalog


def place(region: Region, server_id: str, flavor: Flavor) -> str:
    return claim_room(
        region,
        server_id,
        flavor,
        availability_zone=AZ,
        where=PUBLIC_POOL,
        role="placed",
        then=lambda _host_id: None,
    ).id


def s6_hosts(region: Region) -> list[HostView]:
    """The AZ's s6 pool hosts as the database holds them now, in the store's order."""
    hosts = region.store.list_hosts(kind=HostKind.POOL, availability_zone=AZ)
    return [host_view(h) for h in hosts if h.host_type == "s6"]


def indexed_s6_hosts(region: Region) -> list[HostView]:
    return [h for h in region.pool.views(AZ) if "-s6-" in h.name]


def fresh_choice(region: Region, flavor: Flavor) -> str | None:
    """What placement chose before the index: choose_host over a fresh read (None: no room)."""
    choice = choose_host(numa_request(flavor), s6_hosts(region), Strategy.SPREAD)
    return choice[0].host_id if isinstance(choice, list) else None


def test_a_claim_lost_to_another_process_refreshes_that_host_and_decides_again(
    db: Database, catalog: Catalog
) -> None:
    a, b = process(db, catalog), process(db, catalog)
    big = a.flavor(BIG)
    for i in range(3):  # b fills three of the four hosts; a's index still sees them empty
        place(b, f"b{i}", big)
    expected = fresh_choice(a, big)

    chosen = place(a, "a0", big)

    assert chosen == expected
    assert indexed_s6_hosts(a) == s6_hosts(a)
    assert [d for d in check(db) if d.invariant == 1] == []


def test_room_freed_by_another_process_is_seen_before_answering_no_capacity(
    db: Database, catalog: Catalog
) -> None:
    a, b = process(db, catalog), process(db, catalog)
    big = a.flavor(BIG)
    hosts = [place(a, f"a{i}", big) for i in range(4)]
    with pytest.raises(NoCapacity):
        place(a, "refused", big)

    b.delete_server("a2")  # a's index still holds that host as full

    assert place(a, "a4", big) == hosts[2]


def test_no_capacity_gives_the_numbers_choose_host_gives(db: Database, catalog: Catalog) -> None:
    a = process(db, catalog)
    big = a.flavor(BIG)
    for i in range(4):
        place(a, f"a{i}", big)

    with pytest.raises(NoCapacity) as refused:
        place(a, "refused", big)

    assert "4 candidate hosts: flavor s6.16xlarge.2 does not fit (NUMA split rule" in str(
        refused.value
    )
    assert "needed per NUMA node 32 vCPUs and 65536 MiB, largest free node has 8 vCPUs" in str(
        refused.value
    )


@pytest.mark.parametrize("seed", [1, 2])
def test_claims_and_releases_of_this_process_keep_its_index_equal_to_the_database(
    db: Database, catalog: Catalog, seed: int
) -> None:
    """Random creates, migrations' incoming claims and their undo, and deletes: after each,
    the index holds exactly what the database holds, and it chose what choose_host chose."""
    rng = random.Random(seed)
    region = process(db, catalog)
    placed: list[str] = []
    for step in range(40):
        if placed and rng.random() < 0.35:
            server_id = placed.pop(rng.randrange(len(placed)))
            if rng.random() < 0.5:
                region.delete_server(server_id)
            else:
                region.release_claims(server_id, "placed")
        else:
            flavor = region.flavor(rng.choice(FLAVORS))
            expected = fresh_choice(region, flavor)  # None: the index must refuse as well
            try:
                assert place(region, f"s{step}", flavor) == expected
                placed.append(f"s{step}")
            except NoCapacity:
                assert expected is None
        assert indexed_s6_hosts(region) == s6_hosts(region)


def test_an_index_placement_is_exactly_the_first_choice_of_choose_host(
    db: Database, catalog: Catalog
) -> None:
    region = process(db, catalog)
    half = region.flavor(HALF_NODE)
    for i in range(12):
        expected = choose_host(numa_request(half), s6_hosts(region), Strategy.SPREAD)
        assert isinstance(expected, list)
        assert isinstance(expected[0], Placement)
        assert place(region, f"s{i}", half) == expected[0].host_id
