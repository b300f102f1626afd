"""Host writes in SQL: the pool's reconciliation and the DeH use cases."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, delete, exists, select, update
from sqlalchemy.exc import IntegrityError

from coldshift.domain.errors import HostInUse, MachineTaken
from coldshift.domain.hosts import Host, HostChange, HostState
from coldshift.domain.quotas import QuotaGuard
from coldshift.persistence.generations import stamp_in
from coldshift.persistence.guards import check_quota_in
from coldshift.persistence.rows import host_to_values
from coldshift.persistence.sql_store import SqlStore
from coldshift.persistence.tables import claims, host_removals, hosts, numa_nodes, servers


class SqlHostStore(SqlStore):
    """services.ports.HostStore in SQL."""

    def add_hosts(self, new_hosts: Sequence[Host], quota: QuotaGuard | None = None) -> None:
        with self._db.write() as conn:
            if quota is not None:
                check_quota_in(conn, quota)
            try:
                _insert_hosts(conn, new_hosts)
            except IntegrityError as exc:
                if any(h.machine for h in new_hosts):
                    raise MachineTaken([h.machine for h in new_hosts if h.machine]) from exc
                raise

    def machines_in_use(self) -> set[str]:
        with self._db.read() as conn:
            rows = conn.execute(select(hosts.c.machine).where(hosts.c.machine.is_not(None)))
            return {row.machine for row in rows}

    def remove_hosts(self, host_ids: Sequence[str]) -> None:
        if not host_ids:
            return
        with self._db.write() as conn:
            _leave_removals_in(conn, host_ids)
            conn.execute(delete(numa_nodes).where(numa_nodes.c.host_id.in_(list(host_ids))))
            conn.execute(delete(hosts).where(hosts.c.id.in_(list(host_ids))))

    def update_host(self, host_id: str, change: HostChange) -> None:
        state = change.state.value if change.state else None
        values = {
            column: value
            for column, value in (
                ("name", change.name),
                ("auto_placement", change.auto_placement),
                ("state", state),
            )
            if value is not None
        }
        if not values:
            return
        with self._db.write() as conn:
            changed = update(hosts).where(hosts.c.id == host_id).values(**values)
            conn.execute(changed.values(generation=stamp_in(conn)))

    def release_host(self, host_id: str) -> None:
        """Release a DeH unless a server is on it or a claim (e.g. a migration) holds it."""
        with self._db.write() as conn:
            # Update first: the row lock makes concurrent claims on this host wait (see
            # claim_store._claim_in)
            conn.execute(
                update(hosts)
                .where(hosts.c.id == host_id)
                # its machine, if any, is free for the next allocation
                .values(
                    state=HostState.RELEASED.value,
                    released_at=self._clock(),
                    machine=None,
                    generation=stamp_in(conn),
                )
            )
            busy = conn.execute(
                select(
                    exists().where(servers.c.host_id == host_id)
                    | exists().where(servers.c.migrating_to == host_id)
                    | exists().where(claims.c.host_id == host_id)
                )
            ).scalar()
            if busy:  # raising rolls the release back
                raise HostInUse(host_id)


def _insert_hosts(conn: Connection, new_hosts: Sequence[Host]) -> None:
    if not new_hosts:
        return
    # The rows before their tombstones go: the largest generation never goes down (generations)
    stamped = hosts.insert().values(generation=stamp_in(conn))
    conn.execute(stamped, [host_to_values(h) for h in new_hosts])
    ids = [h.id for h in new_hosts]
    conn.execute(delete(host_removals).where(host_removals.c.host_id.in_(ids)))
    conn.execute(
        numa_nodes.insert(),
        [
            dict(
                host_id=h.id,
                node_index=n.index,
                vcpus_total=n.vcpus_total,
                memory_total=n.memory_total,
                vcpus_free=n.vcpus_free,
                memory_free=n.memory_free,
            )
            for h in new_hosts
            for n in h.nodes
        ],
    )


def _leave_removals_in(conn: Connection, host_ids: Sequence[str]) -> None:
    """Record the removal of these hosts, stamped, for the indexes of every process."""
    gone = conn.execute(
        select(hosts.c.id, hosts.c.kind, hosts.c.availability_zone).where(
            hosts.c.id.in_(list(host_ids))
        )
    ).all()
    if not gone:
        return
    # (A recorded host has no tombstone: adding it deleted that. The caller deletes the rows
    # after this, so the largest generation never goes down.)
    conn.execute(
        host_removals.insert().values(generation=stamp_in(conn)),
        [dict(host_id=r.id, kind=r.kind, availability_zone=r.availability_zone) for r in gone],
    )
