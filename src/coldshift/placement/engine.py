"""Choose a host among candidates: filter by NUMA fit, order by strategy, ties by name."""

from __future__ import annotations

from collections.abc import Iterable

from coldshift.placement.numa_fit import fit_numa
from coldshift.placement.types import (
    HostView,
    NumaFit,
    NumaRequest,
    Placement,
    Rejection,
    Strategy,
)


def choose_host(
    request: NumaRequest, hosts: Iterable[HostView], strategy: Strategy
) -> list[Placement] | Rejection:
    """Every host that fits, best first; a Rejection with the closest numbers if none does.

    Returning the ordered list (not one pick) lets the caller fall through to the next host
    when an atomic claim loses a race.
    """
    fitting: list[tuple[HostView, NumaFit]] = []
    rejections: list[Rejection] = []
    for host in hosts:
        fit = fit_numa(request, host.nodes)
        if isinstance(fit, NumaFit):
            fitting.append((host, fit))
        else:
            rejections.append(fit)
    if not fitting:
        return _closest(request, rejections)
    fitting.sort(key=lambda hf: order_key(hf[0], strategy))
    return [Placement(host.host_id, fit) for host, fit in fitting]


def closest_rejection(request: NumaRequest, hosts: Iterable[HostView]) -> Rejection:
    """The Rejection ``choose_host`` gives when none of ``hosts`` fits."""
    return _closest(
        request,
        [r for h in hosts if isinstance(r := fit_numa(request, h.nodes), Rejection)],
    )


def order_key(host: HostView, strategy: Strategy) -> tuple[float, int, str]:
    """Smallest first: SPREAD by load, then most free memory; PACK the reverse; then name."""
    load = 1.0 - host.vcpus_free / host.vcpus_total if host.vcpus_total else 1.0
    primary = load if strategy is Strategy.SPREAD else -load
    return (
        primary,
        -host.memory_free if strategy is Strategy.SPREAD else host.memory_free,
        host.name,
    )


def _closest(request: NumaRequest, rejections: list[Rejection]) -> Rejection:
    if not rejections:
        return Rejection("no candidate host", request.vcpus_per_node, request.memory_per_node, 0, 0)
    return max(rejections, key=lambda r: (r.largest_free_vcpus, r.largest_free_memory))
