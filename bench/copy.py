"""The disk-copy relay (drivers/libvirt/streams.py) between two real session daemons, beside a
plain ``cp`` of the same bytes on the same disk in the same run.

Two stand-in hosts (coldshift.testing.hypervisors), a directory pool each, a volume of
``--dense-gib`` GiB of random data on the first. Each round runs, in turn: ``copy_volume``
(sparse streams, the default), ``copy_volume(sparse=False)``, the naive single-threaded relay
libvirt.md measured first (``recv(4 MiB)`` → ``send``), and ``cp`` of the source file into the
second host's pool directory, each into a new file. ``sync`` (untimed) before each, so no run
pays for the previous one's dirty pages; nothing is dropped from the page cache. Medians of
``--runs`` rounds, MB/s, the ratio to ``cp`` (goal ≥ 0.8), and the CPU seconds each daemon and
this process (or ``cp``) spent.

Then a ``--sparse-gib`` GiB volume with ``--dense-gib`` GiB written in 64 MiB pieces spread
over it: its copy time and MB/s of the written data against the dense copy (goal: about the
same, i.e. time proportional to the data, not the virtual size), and the target's allocation.

Usage: python -m bench.copy [--runs 3] [--dense-gib 1] [--sparse-gib 40]
"""

from __future__ import annotations

import argparse
import functools
import os
import random
import resource
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from coldshift.drivers.libvirt.streams import copy_volume
from coldshift.testing.hypervisors import (
    SessionDaemon,
    start_daemons,
    stop_daemons,
    unavailable_reason,
)

MiB = 1024 * 1024
GiB = 1024 * MiB
PIECE = 64 * MiB
_TICK = os.sysconf("SC_CLK_TCK")


