"""NOTIFY at commit, LISTEN in every process: the cross-process wake-up on real PostgreSQL."""

from __future__ import annotations

import queue
from collections.abc import Iterator

import pytest

from coldshift.persistence.db import Database
from coldshift.persistence.job_signals import JobListener, announce

# SQLite serves one process: there is nobody to listen to.
pytestmark = [pytest.mark.pg, pytest.mark.parametrize("db_url", ["pg"], indirect=True)]


@pytest.fixture
def heard(db: Database) -> Iterator[queue.Queue[int]]:
    counts: queue.Queue[int] = queue.Queue()
    # as if in another process: this test's own announcements are the other's
    listener = JobListener(db, counts.put, check_seconds=0.05, own_token="another process")
    listener.start()
    assert counts.get(timeout=10) == 1  # the catch-up wake-up of a new listener
    yield counts
    listener.stop()


def test_a_committed_announcement_is_heard_with_its_count(
    db: Database, heard: queue.Queue[int]
) -> None:
    with db.write() as conn:
        announce(conn, 3)
    assert heard.get(timeout=10) == 3


def test_a_rolled_back_announcement_is_never_heard(db: Database, heard: queue.Queue[int]) -> None:
    class Refused(Exception):
        pass

    with pytest.raises(Refused), db.write() as conn:
        announce(conn, 5)
        raise Refused
    with db.write() as conn:
        announce(conn, 2)
    # notifications arrive in commit order: the first one heard is the committed one
    assert heard.get(timeout=10) == 2


def test_announcing_nothing_sends_nothing(db: Database, heard: queue.Queue[int]) -> None:
    with db.write() as conn:
        announce(conn, 0)
    with db.write() as conn:
        announce(conn, 1)
    assert heard.get(timeout=10) == 1
    assert heard.empty()


def test_a_process_does_not_hear_its_own_announcements(db: Database) -> None:
    """It has woken its own workers in-process already; hearing itself would wake a second
    worker only to find the job taken."""
    counts: queue.Queue[int] = queue.Queue()
    listener = JobListener(db, counts.put, check_seconds=0.05)
    listener.start()
    try:
        assert counts.get(timeout=10) == 1  # the catch-up wake-up
        with db.write() as conn:
            announce(conn, 4)  # this process's own
        with db.write() as conn:
            announce(conn, 6, origin="another process")
        # delivered in commit order: had the first been heard, it would come first
        assert counts.get(timeout=10) == 6
    finally:
        listener.stop()
