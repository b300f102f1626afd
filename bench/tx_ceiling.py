"""The database's ceiling: single-row write transactions per second through coldshift's own
engine settings (``coldshift.persistence.db.connect``: pool, pragmas, ``BEGIN IMMEDIATE``),
from ``--threads`` threads in each of ``--processes`` processes, as coldshift's job workers
write. Bounded by ``--transactions`` per process and ``--seconds``.

Usage: python -m bench.tx_ceiling --db URL [--processes 1] [--threads 16]
           [--transactions 3000] [--seconds 10]   (prints one JSON line)
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import threading
import time
from dataclasses import dataclass

from sqlalchemy import delete

from bench.ceiling import bench_rows
from coldshift.persistence.db import connect


@dataclass(frozen=True)
class Ceiling:
    transactions: int
    seconds: float

    @property
    def per_second(self) -> float:
        return self.transactions / self.seconds


def one_process(url: str, threads: int, transactions: int, seconds: float) -> Ceiling:
    """Insert one row per transaction from ``threads`` threads until the count or the time
    is used up."""
    db = connect(url)
    tickets = iter(range(transactions))  # next() on a range iterator is atomic under the GIL
    done: list[int] = []
    deadline = time.monotonic() + seconds

    def loop() -> None:
        for _ in tickets:
            if time.monotonic() >= deadline:
                return
            with db.write() as conn:
                conn.execute(bench_rows.insert().values(body="x" * 64, created_at=time.time()))
            done.append(1)

    workers = [threading.Thread(target=loop) for _ in range(threads)]
    started = time.perf_counter()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    elapsed = time.perf_counter() - started
    db.dispose()
    return Ceiling(len(done), elapsed)


def measure(
    url: str, processes: int, threads: int = 16, transactions: int = 3000, seconds: float = 10.0
) -> Ceiling:
    """Run ``processes`` processes at once; their transactions over the longest one's time."""
    db = connect(url)
    bench_rows.metadata.create_all(db.engine)
    db.dispose()
    args = ["--db", url, "--threads", str(threads), "--transactions", str(transactions)]
    args += ["--seconds", str(seconds), "--worker"]
    children = [
        subprocess.Popen([sys.executable, "-m", "bench.tx_ceiling", *args], stdout=subprocess.PIPE)
        for _ in range(processes)
    ]
    results = [json.loads(child.communicate(timeout=seconds + 120)[0]) for child in children]
    db = connect(url)
    with db.write() as conn:
        conn.execute(delete(bench_rows))
    db.dispose()
    return Ceiling(sum(r["transactions"] for r in results), max(r["seconds"] for r in results))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", required=True)
    parser.add_argument("--processes", type=int, default=1)
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--transactions", type=int, default=3000)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        ceiling = one_process(args.db, args.threads, args.transactions, args.seconds)
    else:
        ceiling = measure(args.db, args.processes, args.threads, args.transactions, args.seconds)
    print(json.dumps({"transactions": ceiling.transactions, "seconds": ceiling.seconds}))


if __name__ == "__main__":
    main()