@dataclass
class Host:
    daemon: SessionDaemon
    conn: Any
    pool: Any

    def volume(self, name: str, capacity: int) -> Any:
        try:
            self.pool.storageVolLookupByName(name).delete(0)
        except Exception:
            pass
        xml = (
            f"<volume><name>{name}</name><capacity unit='bytes'>{capacity}</capacity>"
            "<allocation>0</allocation><target><format type='raw'/></target></volume>"
        )
        return self.pool.createXML(xml, 0)

    def fill(self, volume: Any, pieces: list[int], seed: int) -> None:
        """Random data at each offset (PIECE bytes), written into the file directly."""
        rng = random.Random(seed)
        path = Path(volume.path())
        with path.open("r+b") as file:
            for offset in pieces:
                file.seek(offset)
                for _ in range(PIECE // (16 * MiB)):
                    file.write(rng.randbytes(16 * MiB))
        if os.geteuid() == 0:
            os.chown(path, self.daemon.uid, self.daemon.gid)


def connect(daemon: SessionDaemon) -> Host:
    import libvirt

    conn = libvirt.open(daemon.uri)
    pool = conn.storagePoolDefineXML(
        f"<pool type='dir'><name>bench</name><target><path>{daemon.pool_path}</path></target>"
        "</pool>",
        0,
    )
    pool.build(0)
    pool.create(0)
    return Host(daemon, conn, pool)


def naive_relay(source: Any, source_conn: Any, target: Any, target_conn: Any) -> int:
    """libvirt.md's first measurement: one thread, recv(4 MiB) → send."""
    length = int(source.info()[1])
    down, up = source_conn.newStream(0), target_conn.newStream(0)
    source.download(down, 0, length, 0)
    target.upload(up, 0, length, 0)
    moved = 0
    while data := down.recv(4 * MiB):
        up.send(data)
        moved += len(data)
    down.finish()
    up.finish()
    return moved


@dataclass
class Timings:
    seconds: list[float] = field(default_factory=list)
    # CPU seconds of the source daemon, the target daemon, and this process with its children
    cpu: list[tuple[float, float, float]] = field(default_factory=list)

    def median(self) -> float:
        return statistics.median(self.seconds)

    def median_cpu(self) -> tuple[float, ...]:
        return tuple(statistics.median(run[i] for run in self.cpu) for i in range(3))


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICK


def timed(hosts: tuple[Host, Host], run: Callable[[], object], into: Timings) -> None:
    os.sync()  # untimed: start without the previous run's dirty pages
    pids = [host.daemon.process.pid for host in hosts if host.daemon.process is not None]

    def snapshot() -> tuple[float, float, float]:
        own = resource.getrusage(resource.RUSAGE_SELF)
        children = resource.getrusage(resource.RUSAGE_CHILDREN)  # cp
        return (
            cpu_seconds(pids[0]),
            cpu_seconds(pids[1]),
            own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime,
        )

    before, started = snapshot(), time.perf_counter()
    run()
    elapsed, after = time.perf_counter() - started, snapshot()
    into.seconds.append(elapsed)
    into.cpu.append((after[0] - before[0], after[1] - before[1], after[2] - before[2]))


def dense_round(hosts: tuple[Host, Host], source: Any, results: dict[str, Timings]) -> None:
    """Each copy writes a new file, as a migration's target volume and ``cp`` both do (over
    an existing, allocated file, the relay would be cheaper than it really is)."""
    a, b = hosts
    size = int(source.info()[1])
    copy_path = b.daemon.pool_path / "cp-copy.raw"
    runs: dict[str, Callable[[Any], object]] = {
        "copy_volume": lambda target: copy_volume(source, a.conn, target, b.conn),
        "copy_volume dense": lambda target: copy_volume(
            source, a.conn, target, b.conn, sparse=False
        ),
        "naive relay": lambda target: naive_relay(source, a.conn, target, b.conn),
    }
    for name, run in runs.items():
        target = b.volume("dense-target.raw", size)
        timed(hosts, functools.partial(run, target), results.setdefault(name, Timings()))
    copy_path.unlink(missing_ok=True)
    command = ["cp", source.path(), str(copy_path)]
    timed(hosts, lambda: subprocess.run(command, check=True), results.setdefault("cp", Timings()))


def report_dense(results: dict[str, Timings], size: int) -> float:
    cp = results["cp"].median()
    print(f"dense: {size / GiB:g} GiB of random data, medians of {len(results['cp'].seconds)}")
    header = f"  {'':18} {'s':>6} {'MB/s':>6} {'÷ cp':>5}"
    print(f"{header}   CPU s: source daemon, target daemon, relay or cp")
    for name, timings in results.items():
        median = timings.median()
        cpu = ", ".join(f"{c:.2f}" for c in timings.median_cpu())
        runs = " ".join(f"{s:.2f}" for s in timings.seconds)
        print(
            f"  {name:18} {median:6.2f} {size / median / 1e6:6.0f} {cp / median:5.2f}"
            f"   {cpu}   (runs: {runs})"
        )
    return results["copy_volume"].median()


def sparse_round(hosts: tuple[Host, Host], args: argparse.Namespace, dense_seconds: float) -> None:
    a, b = hosts
    virtual = args.sparse_gib * GiB
    written = args.dense_gib * GiB
    count = written // PIECE
    pieces = [i * (virtual // count) for i in range(count)]
    source = a.volume("sparse-source.raw", virtual)
    a.fill(source, pieces, seed=2)
    timings = Timings()
    for _ in range(args.runs):
        target = b.volume("sparse-target.raw", virtual)
        timed(hosts, functools.partial(copy_volume, source, a.conn, target, b.conn), timings)
    median = timings.median()
    allocated = os.stat(b.daemon.pool_path / "sparse-target.raw").st_blocks * 512
    print(
        f"sparse: {args.sparse_gib} GiB virtual, {args.dense_gib} GiB written in "
        f"{count} pieces of 64 MiB: {median:.2f} s, {written / median / 1e6:.0f} MB/s of "
        f"written data, {median / dense_seconds:.2f}× the dense copy's time "
        f"(runs: {' '.join(f'{s:.2f}' for s in timings.seconds)}); "
        f"target allocation {allocated / GiB:.2f} GiB"
    )


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.copy")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--dense-gib", type=int, default=1)
    parser.add_argument("--sparse-gib", type=int, default=40)
    args = parser.parse_args()
    reason = unavailable_reason()
    if reason:
        print(reason)
        return 2
    import libvirt

    libvirt.registerErrorHandler(lambda _ctx, _err: None, None)
    base = Path(tempfile.mkdtemp(prefix="coldshift-bench-copy-"))
    daemons = start_daemons(["a", "b"], base)
    try:
        a, b = connect(daemons[0]), connect(daemons[1])
        size = args.dense_gib * GiB
        source = a.volume("dense-source.raw", size)
        a.fill(source, list(range(0, size, PIECE)), seed=1)
        results: dict[str, Timings] = {}
        for _ in range(args.runs):
            dense_round((a, b), source, results)
        dense_seconds = report_dense(results, size)
        sparse_round((a, b), args, dense_seconds)
    finally:
        stop_daemons(daemons)
        shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
