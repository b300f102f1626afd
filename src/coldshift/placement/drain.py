"""A drain plan: every guest of one host placed on the given destinations, as a whole.

Guests are placed biggest first (vCPUs, then memory), each by the same decision its own
migration's claim makes (``choose_host`` and the destination's strategy: a DeH's best fit, the
pool's least loaded), on a copy of the hosts into which every earlier guest of the plan has
been taken, so that the plan fits together, not each guest alone. Anti-affinity: a guest never
goes to a host its ECS group already holds, nor to one an earlier guest of its group was
planned onto. A guest no destination can take is left over, with the closest numbers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from coldshift.placement.advice import Destination
from coldshift.placement.engine import choose_host
from coldshift.placement.numa_fit import taken
from coldshift.placement.types import HostView, NumaRequest, Placement, Rejection


@dataclass(frozen=True, slots=True)
class Guest:
    """A guest to move off the drained host: its room, its group and the hosts that group
    closes to it now, and where it may go (in the order tried)."""

    server_id: str
    request: NumaRequest
    destinations: tuple[Destination, ...]
    group_id: str | None = None
    closed: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class PlannedMove:
    server_id: str
    #: the destination's label (a DeH id, or "pool")
    to: str
    placement: Placement


@dataclass(frozen=True, slots=True)
class LeftOver:
    server_id: str
    reason: str


@dataclass(frozen=True, slots=True)
class DrainPlan:
    """``moves`` in the order they are made (biggest first); ``left`` could not be placed."""

    moves: tuple[PlannedMove, ...]
    left: tuple[LeftOver, ...]

    @property
    def complete(self) -> bool:
        return not self.left


def biggest_first(guests: Sequence[Guest]) -> list[Guest]:
    return sorted(guests, key=lambda g: (-g.request.vcpus, -g.request.memory_mb, g.server_id))


def plan_drain(guests: Sequence[Guest], hosts: Mapping[str, HostView]) -> DrainPlan:
    """Place ``guests`` on ``hosts`` (every host a destination names, as read now)."""
    world = dict(hosts)
    landed: dict[str, set[str]] = {}  # group id → hosts the plan put its members on
    moves: list[PlannedMove] = []
    left: list[LeftOver] = []
    for guest in biggest_first(guests):
        closed = set(guest.closed)
        if guest.group_id:
            closed |= landed.get(guest.group_id, set())
        move, why = _place(guest, world, frozenset(closed))
        if move is None:
            left.append(LeftOver(guest.server_id, why))
            continue
        world[move.placement.host_id] = taken(world[move.placement.host_id], move.placement.fit)
        moves.append(move)
        if guest.group_id:
            landed.setdefault(guest.group_id, set()).add(move.placement.host_id)
    return DrainPlan(tuple(moves), tuple(left))


def _place(
    guest: Guest, world: Mapping[str, HostView], closed: frozenset[str]
) -> tuple[PlannedMove | None, str]:
    """The first destination with room, as its claim would choose; else the closest reason."""
    closest: Rejection | None = None
    shut = False
    for destination in guest.destinations:
        open_ = [h for h in destination.host_ids if h in world and h not in closed]
        shut = shut or any(h in closed for h in destination.host_ids)
        choice = choose_host(guest.request, [world[h] for h in open_], destination.strategy)
        if isinstance(choice, list):
            return PlannedMove(guest.server_id, destination.label, choice[0]), ""
        if open_ and (closest is None or choice.largest_free_vcpus > closest.largest_free_vcpus):
            closest = choice
    if closest is not None:
        return None, f"no target has room: {closest.describe()}"
    if shut:
        return None, "anti-affinity: its ECS group holds every target that could take it"
    return None, "no target can take its flavor"
