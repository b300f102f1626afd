"""Placement speed: untargeted public-pool placement with the NUMA rules, in-process, no HTTP.

Usage: .venv/bin/python -m bench.placement [--hosts 1000,10000,100000] [--runs 5]
                                           [--decisions N] [--scan-seconds S] [--no-durable]
                                           [--stall-seconds S (0: no stall lines)]

For each pool size: hosts of the shipped catalog's s6 type (2 NUMA nodes of 40 vCPUs and
160 GiB), each with 10 servers already placed (s6.large/xlarge/2xlarge, put into nodes by
``fit_numa``'s best fit, seeded). Each decision places a random one-node s6 flavor (large ..
8xlarge, 2 .. 32 vCPUs); the server placed ``WINDOW`` decisions earlier is then released
(untimed), so every run sees the same steady occupancy instead of filling the pool. The "no
room" lines ask for s6.16xlarge (32 + 32 vCPUs), which no host has room for: the rare path,
where the answer carries the closest host's numbers (the index keeps the hosts ordered by
their largest free node for it; the scan looks at every host).

Measured, each after a warm-up run, as medians (min .. max) of ``--runs`` runs:

- index:      ``CapacityIndex.best`` and the update of the chosen host (the decision the
              services make, without a database);
- scan:       the same-run baseline, ``choose_host`` over every host (the old per-decision
              filter-and-sort, what a naive scheduler does) and the same update;
- durable:    ``claim_room`` in the public pool on a SQLite file: decision, the guarded claim
              statement and the re-read of the claimed host (what a create or a migration to
              the pool does);
- durable scan: the old path, re-reading every pool host from SQLite, ``choose_host``, claim.
- durable no room: ``claim_room`` of the s6.16xlarge that fits nowhere: the index's answer, the
              read of the hosts changed since the last read (a range of ``hosts.generation``)
              outside the pool's lock, and the closest numbers from the index;
- durable scan no room: the old no-room path: every pool host of the AZ re-read, then
              ``closest_rejection`` and ``no_room_reason`` over all of them.

Then, on the durable region, the stall: the placements/s one thread gets alone, beside a thread
asking no-room questions back to back, and beside the old no-room path (every host re-read
and scanned while holding the pool's lock, as it did), each for ``--stall-seconds`` of wall
clock (``bench.placement_stall``).

The durable database holds the hosts with their NUMA nodes already reduced by the 10 servers
per host, but not those servers' rows or claims (1M rows at 100k hosts would take minutes to
load and no decision reads them). Scans are slow at large sizes, so every run but the
in-memory index's stops at its decision count or after ``--scan-seconds`` (at least 3
decisions). Memory is tracemalloc's count of the index (its shape lists and keys, not the host
views, which every variant holds), measured apart from the timed runs.

The process is pinned to one core, as the goal says. The machine is shared: rates are counted
in this thread's CPU time (time spent waiting for the core is not placement's cost), with the
wall-clock rate beside; p50/p99 are wall-clock latencies, what a caller waits.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import tempfile
import time
import tracemalloc
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from bench.placement_stall import print_stall
from coldshift.catalog import load_default_catalog
from coldshift.domain.catalog import Catalog, Flavor, PoolSpec
from coldshift.domain.hosts import Host, HostKind
from coldshift.persistence.db import Database, connect
from coldshift.persistence.region_store import SqlRegionStore
from coldshift.persistence.upgrades import upgrade
from coldshift.placement import (
    CapacityIndex,
    HostView,
    NumaFit,
    Placement,
    Strategy,
    choose_host,
    fit_numa,
    given_back,
    host_view,
    no_room_reason,
    numa_request,
    taken,
)
from coldshift.services.claims import PUBLIC_POOL, NoCapacity, claim_room
from coldshift.services.pool_capacity import PoolCapacity
from coldshift.services.ports import NO_REGION_OBSERVER, RegionObserver
from coldshift.services.region_setup import new_pool_host

AZ = "local-1a"
HOST_TYPE = "s6"
SERVERS_PER_HOST = 10
PRE_PLACED = ["s6.large.2", "s6.xlarge.2", "s6.2xlarge.2"]
#: servers outstanding before the oldest is released: keeps the occupancy steady
WINDOW = 200
SEED = 20261129


@dataclass
class Run:
    """One measured run: each decision's wall-clock and CPU seconds."""

    latencies: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)

    @property
    def rate(self) -> float:
        """Decisions per second of this thread's CPU time: the machine is shared, and time
        spent waiting for the core is not the placement's cost."""
        return len(self.cpu) / sum(self.cpu)

    @property
    def wall_rate(self) -> float:
        return len(self.latencies) / sum(self.latencies)

    def p(self, fraction: float) -> float:
        """A percentile of the decisions' wall-clock latency, what a caller waits."""
        return statistics.quantiles(self.latencies, n=100, method="inclusive")[
            round(fraction * 100) - 1
        ]


