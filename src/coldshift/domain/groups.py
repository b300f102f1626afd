"""ECS groups (Nova "server groups"): the anti-affinity rule a cold migration inherits.

Huawei Cloud offers one policy, ``anti-affinity``: no two members of a group on one host
(pool hosts and DeHs alike). The sources of each rule are in docs/ecs-groups.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from coldshift.domain.errors import BadRequest

ANTI_AFFINITY = "anti-affinity"
#: "the server group supports up to 16 elastic cloud servers" (Huawei AOS ECS.ServerGroup)
MAX_MEMBERS = 16
#: "The value contains 1 to 255 characters" (Creating an ECS Group)
MAX_NAME = 255


@dataclass(frozen=True, slots=True)
class ServerGroup:
    """A project's ECS group and its members, oldest member first."""

    id: str
    project_id: str
    name: str
    policy: str
    created_at: float
    members: tuple[str, ...] = ()


def check_new_group(name: object, policies: object) -> tuple[str, str]:
    """The (name, policy) of a valid new group; BadRequest saying what is wrong otherwise."""
    if not isinstance(name, str) or not name.strip():
        raise BadRequest("server_group.name must be a non-empty string")
    if len(name) > MAX_NAME:
        raise BadRequest(f"server_group.name must be at most {MAX_NAME} characters")
    if not isinstance(policies, list) or not all(isinstance(p, str) for p in policies):
        raise BadRequest('server_group.policies must be a list of strings, e.g. ["anti-affinity"]')
    if policies != [ANTI_AFFINITY]:
        raise BadRequest(
            f"server_group.policies {policies!r} is not supported: only one policy, "
            f'"{ANTI_AFFINITY}", is offered'
        )
    return name, ANTI_AFFINITY


def hosts_taken(member_hosts: Sequence[tuple[str, str]], server_id: str) -> frozenset[str]:
    """The hosts the rule closes to ``server_id``: those another member holds room on,
    given as (member, host) pairs."""
    return frozenset(host for member, host in member_hosts if member != server_id)


@dataclass(frozen=True, slots=True)
class GroupRule:
    """What a server's group forbids it: the hosts ``closed`` to it (another member holds
    room there). Read at a decision; the claim re-checks it in its own transaction."""

    group_id: str
    closed: frozenset[str]
