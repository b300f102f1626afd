"""NUMA-aware placement: pure decisions over frozen snapshots of host capacity.

- ``types``: the frozen values (request, host view, fit, placement, rejection, strategy);
- ``snapshot``: those values taken from the domain's hosts and flavors;
- ``numa_fit``: one guest inside one host's NUMA nodes;
- ``engine``: the order of every host that fits, or the closest rejection;
- ``capacity_index``: the same first choice, and the same closest host when none fits, kept
  up to date without scanning every host;
- ``reasons``: a rejection in words, for a job's fail_reason.
"""

from __future__ import annotations

from coldshift.placement.capacity_index import CapacityIndex, Rank, closest_in
from coldshift.placement.engine import choose_host, closest_rejection, order_key
from coldshift.placement.numa_fit import fit_numa, given_back, taken
from coldshift.placement.reasons import (
    CONTENTION,
    NoRoom,
    group_rule_reason,
    lone_deh_scope,
    no_room_counted,
    no_room_reason,
)
from coldshift.placement.snapshot import host_view, numa_request
from coldshift.placement.types import (
    HostView,
    NumaFit,
    NumaRequest,
    Placement,
    Rejection,
    Strategy,
)

__all__ = [
    "CONTENTION",
    "CapacityIndex",
    "HostView",
    "NoRoom",
    "NumaFit",
    "NumaRequest",
    "Placement",
    "Rank",
    "Rejection",
    "Strategy",
    "choose_host",
    "closest_in",
    "closest_rejection",
    "fit_numa",
    "given_back",
    "group_rule_reason",
    "host_view",
    "lone_deh_scope",
    "no_room_counted",
    "no_room_reason",
    "numa_request",
    "order_key",
    "taken",
]