# --- the synthesised pool -----------------------------------------------------------------


def pool_hosts(catalog: Catalog, count: int) -> list[Host]:
    """``count`` s6 pool hosts, each with SERVERS_PER_HOST small servers already in its nodes."""
    rng = random.Random(SEED)
    flavors = [catalog.flavor(f) for f in PRE_PLACED]
    spec = PoolSpec(AZ, HOST_TYPE, count)
    hosts = []
    for i, name in enumerate(spec.host_names()):
        host = new_pool_host(catalog, spec, name, f"host-{i:06d}", 0.0)
        view = host_view(host)
        for _ in range(SERVERS_PER_HOST):
            flavor = rng.choice(flavors)
            assert flavor is not None
            fit = fit_numa(numa_request(flavor), view.nodes)
            view = taken(view, fit) if isinstance(fit, NumaFit) else view
        hosts.append(replace(host, nodes=view.nodes))
    return hosts


def decision_flavors(catalog: Catalog, count: int) -> list[Flavor]:
    """Random one-node s6 flavors, s6.large .. s6.8xlarge (2 .. 32 vCPUs in one NUMA node)."""
    s6 = [f for f in catalog.flavors if f.id.startswith(f"{HOST_TYPE}.") and f.numa_nodes == 1]
    rng = random.Random(SEED + 1)
    return [rng.choice(s6) for _ in range(count)]


def no_room_flavors(catalog: Catalog, count: int) -> list[Flavor]:
    """s6.16xlarge (32 vCPUs in each of both nodes): best fit has filled node 0 of every host
    beyond that, so nothing fits, and every decision takes the rare "no capacity" path."""
    flavor = catalog.flavor(f"{HOST_TYPE}.16xlarge.2")
    assert flavor is not None
    return [flavor] * count


# --- in memory: the index and the scan over the same hosts --------------------------------

#: what a decision placed: the placement in memory, the server id in the database
Token = Placement | str
#: decide where ``flavor`` goes and take its room (None: no room)
Decide = Callable[[Flavor], Token | None]
#: give the room of an earlier decision back
Release = Callable[[Token], None]


def indexed(views: list[HostView]) -> tuple[Decide, Release]:
    index = CapacityIndex(Strategy.SPREAD, views)

    def decide(flavor: Flavor) -> Token | None:
        best = index.best(numa_request(flavor))
        if not isinstance(best, Placement):
            return None
        index.put(taken(index.host(best.host_id), best.fit))
        return best

    def release(placement: Token) -> None:
        assert isinstance(placement, Placement)
        index.put(given_back(index.host(placement.host_id), placement.fit))

    return decide, release


def scanned(views: list[HostView]) -> tuple[Decide, Release]:
    hosts = list(views)
    position = {h.host_id: i for i, h in enumerate(hosts)}

    def decide(flavor: Flavor) -> Token | None:
        choice = choose_host(numa_request(flavor), hosts, Strategy.SPREAD)
        if not isinstance(choice, list):
            return None
        best = choice[0]
        hosts[position[best.host_id]] = taken(hosts[position[best.host_id]], best.fit)
        return best

    def release(placement: Token) -> None:
        assert isinstance(placement, Placement)
        i = position[placement.host_id]
        hosts[i] = given_back(hosts[i], placement.fit)

    return decide, release


def measure(decide: Decide, release: Release, flavors: list[Flavor], seconds: float | None) -> Run:
    """Decide for each flavor (timed), releasing the one placed WINDOW decisions before."""
    run = Run()
    outstanding: deque[Token] = deque()
    started = time.perf_counter()
    for flavor in flavors:
        before, cpu_before = time.perf_counter(), time.thread_time()
        placed = decide(flavor)
        run.cpu.append(time.thread_time() - cpu_before)
        run.latencies.append(time.perf_counter() - before)
        if placed is not None:
            outstanding.append(placed)
        if len(outstanding) > WINDOW:
            release(outstanding.popleft())
        if seconds is not None and len(run.latencies) >= 3 and before - started > seconds:
            break
    while outstanding:  # the next run starts from the same occupancy
        release(outstanding.popleft())
    return run  # the untimed releases count in no figure


def index_memory(views: list[HostView], flavors: list[Flavor]) -> float:
    """MiB the index adds to the host views: its keys and one list per request shape."""
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    index = CapacityIndex(Strategy.SPREAD, views)
    for flavor in {f.id: f for f in flavors}.values():
        index.best(numa_request(flavor))  # builds every shape's list
    used = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    return used / 2**20


