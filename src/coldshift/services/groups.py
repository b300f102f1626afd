"""ECS groups: create, read, delete, and members joining and leaving (docs/ecs-groups.md).

What a member may join is decided by the store in one write (GroupStore.add_members); this
module checks what the request names first, so that an unknown or foreign id answers as
Huawei does, and nothing changes when one of them is wrong.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from coldshift.domain.errors import BadRequest, InvalidMarker, ServerGroupNotFound
from coldshift.domain.groups import MAX_MEMBERS, ServerGroup, check_new_group
from coldshift.domain.ids import new_uuid
from coldshift.services.context import Region


@dataclass(frozen=True, slots=True)
class GroupPage:
    groups: list[ServerGroup]
    more: bool


def create_group(region: Region, project_id: str, name: object, policies: object) -> ServerGroup:
    valid_name, policy = check_new_group(name, policies)
    group = ServerGroup(new_uuid(), project_id, valid_name, policy, region.clock())
    region.store.add_group(group)
    return group


def show_group(region: Region, project_id: str, group_id: str) -> ServerGroup:
    """A group of the project; another project's answers exactly like an unknown one."""
    group = region.store.get_group(project_id, group_id)
    if group is None:
        raise ServerGroupNotFound(group_id)
    return group


def list_groups(
    region: Region, project_id: str, limit: int | None = None, marker: str | None = None
) -> GroupPage:
    """The project's groups, oldest first; ``limit`` of them after the group ``marker``."""
    groups = region.store.list_groups(project_id)
    start = 0
    if marker is not None:
        ids = [g.id for g in groups]
        if marker not in ids:
            raise InvalidMarker(marker)
        start = ids.index(marker) + 1
    end = len(groups) if limit is None else start + limit
    return GroupPage(groups[start:end], more=end < len(groups))


def delete_group(region: Region, project_id: str, group_id: str) -> None:
    """Delete a group, members or not (Nova's answer; Huawei documents no refusal): the
    members stay where they are, no longer bound by its rule."""
    show_group(region, project_id, group_id)
    region.store.delete_group(group_id)


def add_members(region: Region, project_id: str, group_id: str, server_ids: Sequence[str]) -> None:
    """All or nothing: each server of the project, stopped and idle, joins the group."""
    _checked(region, project_id, group_id, server_ids)
    region.store.add_members(group_id, server_ids, MAX_MEMBERS)


def remove_members(
    region: Region, project_id: str, group_id: str, server_ids: Sequence[str]
) -> None:
    """All or nothing: each server leaves the group (a deleted server has left already)."""
    _checked(region, project_id, group_id, server_ids)
    region.store.remove_members(group_id, server_ids)


def group_for_create(region: Region, project_id: str, group_id: str) -> ServerGroup:
    """The group a create's ``os:scheduler_hints.group`` names: a bad parameter of the create
    (400) when it is unknown or foreign, as an unusable DeH is."""
    group = region.store.get_group(project_id, group_id)
    if group is None:
        raise BadRequest(f"os:scheduler_hints.group: ECS group {group_id} does not exist")
    return group


def _checked(region: Region, project_id: str, group_id: str, server_ids: Sequence[str]) -> None:
    show_group(region, project_id, group_id)
    if not server_ids:
        raise BadRequest("name at least one ECS")
    if len(server_ids) > MAX_MEMBERS:
        raise BadRequest(f"an ECS group has at most {MAX_MEMBERS} members; {len(server_ids)} named")
    for server_id in server_ids:
        region.server(project_id, server_id)  # ServerNotFound for an unknown or foreign one
