"""The change feed that the API's read cache stamps its answers with, on real databases: this
process's commits bump the tables they wrote, a rolled-back write bumps nothing, and on
PostgreSQL another process's commit is heard before ``stamp`` answers (the barrier)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import select, update

from coldshift.persistence.change_listener import ChangeListener
from coldshift.persistence.db import Database, connect
from coldshift.persistence.tables import hosts, jobs, servers
from coldshift.persistence.upgrades import upgrade


def _touch_hosts(db: Database) -> None:
    with db.write() as conn:
        conn.execute(update(hosts).where(hosts.c.id == "none").values(name="x"))


def test_a_commit_bumps_the_tables_it_wrote_and_no_other(db: Database) -> None:
    feed = db.changes
    before_servers, before_jobs = feed.stamp(["servers", "hosts"]), feed.stamp(["jobs"])
    _touch_hosts(db)
    assert feed.stamp(["servers", "hosts"]) != before_servers
    assert feed.stamp(["jobs"]) == before_jobs


def test_a_read_or_a_rolled_back_write_bumps_nothing(db: Database) -> None:
    feed = db.changes
    before = feed.stamp(["hosts", "servers", "jobs"])
    with db.read() as conn:
        conn.execute(select(servers.c.id)).all()

    class Refused(Exception):
        pass

    with pytest.raises(Refused), db.write() as conn:
        conn.execute(update(jobs).where(jobs.c.id == "none").values(status="FAIL"))
        raise Refused
    assert feed.stamp(["hosts", "servers", "jobs"]) == before


def test_a_nested_write_bumps_once_its_outer_transaction_commits(db: Database) -> None:
    feed = db.changes
    before = feed.stamp(["hosts"])
    with db.write():
        _touch_hosts(db)  # joins the open transaction
        assert feed.stamp(["hosts"]) == before, "bumped before the commit"
    assert feed.stamp(["hosts"]) != before


@pytest.fixture
def other_process(db_url: str) -> Iterator[Database]:
    """A second engine on the same database, with a feed of its own: another process."""
    other = connect(db_url)
    upgrade(other)
    yield other
    other.dispose()


def _stamp_in_a_thread(db: Database) -> Callable[[list[str]], int | None]:
    return db.changes.stamp


def _stamp_on_an_event_loop(db: Database) -> Callable[[list[str]], int | None]:
    return lambda tables: asyncio.run(db.changes.stamp_async(tables))


@pytest.mark.pg
@pytest.mark.parametrize("db_url", ["pg"], indirect=True)
@pytest.mark.parametrize("waiting", [_stamp_in_a_thread, _stamp_on_an_event_loop])
def test_another_process_commit_is_heard_before_stamp_answers(
    db: Database,
    other_process: Database,
    waiting: Callable[[Database], Callable[[list[str]], int | None]],
) -> None:
    """The barrier, waited for by a thread (blocking) or awaited on an event loop."""
    stamp = waiting(db)
    listener = ChangeListener(db)
    try:
        assert stamp(["hosts"]) is None, "a stamp before anyone listens"
        listener.start()
        for _ in range(20):
            before = stamp(["hosts"])
            assert before is not None
            _touch_hosts(other_process)
            # no wait: the barrier inside stamp() makes the commit heard
            assert stamp(["hosts"]) != before
            assert stamp(["jobs"]) == db.changes.stamp(["jobs"])
    finally:
        listener.stop()
    assert stamp(["hosts"]) is None, "after the listener stopped"


@pytest.mark.pg
@pytest.mark.parametrize("db_url", ["pg"], indirect=True)
def test_concurrent_barriers_share_rounds_and_all_return(db: Database) -> None:
    from concurrent.futures import ThreadPoolExecutor

    listener = ChangeListener(db)
    listener.start()
    try:
        started = time.monotonic()
        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(lambda _: listener.barrier(), range(200)))
        assert all(answers)
        assert time.monotonic() - started < 30
    finally:
        listener.stop()
    assert not listener.barrier(), "a stopped listener vouches for nothing"


@pytest.mark.pg
@pytest.mark.parametrize("db_url", ["pg"], indirect=True)
def test_a_burst_on_an_event_loop_shares_rounds_with_waiting_threads(db: Database) -> None:
    """200 requests awaiting at once on one loop, while 4 threads wait too: all return true,
    in far fewer rounds than callers (a round is one NOTIFY travelling)."""
    from concurrent.futures import ThreadPoolExecutor

    listener = ChangeListener(db)
    listener.start()

    async def burst() -> list[bool]:
        return list(await asyncio.gather(*(listener.barrier_async() for _ in range(200))))

    try:
        with ThreadPoolExecutor(4) as pool:
            threads = [pool.submit(listener.barrier) for _ in range(40)]
            assert all(asyncio.run(burst()))
            assert all(t.result(timeout=30) for t in threads)
        assert listener.rounds < 120, f"{listener.rounds} rounds for 240 callers"
    finally:
        listener.stop()
