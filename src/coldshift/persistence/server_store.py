"""Server writes in SQL: submissions, task changes, the lock, deletion."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from sqlalchemy import Connection, delete, select, update
from sqlalchemy.exc import IntegrityError

from coldshift.domain.errors import HostDraining
from coldshift.domain.job_types import FENCING_JOB_TYPES
from coldshift.domain.lifecycle import TaskChange
from coldshift.domain.quotas import QuotaGuard
from coldshift.domain.servers import Server, TaskState
from coldshift.jobs.model import NewJob
from coldshift.persistence.claim_store import release_in
from coldshift.persistence.generations import stamp_in
from coldshift.persistence.group_store import join_new_servers_in, leave_group_in
from coldshift.persistence.guards import change_task_in, check_quota_in, start_task_in
from coldshift.persistence.job_signals import announce
from coldshift.persistence.job_store import insert_job
from coldshift.persistence.rows import server_to_values
from coldshift.persistence.sql_store import SqlStore
from coldshift.persistence.tables import client_tokens, hosts, servers
from coldshift.services.ports import (
    ClientToken,
    DuplicateSubmission,
    GroupJoin,
    HostFence,
    TaskGuard,
)


class SqlServerStore(SqlStore):
    """services.ports.ServerStore in SQL: jobs recorded with the server changes that start
    them, in one transaction."""

    @contextmanager
    def one_transaction(self) -> Iterator[None]:
        with self._db.write():  # reads and writes inside it join this one (Database.read)
            yield

    def submit(
        self,
        job: NewJob,
        *,
        new_servers: Sequence[Server] = (),
        guards: Sequence[TaskGuard] = (),
        client_token: ClientToken | None = None,
        quota: QuotaGuard | None = None,
        group: GroupJoin | None = None,
        fence: HostFence | None = None,
    ) -> None:
        """Record a job with the server changes that start it, in one transaction.

        Each guard moves a server from "no task" to a task; if another request got there
        first the whole submission is refused (ServerBusy) and nothing is recorded.
        """
        now = self._clock()
        try:
            with self._db.write() as conn:
                if quota is not None:
                    check_quota_in(conn, quota)
                if fence is not None:
                    _fence_in(conn, fence, job)
                for guard in guards:
                    start_task_in(conn, guard, now)
                if new_servers:
                    conn.execute(servers.insert(), [server_to_values(s) for s in new_servers])
                if group is not None:
                    ids = [s.id for s in new_servers]
                    join_new_servers_in(conn, group.group_id, ids, group.limit, now)
                announce(conn, insert_job(conn, job, now))
                if client_token is not None:
                    conn.execute(
                        client_tokens.insert().values(
                            project_id=client_token.project_id,
                            token=client_token.token,
                            body_hash=client_token.body_hash,
                            response=client_token.response,
                            created_at=now,
                        )
                    )
        except IntegrityError as exc:
            if client_token is None:
                raise
            raise DuplicateSubmission(client_token.token) from exc

    def find_client_token(
        self, project_id: str, token: str, not_before: float
    ) -> ClientToken | None:
        query = select(client_tokens).where(
            client_tokens.c.project_id == project_id,
            client_tokens.c.token == token,
            client_tokens.c.created_at >= not_before,
        )
        with self._db.read() as conn:
            row = conn.execute(query).first()
        if row is None:
            return None
        return ClientToken(row.project_id, row.token, row.body_hash, dict(row.response))

    def change_task(self, server_id: str, change: TaskChange) -> None:
        with self._db.write() as conn:
            change_task_in(conn, server_id, change, self._clock())

    def set_locked(self, server_id: str, locked: bool, frozen_during: frozenset[TaskState]) -> bool:
        with self._db.write() as conn:
            result = conn.execute(
                update(servers)
                .where(
                    servers.c.id == server_id,
                    servers.c.task_state.is_(None)
                    | servers.c.task_state.not_in(sorted(t.value for t in frozen_during)),
                )
                .values(locked=locked, updated_at=self._clock())
            )
        return result.rowcount == 1

    def delete_server(self, server_id: str) -> list[str]:
        """Remove a server and give back all its capacity. Idempotent. The hosts given room."""
        with self._db.write() as conn:
            freed = release_in(conn, server_id, None)
            leave_group_in(conn, server_id)
            conn.execute(delete(servers).where(servers.c.id == server_id))
        return freed


def _fence_in(conn: Connection, fence: HostFence, job: NewJob) -> None:
    """Mark the DeH drained by ``fence.job_id``, unless another drain holds it; the host row
    is written first, so a concurrent claim on it (claim_store._claim_in) waits, then sees it."""
    if job.job_type not in FENCING_JOB_TYPES:
        # only their end lifts a fence (job_store._settle_parent): any other would hold it
        raise ValueError(f"a {job.job_type} job cannot fence a DeH")
    result = conn.execute(
        update(hosts)
        .where(hosts.c.id == fence.host_id, hosts.c.draining_job.is_(None))
        .values(draining_job=fence.job_id, generation=stamp_in(conn))
    )
    if result.rowcount != 1:
        raise HostDraining(fence.host_id)
