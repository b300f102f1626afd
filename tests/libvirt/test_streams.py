"""The disk-copy relay between two real session daemons (drivers/libvirt/streams.py)."""

from __future__ import annotations

import hashlib
import os
import random
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from coldshift.drivers.libvirt.streams import PROGRESS_BYTES, StreamFailed, copy_volume
from tests.libvirt.conftest import Host, host_pair

MiB = 1024 * 1024
DENSE = 64 * MiB
BIG = 160 * MiB


BLOCK = 4 * MiB
ZERO_BLOCK = bytes(BLOCK)


def digest(volume: Any) -> str:
    """The SHA-256 of the volume's bytes per block, where a block of zeros (a hole or not)
    counts as a marker: equal digests mean equal bytes, and holes are not read."""
    sha = hashlib.sha256()
    with Path(volume.path()).open("rb") as file:
        size = os.fstat(file.fileno()).st_size
        sha.update(str(size).encode())
        for offset in range(0, size, BLOCK):
            if _hole_until(file.fileno(), offset) >= min(offset + BLOCK, size):
                sha.update(b"zeros")
                continue
            file.seek(offset)
            block = file.read(BLOCK)
            sha.update(b"zeros" if block == ZERO_BLOCK[: len(block)] else block)
    return sha.hexdigest()


def _hole_until(fd: int, offset: int) -> int:
    """Where data starts at or after ``offset`` (the file's size when none does)."""
    try:
        return os.lseek(fd, offset, os.SEEK_DATA)
    except OSError:  # ENXIO: only a hole from here on
        return os.fstat(fd).st_size


def random_bytes(size: int, seed: int) -> bytes:
    # randbytes of more than 256 MiB overflows; join pieces.
    rng = random.Random(seed)
    return b"".join(rng.randbytes(min(16 * MiB, size - at)) for at in range(0, size, 16 * MiB))


def allocated(volume: Any) -> int:
    return os.stat(volume.path()).st_blocks * 512


def dense_source(host: Host, seed: int = 1, size: int = DENSE) -> Any:
    volume = host.create_volume(size)
    host.write(volume, 0, random_bytes(size, seed))
    return volume


def test_dense_volume_arrives_byte_for_byte(hosts: tuple[Host, Host]) -> None:
    source_host, target_host = hosts
    source = dense_source(source_host)
    target = target_host.create_volume(DENSE)
    calls: list[int] = []

    moved = copy_volume(source, source_host.conn, target, target_host.conn, progress=calls.append)

    assert moved == DENSE
    assert digest(target) == digest(source)
    # The calls add up to the total and are throttled (not one per message).
    assert sum(calls) == DENSE
    assert 1 <= len(calls) <= DENSE // PROGRESS_BYTES + 1
    assert all(n > 0 for n in calls)


def test_dense_copy_without_sparse_streams(hosts: tuple[Host, Host]) -> None:
    source_host, target_host = hosts
    source = dense_source(source_host, seed=2)
    target = target_host.create_volume(DENSE)

    assert copy_volume(source, source_host.conn, target, target_host.conn, sparse=False) == DENSE
    assert digest(target) == digest(source)


def test_sparse_volume_arrives_identical_and_sparse(hosts: tuple[Host, Host]) -> None:
    source_host, target_host = hosts
    virtual = 2 * 1024 * MiB
    source = source_host.create_volume(virtual)
    # A hole first, data in the middle and at the very end (no trailing hole).
    for index, offset in enumerate((3 * MiB, 700 * MiB, 701 * MiB + 4096, virtual - 2 * MiB)):
        source_host.write(source, offset, random_bytes(2 * MiB, seed=10 + index))
    target = target_host.create_volume(virtual)
    calls: list[int] = []

    moved = copy_volume(source, source_host.conn, target, target_host.conn, progress=calls.append)

    assert moved == virtual
    assert sum(calls) == virtual
    assert os.path.getsize(target.path()) == virtual
    assert digest(target) == digest(source)
    assert allocated(target) <= 16 * MiB


@pytest.mark.parametrize("sparse", [True, False])
def test_rerun_over_a_half_written_target(hosts: tuple[Host, Host], sparse: bool) -> None:
    """A retried job copies onto the target volume an earlier attempt left behind: stale
    bytes everywhere, even where the source has holes, must not survive."""
    source_host, target_host = hosts
    source = source_host.create_volume(DENSE)
    source_host.write(source, 8 * MiB, random_bytes(4 * MiB, seed=3))
    source_host.write(source, 40 * MiB, random_bytes(MiB, seed=4))
    target = target_host.create_volume(DENSE)
    target_host.write(target, 0, b"\xa5" * DENSE)

    copy_volume(source, source_host.conn, target, target_host.conn, sparse=sparse)

    assert os.path.getsize(target.path()) == DENSE
    assert digest(target) == digest(source)


def test_target_of_another_size_is_refused(hosts: tuple[Host, Host]) -> None:
    source_host, target_host = hosts
    source = source_host.create_volume(DENSE)
    target = target_host.create_volume(DENSE // 2)

    with pytest.raises(StreamFailed) as failed:
        copy_volume(source, source_host.conn, target, target_host.conn)

    assert failed.value.side == "target"
    assert "capacity" in failed.value.message


@pytest.mark.parametrize("side", ["source", "target"])
def test_a_daemon_killed_mid_copy_fails_that_side(side: str) -> None:
    with host_pair() as (source_host, target_host):
        # Large enough that the copy is still running at the first progress call (one tick).
        source = dense_source(source_host, seed=5, size=BIG)
        target = target_host.create_volume(BIG)
        process = (source_host if side == "source" else target_host).daemon.process
        assert process is not None
        calls: list[int] = []

        def kill_on_first_progress(moved: int) -> None:
            if not calls:
                os.kill(process.pid, signal.SIGKILL)
            calls.append(moved)

        started = time.monotonic()
        with pytest.raises(StreamFailed) as failed:
            copy_volume(
                source,
                source_host.conn,
                target,
                target_host.conn,
                progress=kill_on_first_progress,
                stall_seconds=5,
            )

        assert failed.value.side == side
        assert time.monotonic() - started < 5
        assert sum(calls) < BIG


def test_a_source_that_stops_answering_is_abandoned_within_the_bound() -> None:
    """A frozen daemon (SIGSTOP: a hung host, a cut network) never closes the connection; the
    copy gives up after ``stall_seconds`` instead of waiting for it forever."""
    with host_pair() as (source_host, target_host):
        source = dense_source(source_host, seed=6, size=BIG)
        target = target_host.create_volume(BIG)
        process = source_host.daemon.process
        assert process is not None

        def freeze_on_first_progress(_moved: int) -> None:
            os.kill(process.pid, signal.SIGSTOP)

        started = time.monotonic()
        try:
            with pytest.raises(StreamFailed) as failed:
                copy_volume(
                    source,
                    source_host.conn,
                    target,
                    target_host.conn,
                    progress=freeze_on_first_progress,
                    stall_seconds=1,
                )
            elapsed = time.monotonic() - started
        finally:
            os.kill(process.pid, signal.SIGCONT)

        assert failed.value.side == "source"
        assert "no answer" in failed.value.message
        assert elapsed < 1 + 1  # the bound and a tick (a stalled side's abort is not awaited)
