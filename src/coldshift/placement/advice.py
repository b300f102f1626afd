"""Defragmentation advice: the fewest moves of other guests after which a guest fits.

When a guest fits nowhere because the free room is split across NUMA nodes, moving one to three
stopped guests off one of its candidate hosts may free one node enough. The search is bounded,
not exhaustive: only guests on the goal's own hosts are moved (a move elsewhere frees nothing
the goal can use), only the largest ``MAX_MOVERS_PER_HOST`` of a host are tried, and at most
``budget`` sequences are simulated. Every move is simulated with the same decision a migration
makes (``choose_host`` and the destination's strategy), in order, so that the advice, followed
move by move, is what the claims will do.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations

from coldshift.placement.engine import choose_host
from coldshift.placement.numa_fit import fit_numa, given_back, taken
from coldshift.placement.types import HostView, NumaFit, NumaRequest, Placement, Strategy

#: the most moves one piece of advice asks for (operations.md)
MAX_MOVES = 3
#: the guests of one host tried as movers, largest first: C(12, 3) = 220 sets at most a host
MAX_MOVERS_PER_HOST = 12
#: the move sequences simulated at most in one search (each costs a few host scans)
DEFAULT_BUDGET = 400


@dataclass(frozen=True, slots=True)
class Destination:
    """Where one migration may go: ``label`` names it (a DeH id, or "pool"); its hosts are
    chosen among by ``strategy``, exactly as the claim chooses."""

    label: str
    host_ids: tuple[str, ...]
    strategy: Strategy


@dataclass(frozen=True, slots=True)
class Mover:
    """A guest that could be migrated away: where it is, what it holds, where it may go (in
    the order tried). ``group_id`` is its anti-affinity group (members never share a host)."""

    server_id: str
    host_id: str
    request: NumaRequest
    fit: NumaFit
    destinations: tuple[Destination, ...]
    group_id: str | None = None


@dataclass(frozen=True, slots=True)
class Goal:
    """The guest that does not fit, and where its migration goes."""

    request: NumaRequest
    destination: Destination
    group_id: str | None = None


@dataclass(frozen=True, slots=True)
class Move:
    """Migrate ``server_id`` from ``from_host`` to ``to`` (a destination's label); the claim
    would take ``placement``."""

    server_id: str
    from_host: str
    to: str
    placement: Placement


@dataclass(frozen=True, slots=True)
class Advice:
    """``moves`` in order, after which the goal fits at ``then``."""

    moves: tuple[Move, ...]
    then: Placement


def advise(
    goal: Goal,
    movers: Sequence[Mover],
    hosts: Mapping[str, HostView],
    *,
    max_moves: int = MAX_MOVES,
    budget: int = DEFAULT_BUDGET,
) -> Advice | None:
    """The fewest moves (at most ``max_moves``) after which ``goal`` fits; None when the bounded
    search finds none. ``hosts`` holds every host a destination names, as read now."""
    world = dict(hosts)
    now = _goal_fits(goal, world, frozenset())
    if now is not None:
        return Advice((), now)
    on_host = _movers_by_goal_host(goal, movers, world)
    tried = 0
    for count in range(1, max_moves + 1):
        for host_id, candidates in on_host.items():
            for chosen in combinations(candidates, count):
                if not _frees_enough(goal.request, world[host_id], chosen):
                    continue
                tried += 1
                if tried > budget:
                    return None
                found = _simulate(goal, chosen, world)
                if found is not None:
                    return found
    return None


def _movers_by_goal_host(
    goal: Goal, movers: Sequence[Mover], world: Mapping[str, HostView]
) -> dict[str, list[Mover]]:
    """The movers of each goal host that could free enough if all left, largest first; the
    hosts closest to fitting first (the least missing on their best node)."""
    grouped: dict[str, list[Mover]] = {}
    for mover in movers:
        if mover.host_id in goal.destination.host_ids and mover.host_id in world:
            grouped.setdefault(mover.host_id, []).append(mover)
    kept: dict[str, list[Mover]] = {}
    for host_id, found in grouped.items():
        found.sort(key=lambda m: (-m.request.vcpus, -m.request.memory_mb, m.server_id))
        found = found[:MAX_MOVERS_PER_HOST]
        if _frees_enough(goal.request, world[host_id], found):
            kept[host_id] = found
    order = sorted(kept, key=lambda h: (_missing(goal.request, world[h]), world[h].name))
    return {h: kept[h] for h in order}


def _missing(request: NumaRequest, host: HostView) -> tuple[int, int]:
    best = max(host.nodes, key=lambda n: (n.vcpus_free, n.memory_free), default=None)
    if best is None:
        return (request.vcpus_per_node, request.memory_per_node)
    return (
        max(0, request.vcpus_per_node - best.vcpus_free),
        max(0, request.memory_per_node - best.memory_free),
    )


def _frees_enough(request: NumaRequest, host: HostView, leaving: Sequence[Mover]) -> bool:
    """Would ``request`` fit on ``host`` once ``leaving`` have given their room back?"""
    for mover in leaving:
        host = given_back(host, mover.fit)
    return isinstance(fit_numa(request, host.nodes), NumaFit)


def _simulate(goal: Goal, chosen: Sequence[Mover], hosts: Mapping[str, HostView]) -> Advice | None:
    """Run the moves in order on a copy of ``hosts``, each decided as its claim would be; the
    advice if every move finds room and the goal fits afterwards."""
    world = dict(hosts)
    moves: list[Move] = []
    landed: dict[str, set[str]] = {}  # group id → hosts its moved members landed on
    for mover in chosen:
        closed = frozenset(landed.get(mover.group_id, ())) if mover.group_id else frozenset()
        move = _move(mover, world, closed)
        if move is None:
            return None
        moves.append(move)
        if mover.group_id:
            landed.setdefault(mover.group_id, set()).add(move.placement.host_id)
    goal_closed = frozenset(landed.get(goal.group_id, ())) if goal.group_id else frozenset()
    then = _goal_fits(goal, world, goal_closed)
    return Advice(tuple(moves), then) if then is not None else None


def _move(mover: Mover, world: dict[str, HostView], closed: frozenset[str]) -> Move | None:
    """Migrate ``mover`` to its first destination with room: its source keeps its room until
    the switch-over, so it is given back only once the target is chosen (as the job does)."""
    for destination in mover.destinations:
        views = [
            world[h]
            for h in destination.host_ids
            if h in world and h != mover.host_id and h not in closed
        ]
        choice = choose_host(mover.request, views, destination.strategy)
        if isinstance(choice, list):
            placement = choice[0]
            world[placement.host_id] = taken(world[placement.host_id], placement.fit)
            world[mover.host_id] = given_back(world[mover.host_id], mover.fit)
            return Move(mover.server_id, mover.host_id, destination.label, placement)
    return None


def _goal_fits(
    goal: Goal, world: Mapping[str, HostView], closed: frozenset[str]
) -> Placement | None:
    views = [world[h] for h in goal.destination.host_ids if h in world and h not in closed]
    choice = choose_host(goal.request, views, goal.destination.strategy)
    return choice[0] if isinstance(choice, list) else None
