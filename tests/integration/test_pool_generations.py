"""The refresh before "no room" reads only the pool hosts changed since this process's last
read (hosts.generation), and misses no change another process committed, on SQLite and
PostgreSQL. Each "process" is its own engine on the shared database, with its own index."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace

import pytest
from sqlalchemy import select

from coldshift.catalog import load_default_catalog
from coldshift.domain.catalog import Catalog
from coldshift.domain.hosts import HostChange, HostKind, HostState
from coldshift.persistence.db import Database, connect
from coldshift.persistence.region_store import SqlRegionStore
from coldshift.persistence.tables import hosts
from coldshift.placement import HostView, host_view
from coldshift.services.claims import NoCapacity
from coldshift.services.context import Region
from coldshift.services.ports import PoolChanges
from coldshift.services.region_setup import sync_public_pool
from tests.integration.test_pool_index import (
    AZ,
    BIG,
    indexed_s6_hosts,
    place,
    process,
)


class CountingStore(SqlRegionStore):
    """The SQL store, recording what each read of pool changes asked and got."""

    reads: list[tuple[int | None, PoolChanges]]

    def pool_changes(self, availability_zone: str | None, since: int | None) -> PoolChanges:
        read = super().pool_changes(availability_zone, since)
        self.reads.append((since, read))
        return read


@pytest.fixture
def other(db_url: str) -> Iterator[Database]:
    """Another engine on the same database: another process's connections."""
    database = connect(db_url)
    yield database
    database.dispose()


@pytest.fixture
def catalog(db: Database) -> Catalog:
    catalog = load_default_catalog()
    sync_public_pool(SqlRegionStore(db, time.time), catalog, time.time())
    return catalog


def s6_ids(db: Database) -> list[str]:
    store = SqlRegionStore(db, time.time)
    found = store.list_hosts(kind=HostKind.POOL, availability_zone=AZ)
    return [h.id for h in found if h.host_type == "s6"]


def available_s6(region: Region) -> list[HostView]:
    hosts = region.store.list_hosts(kind=HostKind.POOL, availability_zone=AZ)
    return [host_view(h) for h in hosts if h.host_type == "s6" and h.state is HostState.AVAILABLE]


def test_room_freed_by_another_engine_is_read_alone_before_no_room(
    db: Database, other: Database, catalog: Catalog
) -> None:
    a, b = process(db, catalog), process(other, catalog)
    counting = CountingStore(db, time.time)
    counting.reads = []
    a = replace(a, store=counting)  # the same index
    big = a.flavor(BIG)
    placed = [place(a, f"a{i}", big) for i in range(4)]
    with pytest.raises(NoCapacity):
        place(a, "refused", big)

    b.delete_server("a2")
    counting.reads.clear()

    assert place(a, "a4", big) == placed[2]
    [(since, read)] = counting.reads
    assert since is not None  # a range of generations, not the whole AZ
    assert placed[2] in [h.id for h in read.hosts] and read.removed == []
    if db.is_sqlite:
        assert [h.id for h in read.hosts] == [placed[2]]
    # On PostgreSQL what transactions running at the last mark wrote is read again, and the
    # mark is the oldest transaction running anywhere on the server: another test's database
    # (pytest -n) can hold it back to before this test's hosts were made, so no bound holds.


def test_hosts_faulted_removed_or_changed_twice_elsewhere_are_as_the_database_holds_them(
    db: Database, other: Database, catalog: Catalog
) -> None:
    a, b = process(db, catalog), process(other, catalog)
    big = a.flavor(BIG)
    h0, h1, h2, h3 = s6_ids(db)
    for i in range(4):
        place(a, f"a{i}", big)  # a's index: every s6 host full
    placed_on = {s: a.store.claimed_host(s, "placed") for s in ("a0", "a1", "a2")}

    b.delete_server("a0")
    b.store.update_host(placed_on["a0"] or "", HostChange(state=HostState.FAULT))
    b.delete_server("a1")
    b.store.remove_hosts([placed_on["a1"] or ""])
    b.delete_server("a2")
    place(b, "b2", big)  # the same host, changed twice: full again

    with pytest.raises(NoCapacity) as refused:
        place(a, "refused", big)

    assert "2 candidate hosts" in str(refused.value)
    assert indexed_s6_hosts(a) == available_s6(a)
    assert {h.host_id for h in indexed_s6_hosts(a)} == {h0, h1, h2, h3} - {
        placed_on["a0"],
        placed_on["a1"],
    }

    b.store.update_host(placed_on["a0"] or "", HostChange(state=HostState.AVAILABLE))
    assert place(a, "a5", big) == placed_on["a0"]  # back, and empty
    assert indexed_s6_hosts(a) == available_s6(a)


def test_a_change_stamped_before_the_mark_and_committed_after_it_is_read(
    db: Database, other: Database, db_url: str, catalog: Catalog
) -> None:
    """The pitfall of a sequence: a writer took its stamp, a later writer committed a larger
    one, a reader saw the larger; then the first commits. It must still be read next time."""
    reader, writer = SqlRegionStore(db, time.time), SqlRegionStore(other, time.time)
    h0, h1, *_ = s6_ids(db)
    first = reader.pool_changes(AZ, None)
    later = connect(db_url)
    try:
        with other.write():  # the first writer's transaction, left open
            writer.update_host(h0, HostChange(state=HostState.FAULT))
            if not db.is_sqlite:  # (SQLite has one writer at a time: no later writer here)
                SqlRegionStore(later, time.time).update_host(h1, HostChange(state=HostState.FAULT))
            middle = reader.pool_changes(AZ, first.mark)
        after = reader.pool_changes(AZ, middle.mark)
    finally:
        later.dispose()

    # not committed yet, so not read as changed (on PostgreSQL the row itself may be read
    # again, unchanged: the mark is the oldest running transaction of the whole server, which
    # another test's database can hold back)
    assert (h0, HostState.FAULT) not in [(h.id, h.state) for h in middle.hosts]
    if not db.is_sqlite:
        assert h1 in [h.id for h in middle.hosts]
        with db.read() as conn:
            stamps = dict(conn.execute(select(hosts.c.id, hosts.c.generation)).all())
        assert stamps[h0] < stamps[h1]  # "changed since the largest seen" would miss h0
    assert [(h.id, h.state) for h in after.hosts if h.id == h0] == [(h0, HostState.FAULT)]


def test_a_host_removed_then_added_again_is_read_again(db: Database, other: Database) -> None:
    """The removal's tombstone holds the largest generation when the reader marks; adding the
    host again must stamp above that mark (SQLite: the largest never goes down)."""
    reader, writer = SqlRegionStore(db, time.time), SqlRegionStore(other, time.time)
    catalog = load_default_catalog()
    sync_public_pool(writer, catalog, time.time())
    host = writer.list_hosts(kind=HostKind.POOL, availability_zone=AZ)[0]
    writer.remove_hosts([host.id])
    removed = reader.pool_changes(AZ, None)
    assert host.id not in [h.id for h in removed.hosts]

    writer.add_hosts([host])

    again = reader.pool_changes(AZ, removed.mark)
    assert host.id in [h.id for h in again.hosts] and again.removed == []
