"""The pool index's refresh before "no room" reads the store without the pool's lock: other
decisions go on meanwhile, and what they changed is not overwritten by the older read."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import pytest

from coldshift.catalog import load_default_catalog
from coldshift.domain.catalog import Catalog, Flavor
from coldshift.domain.hosts import ClaimRole, HostKind, Placement
from coldshift.domain.lifecycle import TaskChange
from coldshift.placement import host_view
from coldshift.services.claims import PUBLIC_POOL, NoCapacity, claim_room
from coldshift.services.pool_capacity import PoolCapacity
from coldshift.services.ports import NO_REGION_OBSERVER, PoolChanges, RegionObserver
from coldshift.services.region_setup import sync_public_pool
from coldshift.testing import FrozenClock, InMemoryJobStore, InMemoryRegionStore

AZ = "local-1a"
BIG = "s6.16xlarge.2"  # 2 x 32 vCPUs: one per s6 host (4 in the AZ, 2 nodes of 40 vCPUs)
SMALL = "s6.large.2"


class PausingStore(InMemoryRegionStore):
    """Its next read of pool changes, once armed, waits after reading until let go; it
    counts the claims tried on each host."""

    def __init__(self) -> None:
        clock = FrozenClock()
        super().__init__(InMemoryJobStore(clock), clock)
        self.armed = False
        self.reading = threading.Event()
        self.go = threading.Event()
        self.tried: list[str] = []

    def pool_changes(self, availability_zone: str | None, since: int | None) -> PoolChanges:
        read = super().pool_changes(availability_zone, since)
        if self.armed:
            self.armed = False
            self.reading.set()
            assert self.go.wait(10)
        return read

    def claim(
        self,
        server_id: str,
        placement: Placement,
        role: str = ClaimRole.PLACED,
        then: TaskChange | None = None,
    ) -> bool:
        self.tried.append(placement.host_id)
        return super().claim(server_id, placement, role, then)


@dataclass
class Pool:
    """What a claim reads and writes (services.claims.ClaimContext)."""

    store: PausingStore
    catalog: Catalog
    pool: PoolCapacity = field(default_factory=PoolCapacity)
    observer: RegionObserver = NO_REGION_OBSERVER

    def flavor(self, flavor_id: str) -> Flavor:
        found = self.catalog.flavor(flavor_id)
        assert found is not None
        return found

    def place(self, server_id: str, flavor_id: str) -> str:
        return claim_room(
            self,
            server_id,
            self.flavor(flavor_id),
            availability_zone=AZ,
            where=PUBLIC_POOL,
            role=ClaimRole.PLACED,
            then=lambda _host_id: None,
        ).id

    def s6_hosts(self) -> list[str]:
        hosts = self.store.list_hosts(kind=HostKind.POOL, availability_zone=AZ)
        return [h.id for h in hosts if h.host_type == "s6"]


@pytest.fixture
def full() -> Pool:
    """Every s6 host of the AZ holds one BIG server, s0 .. s3, as the index knows."""
    catalog = load_default_catalog()
    pool = Pool(PausingStore(), catalog)
    sync_public_pool(pool.store, catalog, 0.0)
    for i in range(4):
        pool.place(f"s{i}", BIG)
    return pool


def asking_in_a_thread(
    pool: Pool, server_id: str, flavor_id: str
) -> tuple[threading.Thread, list[object]]:
    """``pool.place`` in a thread of its own; its outcome (a host id or NoCapacity) is put in
    the list returned."""
    outcome: list[object] = []

    def run() -> None:
        try:
            outcome.append(pool.place(server_id, flavor_id))
        except NoCapacity as exc:
            outcome.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    return thread, outcome


def test_a_placement_is_decided_and_claimed_while_a_no_room_answer_reads(full: Pool) -> None:
    full.store.armed = True
    asking, refused = asking_in_a_thread(full, "big", BIG)
    assert full.store.reading.wait(10)  # the no-room refresh is reading, and waits
    try:
        placing, placed = asking_in_a_thread(full, "small", SMALL)
        placing.join(10)  # it does not wait for the read
        assert not placing.is_alive() and placed[0] in full.s6_hosts()
    finally:
        full.store.go.set()
    asking.join(10)
    assert len(refused) == 1 and isinstance(refused[0], NoCapacity)


def test_a_host_this_process_changed_during_the_read_is_read_again_not_taken_from_it(
    full: Pool,
) -> None:
    h0, h1, h2, h3 = full.s6_hosts()
    assert [full.store.claimed_host(f"s{i}", "placed") for i in range(4)] == [h0, h1, h2, h3]
    # Room freed behind the index's back (as by another process): it holds h2 and h3 full.
    full.store.delete_server("s2")
    full.store.delete_server("s3")
    full.store.armed = True
    asking, outcome = asking_in_a_thread(full, "a", BIG)
    assert full.store.reading.wait(10)  # "a" has read h2 and h3 free, and waits

    # "b" reads them too, applies them and takes h2 (both empty: the first by name)
    assert full.place("b", BIG) == h2

    full.store.go.set()
    asking.join(10)
    assert outcome == [h3]
    # "a" read h2 again instead of applying its older read: it never tried h2
    assert full.store.tried[4:] == [h2, h3]
    stored = [host_view(h) for h in full.store.list_hosts(kind=HostKind.POOL, availability_zone=AZ)]
    assert full.pool.views(AZ) == stored
