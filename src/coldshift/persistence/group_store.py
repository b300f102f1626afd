"""ECS groups in SQL, and the anti-affinity places their members' claims take.

A member holding claims on a host holds its group's one ``group_hosts`` row for that host.
The row is taken in the claim's transaction (``take_group_place_in``, a compare-and-set on
the row's key) and given up with the member's last claim there (``give_up_group_places_in``),
so the rule holds under any concurrency, across processes, and after a kill -9.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Row, bindparam, delete, func, select, update

from coldshift.domain.errors import (
    GroupFull,
    GroupMembershipRefused,
    ServerBusy,
    ServerGroupNotFound,
)
from coldshift.domain.groups import GroupRule, ServerGroup, hosts_taken
from coldshift.domain.servers import VmState
from coldshift.persistence.db import insert_or_skip
from coldshift.persistence.prepared import Prepared
from coldshift.persistence.sql_store import SqlStore
from coldshift.persistence.tables import (
    claims,
    group_hosts,
    server_group_members,
    server_groups,
    servers,
)

_members = server_group_members


class SqlGroupStore(SqlStore):
    """services.ports.GroupStore in SQL."""

    def add_group(self, group: ServerGroup) -> None:
        with self._db.write() as conn:
            conn.execute(
                server_groups.insert().values(
                    id=group.id,
                    project_id=group.project_id,
                    name=group.name,
                    policy=group.policy,
                    created_at=group.created_at,
                )
            )

    def get_group(self, project_id: str, group_id: str) -> ServerGroup | None:
        query = select(server_groups).where(
            server_groups.c.id == group_id, server_groups.c.project_id == project_id
        )
        with self._db.read() as conn:
            row = conn.execute(query).first()
            if row is None:
                return None
            return _with_members(conn, [row])[0]

    def list_groups(self, project_id: str) -> list[ServerGroup]:
        query = (
            select(server_groups)
            .where(server_groups.c.project_id == project_id)
            .order_by(server_groups.c.created_at, server_groups.c.id)
        )
        with self._db.read() as conn:
            return _with_members(conn, conn.execute(query).all())

    def delete_group(self, group_id: str) -> None:
        with self._db.write() as conn:
            # Locked first: a member's claim inserting a place of this group (whose foreign
            # key reads the group's row) waits for the deletion instead of slipping past it.
            locked = select(server_groups.c.id).where(server_groups.c.id == group_id)
            conn.execute(locked.with_for_update())
            conn.execute(delete(group_hosts).where(group_hosts.c.group_id == group_id))
            conn.execute(delete(_members).where(_members.c.group_id == group_id))
            conn.execute(delete(server_groups).where(server_groups.c.id == group_id))

    def add_members(self, group_id: str, server_ids: Sequence[str], limit: int) -> None:
        now = self._clock()
        with self._db.write() as conn:
            _lock_group(conn, group_id)
            joining = [s for s in dict.fromkeys(server_ids) if _group_of(conn, s) != group_id]
            count = _member_count(conn, group_id)
            if count + len(joining) > limit:
                raise GroupFull(group_id, limit, count, len(joining))
            for server_id in joining:
                _join(conn, group_id, server_id, now)

    def remove_members(self, group_id: str, server_ids: Sequence[str]) -> None:
        with self._db.write() as conn:
            _lock_group(conn, group_id)
            for server_id in dict.fromkeys(server_ids):
                if _group_of(conn, server_id) != group_id:
                    raise GroupMembershipRefused(
                        f"the ECS {server_id} is not a member of ECS group {group_id}"
                    )
                conn.execute(delete(_members).where(_members.c.server_id == server_id))
                conn.execute(delete(group_hosts).where(group_hosts.c.server_id == server_id))

    def group_rule(self, server_id: str) -> GroupRule | None:
        with self._db.read() as conn:
            group_id = _group_of(conn, server_id)
            if group_id is None:
                return None
            rows = _PLACES_OF_GROUP.execute(conn, {"group_id": group_id}).rows
        return GroupRule(group_id, hosts_taken([(r.server_id, r.host_id) for r in rows], server_id))


def join_new_servers_in(
    conn: Connection, group_id: str, server_ids: Sequence[str], limit: int, now: float
) -> None:
    """New servers (no claims yet) join ``group_id`` in this transaction, or GroupFull."""
    _lock_group(conn, group_id)
    count = _member_count(conn, group_id)
    if count + len(server_ids) > limit:
        raise GroupFull(group_id, limit, count, len(server_ids))
    if server_ids:
        conn.execute(
            _members.insert(),
            [dict(server_id=s, group_id=group_id, joined_at=now) for s in server_ids],
        )


def take_group_place_in(conn: Connection, server_id: str, host_id: str) -> bool:
    """In a claim's transaction: the place of the server's group on ``host_id`` (always
    True outside groups); False when another member holds it, and the claim must roll back."""
    group_id = _group_of(conn, server_id)
    if group_id is None:
        return True
    values = dict(group_id=group_id, host_id=host_id, server_id=server_id)
    if _TAKE_PLACE.execute(conn, values).rowcount == 1:
        return True
    return _PLACE_HOLDER.execute(conn, values).scalar() == server_id


def give_up_group_places_in(conn: Connection, server_id: str, host_ids: Sequence[str]) -> None:
    """In a release's transaction: the group places on those of ``host_ids`` where the
    server no longer holds any claim."""
    for host_id in host_ids:
        _GIVE_UP_PLACE.execute(conn, {"server_id": server_id, "host_id": host_id})


def leave_group_in(conn: Connection, server_id: str) -> None:
    """A deleted server leaves its group (its places went with its claims)."""
    conn.execute(delete(group_hosts).where(group_hosts.c.server_id == server_id))
    conn.execute(delete(_members).where(_members.c.server_id == server_id))


def _lock_group(conn: Connection, group_id: str) -> None:
    """Touch the group's row: concurrent member changes of one group (and its deletion) then
    count one after the other on PostgreSQL (SQLite's writes are serial already)."""
    touched = conn.execute(
        update(server_groups)
        .where(server_groups.c.id == group_id)
        .values(name=server_groups.c.name)
    )
    if touched.rowcount != 1:
        raise ServerGroupNotFound(group_id)


def _join(conn: Connection, group_id: str, server_id: str, now: float) -> None:
    other = _group_of(conn, server_id)
    if other is not None:
        raise GroupMembershipRefused(
            f"the ECS {server_id} is already a member of ECS group {other}; "
            "remove it from that group first"
        )
    _hold_stopped_and_idle(conn, server_id, now)
    conn.execute(_members.insert().values(server_id=server_id, group_id=group_id, joined_at=now))
    hosts = conn.execute(
        select(claims.c.host_id).where(claims.c.server_id == server_id).distinct()
    ).scalars()
    for host_id in hosts:
        if not take_group_place_in(conn, server_id, host_id):
            raise GroupMembershipRefused(
                f"the ECS {server_id} is on host {host_id}, which already holds another "
                f"member of ECS group {group_id}; migrate one of them first"
            )


def _hold_stopped_and_idle(conn: Connection, server_id: str, now: float) -> None:
    # A guarded touch of the server's row: no claim (which changes the task in its own
    # transaction) can run on it until this write ends, and none ran since it was stopped.
    held = conn.execute(
        update(servers)
        .where(
            servers.c.id == server_id,
            servers.c.vm_state == VmState.STOPPED.value,
            servers.c.task_state.is_(None),
        )
        .values(updated_at=now)
    )
    if held.rowcount != 1:
        raise ServerBusy(
            f"the ECS {server_id} must be stopped, with no task running, to join an ECS "
            "group: stop it first"
        )


def _group_of(conn: Connection, server_id: str) -> str | None:
    group_id: str | None = _GROUP_OF.execute(conn, {"server_id": server_id}).scalar()
    return group_id


# Asked by every migration and claim: prepared once (persistence.prepared).
_GROUP_OF = Prepared(
    select(_members.c.group_id).where(_members.c.server_id == bindparam("server_id"))
)
_PLACE: dict[str, Any] = dict(
    group_id=bindparam("group_id"), host_id=bindparam("host_id"), server_id=bindparam("server_id")
)
#: a compare-and-set on the place's key
_TAKE_PLACE = Prepared(lambda dialect: insert_or_skip(group_hosts, dialect).values(**_PLACE))
_PLACES_OF_GROUP = Prepared(
    select(group_hosts.c.server_id, group_hosts.c.host_id).where(
        group_hosts.c.group_id == bindparam("group_id")
    )
)
_PLACE_HOLDER = Prepared(
    select(group_hosts.c.server_id).where(
        group_hosts.c.group_id == bindparam("group_id"),
        group_hosts.c.host_id == bindparam("host_id"),
    )
)
_GIVE_UP_PLACE = Prepared(
    delete(group_hosts).where(
        group_hosts.c.server_id == bindparam("server_id"),
        group_hosts.c.host_id == bindparam("host_id"),
        group_hosts.c.host_id.not_in(
            select(claims.c.host_id).where(claims.c.server_id == bindparam("server_id"))
        ),
    )
)


def _member_count(conn: Connection, group_id: str) -> int:
    count: int = conn.execute(
        select(func.count()).select_from(_members).where(_members.c.group_id == group_id)
    ).scalar_one()
    return count


def _with_members(conn: Connection, rows: Sequence[Row[Any]]) -> list[ServerGroup]:
    ids = [r.id for r in rows]
    members: dict[str, list[str]] = defaultdict(list)
    if ids:
        query = (
            select(_members.c.group_id, _members.c.server_id)
            .where(_members.c.group_id.in_(ids))
            .order_by(_members.c.joined_at, _members.c.server_id)
        )
        for group_id, server_id in conn.execute(query):
            members[group_id].append(server_id)
    return [
        ServerGroup(
            id=r.id,
            project_id=r.project_id,
            name=r.name,
            policy=r.policy,
            created_at=r.created_at,
            members=tuple(members[r.id]),
        )
        for r in rows
    ]
