"""Why a flavor found no room, in words: the reason a job's ``fail_reason`` carries."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from coldshift.domain.hosts import Host, HostKind
from coldshift.placement.numa_fit import SINGLE_NODE_RULE, SPLIT_RULE
from coldshift.placement.types import HostView, Rejection

#: why nothing could be claimed, as metrics count it (a few fixed words, never numbers)
NUMA_SINGLE_NODE = "numa_single_node"
NUMA_SPLIT = "numa_split"
NO_HOST = "no_host"
ANTI_AFFINITY = "anti_affinity"
CONTENTION = "contention"


@dataclass(frozen=True, slots=True)
class NoRoom:
    """Why nothing fits: the words a job's fail_reason carries, and their ``cause``."""

    reason: str
    cause: str


def rejection_cause(rejection: Rejection) -> str:
    if rejection.reason == SINGLE_NODE_RULE:
        return NUMA_SINGLE_NODE
    return NUMA_SPLIT if rejection.reason.startswith(SPLIT_RULE) else NO_HOST


def no_room_reason(
    rejection: Rejection, flavor_id: str, hosts: Sequence[HostView], scope: str | None = None
) -> NoRoom:
    """The closest host's numbers and the most free vCPUs of any host; ``scope`` names the
    candidates (default: how many there were)."""
    most_free = max((h.vcpus_free for h in hosts), default=0)
    return no_room_counted(rejection, flavor_id, len(hosts), most_free, scope)


def no_room_counted(
    rejection: Rejection,
    flavor_id: str,
    candidates: int,
    most_free_vcpus: int,
    scope: str | None = None,
) -> NoRoom:
    """``no_room_reason`` from the count of candidate hosts and their most free vCPUs (what
    a capacity index keeps), without the hosts."""
    if not candidates:
        return NoRoom(f"no host can take flavor {flavor_id}", NO_HOST)
    return NoRoom(
        f"{scope or f'{candidates} candidate hosts'}: flavor {flavor_id} does not fit "
        f"({rejection.describe()}; most free vCPUs on one host: {most_free_vcpus})",
        rejection_cause(rejection),
    )


def lone_deh_scope(hosts: Sequence[Host]) -> str | None:
    """A lone candidate DeH is named in the reason: the user named it, or it is their only one."""
    if len(hosts) == 1 and hosts[0].kind is HostKind.DEH:
        return f"dedicated host {hosts[0].id}"
    return None


def group_rule_reason(group_id: str, flavor_id: str, closed: int) -> NoRoom:
    """Hosts fit the flavor, but the anti-affinity of the server's ECS group closes them all."""
    return NoRoom(
        f"the anti-affinity policy of ECS group {group_id} leaves no host: every host with room "
        f"for flavor {flavor_id} already holds a member of the group ({closed} host(s) closed)",
        ANTI_AFFINITY,
    )
