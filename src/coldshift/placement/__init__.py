"""NUMA-aware placement: pure functions over frozen snapshots of host capacity."""

from __future__ import annotations

from coldshift.placement.engine import choose_host, closest_rejection, order_key
from coldshift.placement.index import CapacityIndex
from coldshift.placement.numa_fit import fit_numa, given_back, taken
from coldshift.placement.types import (
    HostView,
    NumaFit,
    NumaRequest,
    Placement,
    Rejection,
    Strategy,
)

__all__ = [
    "CapacityIndex",
    "HostView",
    "NumaFit",
    "NumaRequest",
    "Placement",
    "Rejection",
    "Strategy",
    "choose_host",
    "closest_rejection",
    "fit_numa",
    "given_back",
    "order_key",
    "taken",
]
