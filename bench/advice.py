"""Defragmentation advice speed: ``placement.advice.advise`` at 1,000 hosts, in-process.

Usage: .venv/bin/python -m bench.advice [--hosts 1000] [--runs 50] [--seed 7]

A public pool of ``--hosts`` hosts of 2 NUMA nodes (40 vCPUs, 160 GiB each). On nine nodes in
ten, other tenants hold 20 to 28 vCPUs (not movable); on the tenth, they hold 8 to 12 and the
project two stopped 8-vCPU guests (the movers). The guest asks the pool for one node of 24
vCPUs: no node has that free (20 at most), and only moving both movers off one node makes it.

- advice:    the movers are DeH guests (they may go to the pool): room is found by moving two
             of them off one node (2 moves), each move a pool decision over every host;
- no advice: the movers are pool guests, whose migrations must name a DeH, and the project's
             DeH is full: every node that moving two of them would free is tried, and no move
             finds room, so the search runs to its budget (``DEFAULT_BUDGET`` sequences).

Each run builds a fresh seeded pool (untimed) and times one ``advise`` call; p50/p99 are
wall-clock over ``--runs`` runs, what a request waits for the search (the reads that build
the world are the store's, measured by bench.api).
"""

from __future__ import annotations

import argparse
import random
import time

from bench.regions import percentile
from coldshift.domain.hosts import NumaNode
from coldshift.placement import HostView, NumaFit, NumaRequest, Strategy
from coldshift.placement.advice import Destination, Goal, Mover, advise

NODE_VCPUS, NODE_MIB = 40, 160 * 1024
MOVER = NumaRequest(8, 16 * 1024)
GUEST = NumaRequest(24, 48 * 1024)


def world(
    hosts: int, rng: random.Random, to_pool: bool
) -> tuple[dict[str, HostView], list[Mover], Destination]:
    views: dict[str, HostView] = {}
    movers: list[Mover] = []
    pool = tuple(f"h{i:05d}" for i in range(hosts))
    deh = Destination("deh-1", ("deh-1",), Strategy.PACK)
    to = (deh, Destination("pool", pool, Strategy.SPREAD)) if to_pool else (deh,)
    for host_id in pool:
        nodes = []
        for index in range(2):
            used = rng.randint(20, 28)
            if rng.random() < 0.1:
                used = rng.randint(8, 12)
                for n in range(2):
                    fit = NumaFit((index,), MOVER.vcpus, MOVER.memory_mb)
                    movers.append(Mover(f"{host_id}-{index}-{n}", host_id, MOVER, fit, to))
                used += 2 * MOVER.vcpus
            used = min(used, NODE_VCPUS)
            mib = used * 2048
            nodes.append(NumaNode(index, NODE_VCPUS, NODE_MIB, NODE_VCPUS - used, NODE_MIB - mib))
        views[host_id] = HostView(host_id, host_id, tuple(nodes))
    full = tuple(NumaNode(i, NODE_VCPUS, NODE_MIB, 0, 0) for i in range(2))
    views["deh-1"] = HostView("deh-1", "deh-1", full)
    return views, movers, Destination("pool", pool, Strategy.SPREAD)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hosts", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    for label, to_pool in (("advice", True), ("no advice", False)):
        times, moves = [], []
        for _ in range(args.runs):
            views, movers, pool = world(args.hosts, rng, to_pool)
            began = time.perf_counter()
            found = advise(Goal(GUEST, pool), movers, views)
            times.append(time.perf_counter() - began)
            moves.append(len(found.moves) if found else -1)
        shown = sorted(set(moves))
        print(
            f"{label:>9} at {args.hosts} hosts, {len(movers)} movers: "
            f"p50 {percentile(times, 0.5) * 1000:.1f} ms, "
            f"p99 {percentile(times, 0.99) * 1000:.1f} ms (moves found: {shown}; -1 = none)"
        )


if __name__ == "__main__":
    main()
