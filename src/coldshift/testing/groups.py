"""ECS groups in memory, with the SQL group store's semantics (persistence.group_store):
part of InMemoryRegionStore, whose lock, servers and claims it shares."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Protocol

from coldshift.domain.errors import (
    GroupFull,
    GroupMembershipRefused,
    ServerBusy,
    ServerGroupNotFound,
)
from coldshift.domain.groups import GroupRule, ServerGroup, hosts_taken
from coldshift.domain.servers import Server, VmState


class _Claim(Protocol):
    @property
    def server_id(self) -> str: ...

    @property
    def host_id(self) -> str: ...


class InMemoryGroups:
    """The group half of InMemoryRegionStore: groups, members in joining order, and the
    (group, host) places that members' claims hold (the SQL ``group_hosts`` rows)."""

    _lock: threading.RLock
    _clock: Callable[[], float]
    _servers: dict[str, Server]
    _claims: Sequence[_Claim]  # the region store's own claim rows

    def _init_groups(self) -> None:
        self._groups: dict[str, ServerGroup] = {}
        self._member_of: dict[str, str] = {}  # server id → group id, in joining order
        self._places: dict[tuple[str, str], str] = {}  # (group, host) → member

    def add_group(self, group: ServerGroup) -> None:
        with self._lock:
            self._groups[group.id] = replace(group, members=())

    def get_group(self, project_id: str, group_id: str) -> ServerGroup | None:
        with self._lock:
            group = self._groups.get(group_id)
            if group is None or group.project_id != project_id:
                return None
            return self._with_members(group)

    def list_groups(self, project_id: str) -> list[ServerGroup]:
        with self._lock:
            found = [self._with_members(g) for g in self._groups.values()]
        mine = [g for g in found if g.project_id == project_id]
        return sorted(mine, key=lambda g: (g.created_at, g.id))

    def delete_group(self, group_id: str) -> None:
        with self._lock:
            self._groups.pop(group_id, None)
            self._member_of = {s: g for s, g in self._member_of.items() if g != group_id}
            self._places = {k: v for k, v in self._places.items() if k[0] != group_id}

    def add_members(self, group_id: str, server_ids: Sequence[str], limit: int) -> None:
        with self._lock:
            self._existing(group_id)
            joining = [s for s in dict.fromkeys(server_ids) if self._member_of.get(s) != group_id]
            count = sum(1 for g in self._member_of.values() if g == group_id)
            if count + len(joining) > limit:
                raise GroupFull(group_id, limit, count, len(joining))
            places = dict(self._places)
            for server_id in joining:  # check all first: a refusal changes nothing
                self._check_joins(group_id, server_id, places)
            now = self._clock()
            for server_id in joining:
                self._member_of[server_id] = group_id
                self._servers[server_id] = replace(self._servers[server_id], updated_at=now)
            self._places = places

    def remove_members(self, group_id: str, server_ids: Sequence[str]) -> None:
        with self._lock:
            self._existing(group_id)
            leaving = list(dict.fromkeys(server_ids))
            for server_id in leaving:
                if self._member_of.get(server_id) != group_id:
                    raise GroupMembershipRefused(
                        f"the ECS {server_id} is not a member of ECS group {group_id}"
                    )
            for server_id in leaving:
                self._leave(server_id)

    def group_rule(self, server_id: str) -> GroupRule | None:
        with self._lock:
            group_id = self._member_of.get(server_id)
            if group_id is None:
                return None
            pairs = [(m, h) for (g, h), m in self._places.items() if g == group_id]
        return GroupRule(group_id, hosts_taken(pairs, server_id))

    # ---- for the region store, inside its lock -----------------------------------------

    def _join_new(self, group_id: str, server_ids: Sequence[str], limit: int) -> None:
        """Check that new servers may join (raise otherwise); ``_joined_new`` applies it."""
        self._existing(group_id)
        count = sum(1 for g in self._member_of.values() if g == group_id)
        if count + len(server_ids) > limit:
            raise GroupFull(group_id, limit, count, len(server_ids))

    def _joined_new(self, group_id: str, server_ids: Sequence[str]) -> None:
        self._member_of.update((s, group_id) for s in server_ids)

    def _place_free(self, server_id: str, host_id: str) -> bool:
        group_id = self._member_of.get(server_id)
        return group_id is None or self._places.get((group_id, host_id), server_id) == server_id

    def _take_place(self, server_id: str, host_id: str) -> None:
        group_id = self._member_of.get(server_id)
        if group_id is not None:
            self._places[(group_id, host_id)] = server_id

    def _give_up_places(self, server_id: str) -> None:
        """Drop the places of the server on hosts where it no longer holds claims."""
        held = {c.host_id for c in self._claims if c.server_id == server_id}
        self._places = {k: m for k, m in self._places.items() if m != server_id or k[1] in held}

    def _leave(self, server_id: str) -> None:
        self._member_of.pop(server_id, None)
        self._places = {k: m for k, m in self._places.items() if m != server_id}

    def _existing(self, group_id: str) -> ServerGroup:
        group = self._groups.get(group_id)
        if group is None:
            raise ServerGroupNotFound(group_id)
        return group

    def _check_joins(
        self, group_id: str, server_id: str, places: dict[tuple[str, str], str]
    ) -> None:
        other = self._member_of.get(server_id)
        if other is not None:
            raise GroupMembershipRefused(
                f"the ECS {server_id} is already a member of ECS group {other}; "
                "remove it from that group first"
            )
        server = self._servers.get(server_id)
        if server is None or server.vm_state != VmState.STOPPED or server.task_state is not None:
            raise ServerBusy(
                f"the ECS {server_id} must be stopped, with no task running, to join an ECS "
                "group: stop it first"
            )
        for host_id in {c.host_id for c in self._claims if c.server_id == server_id}:
            if places.setdefault((group_id, host_id), server_id) != server_id:
                raise GroupMembershipRefused(
                    f"the ECS {server_id} is on host {host_id}, which already holds another "
                    f"member of ECS group {group_id}; migrate one of them first"
                )

    def _with_members(self, group: ServerGroup) -> ServerGroup:
        members = tuple(s for s, g in self._member_of.items() if g == group.id)
        return replace(group, members=members)