# --- durable: SQLite file, the guarded claim ----------------------------------------------


@dataclass
class Durable:
    db: Database
    store: SqlRegionStore
    catalog: Catalog
    pool: PoolCapacity
    rebuild_seconds: float
    counter: int = 0
    observer: RegionObserver = NO_REGION_OBSERVER

    def server_id(self) -> str:
        self.counter += 1
        return f"bench-{self.counter}"


def durable_region(catalog: Catalog, hosts: list[Host], directory: Path) -> Durable:
    db = connect(f"sqlite:///{directory / 'placement.db'}")
    upgrade(db)
    store = SqlRegionStore(db, time.time)
    for start in range(0, len(hosts), 5000):
        store.add_hosts(hosts[start : start + 5000])
    pool = PoolCapacity()
    started = time.perf_counter()
    pool.rebuild(store)
    return Durable(db, store, catalog, pool, time.perf_counter() - started)


def no_values(_host_id: str) -> None:
    """The bench's servers have no rows: a claim changes only the nodes and the claims."""


def durable_indexed(region: Durable) -> tuple[Decide, Release]:
    def decide(flavor: Flavor) -> Token | None:
        server_id = region.server_id()
        try:
            claim_room(
                region,
                server_id,
                flavor,
                availability_zone=AZ,
                where=PUBLIC_POOL,
                role="placed",
                then=no_values,
            )
        except NoCapacity:
            return None
        return server_id

    def release(server_id: Token) -> None:
        assert isinstance(server_id, str)
        # as Region.release_claims does
        region.pool.refresh(region.store, region.store.release_claims(server_id))

    return decide, release


def durable_scanned(region: Durable) -> tuple[Decide, Release]:
    def every_pool_host() -> list[Host]:
        return region.store.list_hosts(kind=HostKind.POOL, availability_zone=AZ)

    def decide(flavor: Flavor) -> Token | None:
        server_id = region.server_id()
        views = [host_view(h) for h in every_pool_host()]
        choice = choose_host(numa_request(flavor), views, Strategy.SPREAD)
        if not isinstance(choice, list):
            no_room_reason(choice, flavor.id, views)  # the words, as the old path made them
            return None
        # one process: no claim is lost to another, the first choice is claimed
        assert region.store.claim(server_id, choice[0], "placed")
        return server_id

    def release(server_id: Token) -> None:
        assert isinstance(server_id, str)
        region.store.release_claims(server_id)  # the old path kept no index

    return decide, release


def old_no_room(region: Durable, flavor: Flavor) -> None:
    """The no-room answer as it was: every pool host of the AZ re-read and scanned for the
    closest numbers, all under the pool's lock (``_reload_az`` and ``_no_room`` before)."""
    with region.pool._lock:
        hosts = region.store.list_hosts(kind=HostKind.POOL, availability_zone=AZ)
        views = [host_view(h) for h in hosts]
        choice = choose_host(numa_request(flavor), views, Strategy.SPREAD)
        assert not isinstance(choice, list)
        no_room_reason(choice, flavor.id, views)


# --- the report ---------------------------------------------------------------------------


@dataclass
class Variant:
    name: str
    runs: list[Run]

    def rate(self) -> float:
        return statistics.median(r.rate for r in self.runs)

    def line(self) -> str:
        rates = [r.rate for r in self.runs]
        wall = statistics.median(r.wall_rate for r in self.runs)
        p50 = statistics.median(r.p(0.5) for r in self.runs) * 1e6
        p99 = statistics.median(r.p(0.99) for r in self.runs) * 1e6
        decisions = statistics.median(len(r.latencies) for r in self.runs)
        return (
            f"  {self.name:<20} {statistics.median(rates):>9,.0f}/s CPU "
            f"(min {min(rates):>7,.0f}, max {max(rates):>7,.0f}; wall {wall:>7,.0f}/s)  "
            f"p50 {p50:>9,.1f} µs  p99 {p99:>9,.1f} µs  ({decisions:.0f}/run)"
        )


#: (name, make the decide and release functions, the flavors to place, seconds per run)
Spec = tuple[str, Callable[[], tuple[Decide, Release]], list[Flavor], float | None]


def measured(specs: list[Spec], runs: int) -> dict[str, Variant]:
    return {name: Variant(name, repeat(make, flavors, runs, s)) for name, make, flavors, s in specs}


