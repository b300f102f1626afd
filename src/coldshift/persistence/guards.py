"""The guarded statements that enforce the domain's rules inside a write: the task-state
machine (domain.lifecycle), an idle server for a new task, and quotas (domain.quotas)."""

from __future__ import annotations

import hashlib
from functools import cache
from typing import Any

from sqlalchemy import (
    Connection,
    bindparam,
    exists,
    func,
    or_,
    select,
    text,
    update,
)

from coldshift.domain.errors import ServerBusy
from coldshift.domain.hosts import HostKind, HostState
from coldshift.domain.lifecycle import IllegalTransition, TaskChange
from coldshift.domain.quotas import QuotaGuard, Resource
from coldshift.jobs.model import JobStatus
from coldshift.persistence.prepared import Prepared, one_of
from coldshift.persistence.tables import hosts, jobs, servers
from coldshift.services.ports import TaskGuard

_UNFINISHED = (JobStatus.INIT.value, JobStatus.RUNNING.value)


def check_quota_in(conn: Connection, quota: QuotaGuard) -> None:
    """Count what ``quota`` limits inside this transaction and let the domain decide."""
    if conn.dialect.name == "postgresql":
        # One transaction-scoped lock per (project, resource): concurrent writers of the same
        # quota count one after the other. (SQLite's BEGIN IMMEDIATE already serialises.)
        key = int(
            hashlib.sha1(f"{quota.project_id}/{quota.resource}".encode()).hexdigest()[:15], 16
        )
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})
    if quota.resource is Resource.INSTANCES:
        used_query = (
            select(func.count())
            .select_from(servers)
            .where(servers.c.project_id == quota.project_id)
        )
    else:
        used_query = (
            select(func.count())
            .select_from(hosts)
            .where(
                hosts.c.project_id == quota.project_id,
                hosts.c.kind == HostKind.DEH.value,
                hosts.c.state != HostState.RELEASED.value,
            )
        )
    quota.check(conn.execute(used_query).scalar_one())


def change_task_in(conn: Connection, server_id: str, change: TaskChange, now: float) -> None:
    """The guarded statement of domain.lifecycle: the task moves only from a state the
    transition starts from, or stays at its target (a step re-run after a crash)."""
    transition = change.transition
    starts = {transition.target, *transition.sources}
    named = tuple(sorted(s.value for s in starts if s is not None))
    written = {"updated_at": now, **change.values()}
    statement = _change_task(named, None in starts, tuple(written))
    result = statement.execute(conn, {"b_server_id": server_id, **_set(written)})
    if result.rowcount != 1:
        found = conn.execute(select(servers.c.task_state).where(servers.c.id == server_id)).first()
        raise IllegalTransition(server_id, transition, found[0] if found else "(no such ECS)")


# Every job step and every accepted request runs one of these guarded UPDATEs: prepared once
# per shape (persistence.prepared), they cost no statement building when run.
@cache
def _change_task(named: tuple[str, ...], from_none: bool, columns: tuple[str, ...]) -> Prepared:
    allowed = one_of(servers.c.task_state, named)
    if from_none:
        allowed = or_(allowed, servers.c.task_state.is_(None))
    return Prepared(
        update(servers)
        .where(servers.c.id == bindparam("b_server_id"), allowed)
        .values({c: bindparam(f"v_{c}") for c in columns})
    )


def _set(values: dict[str, Any]) -> dict[str, Any]:
    return {f"v_{c}": v for c, v in values.items()}


def start_task_in(conn: Connection, guard: TaskGuard, now: float) -> None:
    """Start a task on an idle server (domain.lifecycle): no task, unlocked, and the job of
    its last task has ended."""
    written = {"task_job_id": guard.job_id, "updated_at": now, **guard.change.values()}
    statement = _start_task(guard.vm_state is not None, guard.host_id is not None, tuple(written))
    params = {
        "b_server_id": guard.server_id,
        "b_vm_state": guard.vm_state,
        "b_host_id": guard.host_id,
        **_set(written),
    }
    if statement.execute(conn, params).rowcount != 1:
        raise ServerBusy(
            f"the ECS {guard.server_id} is locked, changed state, or another operation is "
            "in progress on it; retry when it has finished"
        )


@cache
def _start_task(with_vm_state: bool, with_host: bool, columns: tuple[str, ...]) -> Prepared:
    last_job_running = (
        exists()
        .where(jobs.c.id == servers.c.task_job_id, one_of(jobs.c.status, _UNFINISHED))
        .correlate(servers)
    )
    query = update(servers).where(
        servers.c.id == bindparam("b_server_id"),
        servers.c.task_state.is_(None),
        servers.c.locked.is_(False),
        ~last_job_running,
    )
    if with_vm_state:
        query = query.where(servers.c.vm_state == bindparam("b_vm_state"))
    if with_host:
        query = query.where(servers.c.host_id == bindparam("b_host_id"))
    return Prepared(query.values({c: bindparam(f"v_{c}") for c in columns}))
