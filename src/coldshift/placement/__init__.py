"""NUMA-aware placement: pure functions over frozen snapshots of host capacity."""

from __future__ import annotations

from coldshift.placement.engine import choose_host
from coldshift.placement.index import CapacityIndex
from coldshift.placement.numa_fit import fit_numa
from coldshift.placement.types import (
    HostView,
    NodeView,
    NumaFit,
    NumaRequest,
    Placement,
    Rejection,
    Strategy,
)

__all__ = [
    "CapacityIndex",
    "HostView",
    "NodeView",
    "NumaFit",
    "NumaRequest",
    "Placement",
    "Rejection",
    "Strategy",
    "choose_host",
    "fit_numa",
]