def repeat(
    make: Callable[[], tuple[Decide, Release]],
    flavors: list[Flavor],
    runs: int,
    seconds: float | None,
) -> list[Run]:
    decide, release = make()
    measure(decide, release, flavors[: max(3, len(flavors) // 10)], seconds)  # warm-up
    return [measure(decide, release, flavors, seconds) for _ in range(runs)]


def bench_size(catalog: Catalog, count: int, args: argparse.Namespace) -> dict[str, Variant]:
    started = time.perf_counter()
    hosts = pool_hosts(catalog, count)
    views = [host_view(h) for h in hosts]
    flavors = decision_flavors(catalog, args.decisions)
    built = time.perf_counter()
    CapacityIndex(Strategy.SPREAD, views)
    index_build = time.perf_counter() - built
    memory = index_memory(views, flavors)
    print(
        f"\n{count:,} pool hosts ({SERVERS_PER_HOST} servers each; synthesised in "
        f"{built - started:.1f} s); index built in {index_build * 1e3:,.0f} ms, "
        f"index memory {memory:,.1f} MiB beside the host views"
    )
    no_room = no_room_flavors(catalog, args.decisions)
    variants = measured(
        [
            ("index", lambda: indexed(views), flavors, None),
            ("scan", lambda: scanned(views), flavors, args.scan_seconds),
            ("index no room", lambda: indexed(views), no_room, args.scan_seconds),
            ("scan no room", lambda: scanned(views), no_room, args.scan_seconds),
        ],
        args.runs,
    )
    for variant in variants.values():
        print(variant.line())
    if args.durable:
        variants |= bench_durable(catalog, hosts, flavors, args)
    return variants


def bench_durable(
    catalog: Catalog, hosts: list[Host], flavors: list[Flavor], args: argparse.Namespace
) -> dict[str, Variant]:
    with tempfile.TemporaryDirectory() as tmp:
        loading = time.perf_counter()
        region = durable_region(catalog, hosts, Path(tmp))
        print(
            f"  (SQLite file loaded in {time.perf_counter() - loading:.1f} s; "
            f"PoolCapacity.rebuild at start {region.rebuild_seconds * 1e3:,.0f} ms)"
        )
        durable = flavors[: args.durable_decisions]
        no_room = no_room_flavors(catalog, args.durable_decisions)
        variants = measured(
            [
                ("durable", lambda: durable_indexed(region), durable, args.scan_seconds),
                ("durable scan", lambda: durable_scanned(region), durable, args.scan_seconds),
                ("durable no room", lambda: durable_indexed(region), no_room, args.scan_seconds),
                (
                    "durable scan no room",
                    lambda: durable_scanned(region),
                    no_room,
                    args.scan_seconds,
                ),
            ],
            args.runs,
        )
        for variant in variants.values():
            print(variant.line())
        if args.stall_seconds > 0:
            decide, release = durable_indexed(region)
            askers = {
                "no room (now)": lambda: durable_indexed(region)[0](no_room[0]),
                "old no room": lambda: old_no_room(region, no_room[0]),
            }
            print_stall(decide, release, flavors, askers, args.stall_seconds)
        region.db.dispose()
    return variants


def summary(results: dict[int, dict[str, Variant]]) -> None:
    sizes = sorted(results)
    print("\nratios (median decisions/s)")
    for size in sizes:
        ratios = [
            f"{a} / {b} = {results[size][a].rate() / results[size][b].rate():,.1f}x"
            for a, b in (
                ("index", "scan"),
                ("index no room", "scan no room"),
                ("durable", "durable scan"),
                ("durable no room", "durable scan no room"),
            )
            if a in results[size]
        ]
        print(f"  {size:>7,} hosts: " + ";  ".join(ratios))
    if len(sizes) > 1:
        small, large = sizes[0], sizes[-1]
        print(f"growth of the cost per decision from {small:,} to {large:,} hosts")
        for name in results[small]:
            growth = results[small][name].rate() / results[large][name].rate()
            print(f"  {name:<20} {growth:,.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--hosts", default="1000,10000,100000")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--decisions", type=int, default=5000)
    parser.add_argument("--durable-decisions", type=int, default=1000)
    parser.add_argument("--scan-seconds", type=float, default=3.0)
    parser.add_argument("--stall-seconds", type=float, default=3.0)
    parser.add_argument("--no-durable", dest="durable", action="store_false")
    args = parser.parse_args()
    os.sched_setaffinity(0, {0})
    catalog = load_default_catalog()
    print(
        f"placement bench: pinned to CPU {sorted(os.sched_getaffinity(0))}, {args.runs} runs "
        f"after a warm-up, up to {args.decisions:,} decisions/run in memory, "
        f"{args.durable_decisions:,} durable; scans stop after {args.scan_seconds} s/run"
    )
    sizes = [int(s) for s in args.hosts.split(",")]
    summary({size: bench_size(catalog, size, args) for size in sizes})


if __name__ == "__main__":
    main()
