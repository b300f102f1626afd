"""Place a server: build snapshots, ask placement, claim atomically, retry on a lost race.

This scan of every candidate serves dedicated hosts (a project's few DeHs, or one targeted
DeH); the public pool, which may hold thousands of hosts, goes through ``pool_index``."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from coldshift.domain.catalog import Catalog, Flavor
from coldshift.domain.hosts import Host, HostKind, HostState
from coldshift.placement import (
    NumaRequest,
    Rejection,
    Strategy,
    choose_host,
    host_view,
    lone_deh_scope,
    no_room_reason,
    numa_request,
)
from coldshift.services.ports import RegionStore

CAPACITY_CODE = "Ecs.0319"
MAX_ROUNDS = 8

CandidateSource = Callable[[], list[Host]]
#: the server row's new values once a claim on the host of this id succeeds
ServerValues = Callable[[str], dict[str, Any]]
_DECISIONS = threading.Lock()


class NoCapacity(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def place_and_claim(
    store: RegionStore,
    server_id: str,
    flavor: Flavor,
    candidates: CandidateSource,
    strategy: Strategy,
    role: str,
    server_values: ServerValues,
) -> Host:
    """Claim room for ``flavor`` on the best candidate; raise NoCapacity with the numbers.

    A claim that loses a race (another claim took the node first) falls through to the next
    candidate; after a full round without success the snapshot is re-read.
    """
    request = numa_request(flavor)
    # Decide and claim under one in-process lock, so that concurrent jobs of this process see
    # each other's claims (exact spread and best fit); across processes the guarded claim
    # alone keeps capacity exact, and a lost race re-reads the snapshot.
    with _DECISIONS:
        return _place(store, server_id, flavor, request, candidates, strategy, role, server_values)


def _place(
    store: RegionStore,
    server_id: str,
    flavor: Flavor,
    request: NumaRequest,
    candidates: CandidateSource,
    strategy: Strategy,
    role: str,
    server_values: ServerValues,
) -> Host:
    for _ in range(MAX_ROUNDS):
        hosts = {h.id: h for h in candidates() if h.state is HostState.AVAILABLE}
        views = [host_view(h) for h in hosts.values()]
        choice = choose_host(request, views, strategy)
        if isinstance(choice, Rejection):
            scope = lone_deh_scope(list(hosts.values()))
            raise NoCapacity(no_room_reason(choice, flavor.id, views, scope))
        for placement in choice:
            if store.claim(server_id, placement, role, server_values(placement.host_id)):
                return hosts[placement.host_id]
    raise NoCapacity(f"capacity for flavor {flavor.id} kept being taken by concurrent claims")


def dedicated_candidates(
    store: RegionStore,
    catalog: Catalog,
    project_id: str,
    az: str,
    flavor: Flavor,
    host_id: str | None,
) -> CandidateSource:
    def load() -> list[Host]:
        if host_id is not None:
            host = store.get_host(host_id)
            return [host] if host is not None else []
        return [
            h
            for h in store.list_hosts(
                kind=HostKind.DEH, project_id=project_id, availability_zone=az
            )
            if h.auto_placement == "on" and _type_supports(catalog, h, flavor)
        ]

    return load


def _type_supports(catalog: Catalog, host: Host, flavor: Flavor) -> bool:
    host_type = catalog.host_type(host.host_type)
    return host_type is not None and host_type.supports(flavor.id)
