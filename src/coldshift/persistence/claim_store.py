"""Claims of NUMA room in SQL: taken by compare-and-set, switched over, given back."""

from __future__ import annotations

from sqlalchemy import Connection, delete, exists, select, update

from coldshift.domain.hosts import ClaimRole, HostState, Placement
from coldshift.domain.lifecycle import TaskChange
from coldshift.persistence.generations import stamp_hosts_in, stamp_in
from coldshift.persistence.group_store import give_up_group_places_in, take_group_place_in
from coldshift.persistence.guards import change_task_in
from coldshift.persistence.sql_store import SqlStore
from coldshift.persistence.tables import claims, hosts, numa_nodes

_ON_HOST = ClaimRole.PLACED.value
_INCOMING = ClaimRole.INCOMING.value
_OUTGOING = ClaimRole.OUTGOING.value


class SqlClaimStore(SqlStore):
    """services.ports.ClaimStore in SQL: claims are compare-and-set per NUMA node."""

    def claim(
        self,
        server_id: str,
        placement: Placement,
        role: str = _ON_HOST,
        then: TaskChange | None = None,
    ) -> bool:
        """Atomically take the capacity of ``placement`` for ``server_id``.

        Each NUMA node is decremented by a compare-and-set; if any node no longer has room
        (a concurrent claim won), the transaction rolls back and False is returned.
        """
        try:
            with self._db.write() as conn:
                _claim_in(conn, server_id, placement, role)
                if then is not None:
                    change_task_in(conn, server_id, then, self._clock())
        except _ClaimLost:
            return False
        return True

    def has_claims(self, server_id: str, role: str = _ON_HOST) -> bool:
        with self._db.read() as conn:
            return bool(
                conn.execute(
                    select(exists().where(claims.c.server_id == server_id, claims.c.role == role))
                ).scalar()
            )

    def claimed_host(self, server_id: str, role: str) -> str | None:
        query = select(claims.c.host_id).where(
            claims.c.server_id == server_id, claims.c.role == role
        )
        with self._db.read() as conn:
            return conn.execute(query.limit(1)).scalar()

    def claimed_nodes(self, server_id: str, role: str) -> tuple[int, ...]:
        query = select(claims.c.node_index).where(
            claims.c.server_id == server_id, claims.c.role == role
        )
        with self._db.read() as conn:
            return tuple(sorted(conn.execute(query).scalars()))

    def switch_over(self, server_id: str, change: TaskChange | None) -> bool:
        with self._db.write() as conn:
            incoming = conn.execute(
                select(claims.c.id)
                .where(claims.c.server_id == server_id, claims.c.role == _INCOMING)
                .with_for_update()
            ).all()
            if not incoming:
                return False
            _set_role(conn, server_id, _ON_HOST, _OUTGOING)
            _set_role(conn, server_id, _INCOMING, _ON_HOST)
            if change is not None:
                change_task_in(conn, server_id, change, self._clock())
        return True

    def release_claims(
        self, server_id: str, role: str | None = None, then: TaskChange | None = None
    ) -> list[str]:
        """Give back a server's claims (all, or one role). Idempotent. The hosts given room."""
        with self._db.write() as conn:
            freed = release_in(conn, server_id, role)
            if then is not None:
                change_task_in(conn, server_id, then, self._clock())
        return freed


def _set_role(conn: Connection, server_id: str, old: str, new: str) -> None:
    conn.execute(
        update(claims).where(claims.c.server_id == server_id, claims.c.role == old).values(role=new)
    )


class _ClaimLost(Exception):
    """A NUMA node no longer had room, or another member of the server's ECS group holds
    the host: a concurrent claim won. Rolls the transaction back."""


def _claim_in(conn: Connection, server_id: str, placement: Placement, role: str) -> None:
    # Touching the host row first serialises this claim with a concurrent release of the host
    # (which updates the same row), so that a released host never receives a claim; the touch
    # is the host's new generation, which every process's pool index reads as "changed".
    held = conn.execute(
        update(hosts)
        .where(
            hosts.c.id == placement.host_id,
            hosts.c.state == HostState.AVAILABLE.value,
            hosts.c.draining_job.is_(None),  # a drained DeH takes no one (services/drain.py)
        )
        .values(generation=stamp_in(conn))
    )
    if held.rowcount != 1 or not _take_nodes(conn, placement):
        raise _ClaimLost
    # The anti-affinity rule, in the same transaction as the capacity: see group_store.
    if not take_group_place_in(conn, server_id, placement.host_id):
        raise _ClaimLost
    conn.execute(
        claims.insert(),
        [
            dict(
                server_id=server_id,
                host_id=placement.host_id,
                node_index=i,
                vcpus=placement.fit.vcpus_per_node,
                memory_mb=placement.fit.memory_per_node,
                role=role,
            )
            for i in placement.fit.node_indexes
        ],
    )


def _take_nodes(conn: Connection, placement: Placement) -> bool:
    fit = placement.fit
    for index in fit.node_indexes:
        result = conn.execute(
            update(numa_nodes)
            .where(
                numa_nodes.c.host_id == placement.host_id,
                numa_nodes.c.node_index == index,
                numa_nodes.c.vcpus_free >= fit.vcpus_per_node,
                numa_nodes.c.memory_free >= fit.memory_per_node,
            )
            .values(
                vcpus_free=numa_nodes.c.vcpus_free - fit.vcpus_per_node,
                memory_free=numa_nodes.c.memory_free - fit.memory_per_node,
            )
        )
        if result.rowcount != 1:
            return False
    return True


def release_in(conn: Connection, server_id: str, role: str | None) -> list[str]:
    """Give back the server's claims (all, or those of ``role``) in this transaction; the
    hosts given room."""
    query = select(claims).where(claims.c.server_id == server_id)
    if role is not None:
        query = query.where(claims.c.role == role)
    rows = conn.execute(query.with_for_update()).all()
    stamp_hosts_in(conn, (r.host_id for r in rows))  # host rows first, as a claim takes them
    for row in rows:
        conn.execute(
            update(numa_nodes)
            .where(numa_nodes.c.host_id == row.host_id, numa_nodes.c.node_index == row.node_index)
            .values(
                vcpus_free=numa_nodes.c.vcpus_free + row.vcpus,
                memory_free=numa_nodes.c.memory_free + row.memory_mb,
            )
        )
    freed = sorted({r.host_id for r in rows})
    if rows:
        conn.execute(delete(claims).where(claims.c.id.in_([r.id for r in rows])))
        give_up_group_places_in(conn, server_id, freed)
    return freed
