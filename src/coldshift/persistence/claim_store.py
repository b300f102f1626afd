"""Claims of NUMA room in SQL: taken by compare-and-set, switched over, given back."""

from __future__ import annotations

from sqlalchemy import Connection, bindparam, delete, exists, select, update

from coldshift.domain.hosts import ClaimRole, HostState, Placement
from coldshift.domain.lifecycle import TaskChange
from coldshift.persistence.generations import stamp_for, stamp_hosts_in
from coldshift.persistence.group_store import give_up_group_places_in, take_group_place_in
from coldshift.persistence.guards import change_task_in
from coldshift.persistence.prepared import Prepared
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
        with self._db.read() as conn:
            host_id: str | None = _CLAIMED_HOST.execute(conn, _of(server_id, role)).scalar()
        return host_id

    def claimed_nodes(self, server_id: str, role: str) -> tuple[int, ...]:
        with self._db.read() as conn:
            return tuple(sorted(_CLAIMED_NODES.execute(conn, _of(server_id, role)).scalars()))

    def switch_over(self, server_id: str, change: TaskChange | None) -> bool:
        with self._db.write() as conn:
            if not _LOCK_CLAIMS.execute(conn, _of(server_id, _INCOMING)).rows:
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
    _SET_ROLE.execute(conn, {**_of(server_id, old), "new_role": new})


def _of(server_id: str, role: str) -> dict[str, str]:
    return {"server_id": server_id, "role": role}


# The statements of every claim, switch-over and release: prepared once (persistence.prepared).
_OF_ROLE = (claims.c.server_id == bindparam("server_id"), claims.c.role == bindparam("role"))
_CLAIMED_HOST = Prepared(select(claims.c.host_id).where(*_OF_ROLE).limit(1))
_CLAIMED_NODES = Prepared(select(claims.c.node_index).where(*_OF_ROLE))
_LOCK_CLAIMS = Prepared(select(claims).where(*_OF_ROLE).with_for_update())
_LOCK_ALL_CLAIMS = Prepared(
    select(claims).where(claims.c.server_id == bindparam("server_id")).with_for_update()
)
_SET_ROLE = Prepared(update(claims).where(*_OF_ROLE).values(role=bindparam("new_role")))
_HOLD_HOST = Prepared(
    lambda dialect: (
        update(hosts)
        .where(
            hosts.c.id == bindparam("host_id"),
            hosts.c.state == HostState.AVAILABLE.value,
            hosts.c.draining_job.is_(None),  # a drained DeH takes no one (services/drain.py)
        )
        .values(generation=stamp_for(dialect))
    )
)
_TAKE_NODE = Prepared(
    update(numa_nodes)
    .where(
        numa_nodes.c.host_id == bindparam("host_id"),
        numa_nodes.c.node_index == bindparam("node_index"),
        numa_nodes.c.vcpus_free >= bindparam("vcpus"),
        numa_nodes.c.memory_free >= bindparam("memory_mb"),
    )
    .values(
        vcpus_free=numa_nodes.c.vcpus_free - bindparam("vcpus"),
        memory_free=numa_nodes.c.memory_free - bindparam("memory_mb"),
    )
)
_GIVE_NODE = Prepared(
    update(numa_nodes)
    .where(
        numa_nodes.c.host_id == bindparam("host_id"),
        numa_nodes.c.node_index == bindparam("node_index"),
    )
    .values(
        vcpus_free=numa_nodes.c.vcpus_free + bindparam("vcpus"),
        memory_free=numa_nodes.c.memory_free + bindparam("memory_mb"),
    )
)
_INSERT_CLAIM = Prepared(
    claims.insert().values(
        server_id=bindparam("server_id"),
        host_id=bindparam("host_id"),
        node_index=bindparam("node_index"),
        vcpus=bindparam("vcpus"),
        memory_mb=bindparam("memory_mb"),
        role=bindparam("role"),
    )
)
_DELETE_CLAIM = Prepared(delete(claims).where(claims.c.id == bindparam("claim_id")))


class _ClaimLost(Exception):
    """A NUMA node no longer had room, or another member of the server's ECS group holds
    the host: a concurrent claim won. Rolls the transaction back."""


def _claim_in(conn: Connection, server_id: str, placement: Placement, role: str) -> None:
    # Touching the host row first serialises this claim with a concurrent release of the host
    # (which updates the same row), so that a released host never receives a claim; the touch
    # is the host's new generation, which every process's pool index reads as "changed".
    held = _HOLD_HOST.execute(conn, {"host_id": placement.host_id})
    nodes = _node_rows(placement)
    if held.rowcount != 1 or not all(_TAKE_NODE.execute(conn, n).rowcount == 1 for n in nodes):
        raise _ClaimLost
    # The anti-affinity rule, in the same transaction as the capacity: see group_store.
    if not take_group_place_in(conn, server_id, placement.host_id):
        raise _ClaimLost
    _INSERT_CLAIM.execute_many(conn, [{**n, "server_id": server_id, "role": role} for n in nodes])


def _node_rows(placement: Placement) -> list[dict[str, object]]:
    """The room ``placement`` takes on each of its NUMA nodes."""
    fit = placement.fit
    return [
        {
            "host_id": placement.host_id,
            "node_index": index,
            "vcpus": fit.vcpus_per_node,
            "memory_mb": fit.memory_per_node,
        }
        for index in fit.node_indexes
    ]


def release_in(conn: Connection, server_id: str, role: str | None) -> list[str]:
    """Give back the server's claims (all, or those of ``role``) in this transaction; the
    hosts given room."""
    if role is None:
        rows = _LOCK_ALL_CLAIMS.execute(conn, {"server_id": server_id}).rows
    else:
        rows = _LOCK_CLAIMS.execute(conn, _of(server_id, role)).rows
    stamp_hosts_in(conn, (r.host_id for r in rows))  # host rows first, as a claim takes them
    for row in rows:
        given = {"host_id": row.host_id, "node_index": row.node_index}
        _GIVE_NODE.execute(conn, {**given, "vcpus": row.vcpus, "memory_mb": row.memory_mb})
    freed = sorted({r.host_id for r in rows})
    if rows:
        _DELETE_CLAIM.execute_many(conn, [{"claim_id": r.id} for r in rows])
        give_up_group_places_in(conn, server_id, freed)
    return freed
