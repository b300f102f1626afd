"""The what-if's answer (a coldshift extension: docs/api-extensions.md)."""

from __future__ import annotations

from typing import Any

from coldshift.api.views.servers import pool_alias
from coldshift.domain.codes import Code
from coldshift.domain.hosts import Host, HostKind
from coldshift.placement.advice import Advice
from coldshift.placement.types import Placement
from coldshift.services.claims import ClaimedHost
from coldshift.services.what_if import WhatIf

POOL = "pool"


def what_if_view(answer: WhatIf) -> dict[str, Any]:
    numbers = answer.closest
    return {
        "server_id": answer.server.id,
        "flavor": answer.flavor.id,
        "target": answer.target.id if answer.target is not None else POOL,
        "fits": answer.fits,
        "host": _claimed(answer.host) if answer.host is not None else None,
        # what the migration's job would FAIL with: the same code and words
        "error_code": None if answer.fits else Code.NO_CAPACITY.value,
        "fail_reason": None if answer.fits else f"{Code.NO_CAPACITY}: {answer.reason}",
        "rule": numbers.reason if numbers is not None else None,
        "numbers": {
            "vcpus_per_node": numbers.vcpus_per_node,
            "memory_per_node": numbers.memory_per_node,
            "largest_free_vcpus": numbers.largest_free_vcpus,
            "largest_free_memory": numbers.largest_free_memory,
            "nodes_needed": numbers.nodes_needed,
            "nodes_with_room": numbers.nodes_with_room,
        }
        if numbers is not None
        else None,
        "advice": _advice(answer.advice, answer.hosts) if answer.advice is not None else None,
    }


def _claimed(host: ClaimedHost) -> dict[str, Any]:
    # A DeH by its id; a pool host by the alias tenants see for it (never its name).
    shown = host.id if host.kind is HostKind.DEH else pool_alias(host.name)
    return {"host": shown, "kind": host.kind.value, "numa_nodes": list(host.numa_nodes)}


def _advice(advice: Advice, hosts: dict[str, Host]) -> dict[str, Any]:
    return {
        "moves": [
            {
                "server_id": move.server_id,
                "from_host": _shown(hosts, move.from_host),
                "to": move.to,
                **_placed(hosts, move.placement),
            }
            for move in advice.moves
        ],
        "then": _placed(hosts, advice.then),
    }


def _shown(hosts: dict[str, Host], host_id: str) -> str:
    host = hosts.get(host_id)
    if host is None or host.kind is HostKind.DEH:
        return host_id
    return pool_alias(host.name)


def _placed(hosts: dict[str, Host], placement: Placement) -> dict[str, Any]:
    return {
        "host": _shown(hosts, placement.host_id),
        "numa_nodes": list(placement.fit.node_indexes),
    }
