"""Why a flavor found no room, in words: the reason a job's ``fail_reason`` carries."""

from __future__ import annotations

from collections.abc import Sequence

from coldshift.domain.hosts import Host, HostKind
from coldshift.placement.types import HostView, Rejection


def no_room_reason(
    rejection: Rejection, flavor_id: str, hosts: Sequence[HostView], scope: str | None = None
) -> str:
    """The closest host's numbers and the most free vCPUs of any host; ``scope`` names the
    candidates (default: how many there were)."""
    if not hosts:
        return f"no host can take flavor {flavor_id}"
    most_free = max(h.vcpus_free for h in hosts)
    return (
        f"{scope or f'{len(hosts)} candidate hosts'}: flavor {flavor_id} does not fit "
        f"({rejection.describe()}; most free vCPUs on one host: {most_free})"
    )


def lone_deh_scope(hosts: Sequence[Host]) -> str | None:
    """A lone candidate DeH is named in the reason: the user named it, or it is their only one."""
    if len(hosts) == 1 and hosts[0].kind is HostKind.DEH:
        return f"dedicated host {hosts[0].id}"
    return None


def group_rule_reason(group_id: str, flavor_id: str, closed: int) -> str:
    """Hosts fit the flavor, but the anti-affinity of the server's ECS group closes them all."""
    return (
        f"the anti-affinity policy of ECS group {group_id} leaves no host: every host with room "
        f"for flavor {flavor_id} already holds a member of the group ({closed} host(s) closed)"
    )
