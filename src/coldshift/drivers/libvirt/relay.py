"""A volume copy in a process of its own (``python -m coldshift.drivers.libvirt.relay``).

The relay's two threads take the GIL for every 256 KiB message, some 8,000 times a GiB each:
inside the API's process, four copies at once pushed GET server p99 to 50 ms
(``bench.libvirt_migrations``). A child process per copy keeps the API's GIL for the API. It
opens its own connections from the hosts' URIs, runs ``streams.copy_volume`` and reports on
stdout, one line each: ``moved N`` as bytes move, then ``failed SIDE MESSAGE`` if it fails.
It dies with its parent (a killed coldshift leaves no copy running on its own).
"""

from __future__ import annotations

import argparse
import ctypes
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from typing import Any

from coldshift.drivers.libvirt.streams import DEFAULT_STALL_SECONDS, StreamFailed

_PR_SET_PDEATHSIG = 1
#: the copy's scheduling niceness (the API process runs at 0)
COPY_NICENESS = 10


def copy_in_child(
    source_uri: str,
    target_uri: str,
    pool: str,
    volume: str,
    *,
    progress: Callable[[int], None],
    stall_seconds: float = DEFAULT_STALL_SECONDS,
) -> int:
    """Copy ``volume`` of ``pool`` from the host at ``source_uri`` to the one at
    ``target_uri`` in a child process; the bytes moved. Raises StreamFailed as
    ``copy_volume`` does (``side`` names the host to blame)."""
    args = [sys.executable, "-m", __name__, source_uri, target_uri, pool, volume]
    child = subprocess.Popen(
        [*args, "--stall-seconds", str(stall_seconds), "--parent", str(os.getpid())],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        return _follow(child, progress)
    finally:
        if child.poll() is None:  # the caller gave up (e.g. its job's lease was lost)
            child.kill()
        child.wait()


def _follow(child: subprocess.Popen[str], progress: Callable[[int], None]) -> int:
    assert child.stdout is not None
    moved, failure = 0, None
    for line in child.stdout:
        kind, _, rest = line.rstrip("\n").partition(" ")
        if kind == "moved":
            moved += int(rest)
            progress(int(rest))
        elif kind == "failed":
            side, _, message = rest.partition(" ")
            failure = StreamFailed("target" if side == "target" else "source", message)
    code = child.wait()
    if failure is not None:
        raise failure
    if code != 0:
        raise StreamFailed("source", f"the copy's process ended with status {code}")
    return moved


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=f"python -m {__name__}")
    for name in ("source_uri", "target_uri", "pool", "volume"):
        parser.add_argument(name)
    parser.add_argument("--stall-seconds", type=float, default=DEFAULT_STALL_SECONDS)
    parser.add_argument("--parent", type=int, default=0)
    args = parser.parse_args(argv)
    _die_with(args.parent)
    # A copy is bulk work: when the CPU is short, the API's requests go first.
    os.nice(COPY_NICENESS)
    try:
        _copy(args)
    except StreamFailed as exc:
        _say(f"failed {exc.side} {' '.join(exc.message.split())}")
        return 1
    return 0


def _copy(args: argparse.Namespace) -> None:
    import libvirt
    from coldshift.drivers.libvirt.streams import copy_volume

    libvirt.registerErrorHandler(lambda _ctx, _error: None, None)
    source_conn, source = _volume(libvirt, "source", args.source_uri, args.pool, args.volume)
    target_conn, target = _volume(libvirt, "target", args.target_uri, args.pool, args.volume)
    copy_volume(
        source,
        source_conn,
        target,
        target_conn,
        progress=lambda count: _say(f"moved {count}"),
        stall_seconds=args.stall_seconds,
    )


def _volume(libvirt: Any, side: str, uri: str, pool: str, volume: str) -> tuple[Any, Any]:
    try:
        conn = libvirt.open(uri)
        return conn, conn.storagePoolLookupByName(pool).storageVolLookupByName(volume)
    except libvirt.libvirtError as exc:
        raise StreamFailed("target" if side == "target" else "source", str(exc)) from exc


def _say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def _die_with(parent: int) -> None:
    """Linux: the kernel kills this process when its parent dies (no copy left running)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        return
    if parent and os.getppid() != parent:  # the parent died before the line above
        os._exit(1)


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    # A thread stuck in a call to a host that stopped answering must not keep us alive.
    os._exit(code)
