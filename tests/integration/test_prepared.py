"""``persistence.prepared``: a statement compiled once and run on the driver's cursor answers
what SQLAlchemy's own ``Connection.execute`` answers, on SQLite and on PostgreSQL: the same
values (JSON, booleans, floats, NULLs), the same row counts, the same exception classes, and
the tables it writes reach the change feed."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import bindparam, func, select, update
from sqlalchemy.exc import IntegrityError

from coldshift.persistence.db import Database
from coldshift.persistence.prepared import Prepared, one_of
from coldshift.persistence.tables import jobs


def _job(job_id: str, **changes: Any) -> dict[str, Any]:
    return {
        "id": job_id,
        "project_id": "p",
        "parent_id": None,
        "job_type": "t",
        "position": 0,
        "status": "INIT",
        "entities": {"server_id": "s-1", "nested": [1, {"a": None}]},
        "payload": {},
        "progress": {"copied": [1.5, 2]},
        "steps_done": 0,
        "compensating": True,
        "error_code": None,
        "fail_reason": "naïve ünïcode",
        "created_at": 1.25,
        "begin_time": 1.25,
        "end_time": None,
        "lease_owner": None,
        "lease_expires": None,
        "runnable": False,
        "attempts": 0,
        "claimed_at": None,
        **changes,
    }


_INSERT = Prepared(jobs.insert())
_BY_ID = select(jobs).where(jobs.c.id == bindparam("job_id"))
_PREPARED_BY_ID = Prepared(_BY_ID)


def test_rows_read_back_as_sqlalchemy_reads_them(db: Database) -> None:
    with db.write() as conn:
        assert _INSERT.execute_many(conn, [_job("j1"), _job("j2", compensating=False)]) == 2
    with db.read() as conn:
        for job_id in ("j1", "j2"):
            [ours] = _PREPARED_BY_ID.execute(conn, {"job_id": job_id}).rows
            theirs = conn.execute(_BY_ID, {"job_id": job_id}).one()
            assert tuple(ours) == tuple(theirs)
            assert ours._asdict() == dict(theirs._mapping)
    assert ours.compensating is False and ours.progress == {"copied": [1.5, 2]}


def test_an_update_counts_its_rows_and_returns_them(db: Database) -> None:
    with db.write() as conn:
        _INSERT.execute_many(conn, [_job("j1"), _job("j2")])
    set_progress = Prepared(
        update(jobs)
        .where(jobs.c.id == bindparam("job_id"), jobs.c.status == "INIT")
        .values(progress=bindparam("progress"), status="RUNNING")
        .returning(jobs.c.id, jobs.c.progress, jobs.c.runnable)
    )
    with db.write() as conn:
        result = set_progress.execute(conn, {"job_id": "j1", "progress": {"done": True}})
        again = set_progress.execute(conn, {"job_id": "j1", "progress": {}})  # no longer INIT
    assert result.rowcount == 1 and again.rowcount in (0, -1) and again.rows == []
    assert result.rows[0] == ("j1", {"done": True}, False)
    assert result.rows[0].progress == {"done": True}


def test_the_tables_it_writes_reach_the_change_feed(db: Database) -> None:
    before = db.changes.stamp(["jobs"])
    with db.write() as conn:
        _INSERT.execute_many(conn, [_job("j1")])
    assert db.changes.stamp(["jobs"]) != before
    read_only = db.changes.stamp(["jobs"])
    with db.read() as conn:
        _PREPARED_BY_ID.execute(conn, {"job_id": "j1"})
    assert db.changes.stamp(["jobs"]) == read_only


def test_a_driver_error_is_sqlalchemys_and_the_transaction_rolls_back(db: Database) -> None:
    with db.write() as conn:
        _INSERT.execute_many(conn, [_job("j1")])
    with pytest.raises(IntegrityError), db.write() as conn:
        _INSERT.execute_many(conn, [_job("j2")])
        _INSERT.execute_many(conn, [_job("j1")])  # the same key again
    with db.read() as conn:
        assert conn.execute(select(func.count()).select_from(jobs)).scalar_one() == 1


def test_one_of_matches_in_and_keeps_a_fixed_shape(db: Database) -> None:
    with db.write() as conn:
        _INSERT.execute_many(conn, [_job("j1"), _job("j2", status="FAIL"), _job("j3", status="X")])
    ended = Prepared(select(jobs.c.id).where(one_of(jobs.c.status, ("INIT", "FAIL"))))
    none = Prepared(select(jobs.c.id).where(one_of(jobs.c.status, ())))
    with db.read() as conn:
        assert sorted(ended.execute(conn).scalars()) == ["j1", "j2"]
        assert none.execute(conn).rows == []


def test_an_expanding_in_is_refused(db: Database) -> None:
    expanding = Prepared(select(jobs.c.id).where(jobs.c.id.in_(["a", "b"])))
    with db.read() as conn, pytest.raises(ValueError, match="fixed shape"):
        expanding.execute(conn)
