"""Copy one storage volume from one libvirt host to another through this process.

libvirt.md, "migrate: copy disks": libvirt has no host-to-host copy of a shut-off guest's
volume, so the process that runs the job relays it: ``virStorageVolDownload`` on the source
connection, ``virStorageVolUpload`` on the target one, blocking streams, no event loop.

- Throughput: a receiver thread and a sender thread joined by a small bounded queue, so the
  two daemons work at the same time (the binding drops the GIL inside each stream call).
  Buffer and message sizes are the measured best on libvirt 9.0 (``python -m bench.copy``).
- Sparseness: when both hosts accept the sparse-stream flags, holes travel as hole lengths,
  so a 40 GB volume with 1 GB written moves 1 GB and stays sparse on the target; when either
  refuses them, the copy is dense.
- Re-runnable: the upload always covers the whole volume from offset 0, so a half-written
  target from an earlier attempt is overwritten (see ``_truncate`` for the sparse case).
- Bounded: no libvirt call may block longer than ``stall_seconds``; past that, or on any
  error, both streams are aborted and ``StreamFailed`` names the side that failed.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Final, Literal

import libvirt

Side = Literal["source", "target"]

#: A stream message from a daemon carries at most 256 KiB, so a larger receive buffer never
#: fills, and the binding callocs the whole buffer on every call: 4 MiB buffers spent more
#: time zeroing memory than copying it.
RECV_BYTES: Final = 256 * 1024
#: Chunks in flight between the two threads (4 MiB): enough to absorb a hiccup on either side.
#: Each received message is sent on as it is: joining them into 1 MiB sends cost the target
#: daemon three times the CPU when it writes a new file.
QUEUE_CHUNKS: Final = 16
#: ``progress`` is called at most once per this many bytes, and once at the end.
PROGRESS_BYTES: Final = 8 * 1024 * 1024
DEFAULT_STALL_SECONDS: Final = 30.0

# How long an abort may take before it is left to finish on its own: the abort of a stream
# whose peer stopped answering waits for that peer.
_ABORT_SECONDS: Final = 2.0
# How often the calling thread looks at the relay (stall bound, progress).
_TICK_SECONDS: Final = 0.1
# The errors with which a driver or a pool backend refuses the sparse-stream flags.
_FLAGS_REFUSED: Final = frozenset(
    {
        libvirt.VIR_ERR_NO_SUPPORT,
        libvirt.VIR_ERR_INVALID_ARG,
        libvirt.VIR_ERR_ARGUMENT_UNSUPPORTED,
    }
)
# recvFlags's return for "the stream is at a hole" (the binding's documented -3).
_AT_HOLE: Final = -3

Chunk = bytes | int  # data, or the length of a hole


class StreamFailed(Exception):
    """A volume copy failed, and ``side`` ("source" or "target") is the host to blame."""

    def __init__(self, side: Side, message: str) -> None:
        super().__init__(f"{side} host: {message}")
        self.side: Side = side
        self.message = message


class _FlagsRefused(Exception):
    """A host refused the sparse-stream flags: copy densely instead."""


class _Stopped(Exception):
    """The relay is being torn down: the thread that sees this just returns."""


def copy_volume(
    source: Any,
    source_conn: Any,
    target: Any,
    target_conn: Any,
    *,
    progress: Callable[[int], None] | None = None,
    stall_seconds: float = DEFAULT_STALL_SECONDS,
    sparse: bool = True,
) -> int:
    """Stream ``source`` (a ``libvirt.virStorageVol`` of ``source_conn``) over ``target`` (one
    of ``target_conn``, of the same capacity); return the bytes copied, holes included (the
    capacity).

    ``progress(n)`` is called in the calling thread with the bytes copied since its last call,
    at most once per ``PROGRESS_BYTES``; the calls add up to the return value. An exception
    from it aborts the copy and propagates. ``sparse=False`` forces a dense copy.

    Raises ``StreamFailed`` when either host fails, refuses, or leaves a call blocked longer
    than ``stall_seconds``; both streams are aborted first. A thread stuck in a call to a host
    that stopped answering is left behind (a daemon thread); it ends when that connection
    does.
    """
    length = _capacity(source, "source")
    target_length = _capacity(target, "target")
    if target_length != length:
        raise StreamFailed(
            "target",
            f"the target volume holds {target_length} bytes, the source {length}: "
            "create it with the source's capacity",
        )
    down, up, sparse = _open_streams(source, source_conn, target, target_conn, length, sparse)
    return _Relay(down, up, sparse, length).run(progress, stall_seconds)


def _capacity(volume: Any, side: Side) -> int:
    with _blame(side, "reading the volume's size"):
        return int(volume.info()[1])


@contextmanager
def _blame(side: Side, doing: str, *, refusable: bool = False) -> Iterator[None]:
    """Turn a libvirt error into ``StreamFailed(side)`` (or ``_FlagsRefused``, when the call
    passed sparse flags and the error says they are not supported)."""
    try:
        yield
    except libvirt.libvirtError as exc:
        if refusable and exc.get_error_code() in _FLAGS_REFUSED:
            raise _FlagsRefused(str(exc)) from exc
        raise StreamFailed(side, f"{doing}: {exc}") from exc


def _open_streams(
    source: Any, source_conn: Any, target: Any, target_conn: Any, length: int, sparse: bool
) -> tuple[Any, Any, bool]:
    """The download and upload streams, sparse when asked and both hosts accept it."""
    if sparse:
        try:
            down = _open_download(source, source_conn, length, sparse=True)
        except _FlagsRefused:
            pass
        else:
            try:
                _truncate(target, target_conn)
                return down, _open_upload(target, target_conn, length, sparse=True), True
            except _FlagsRefused:
                _abort_quietly([down])
            except BaseException:
                _abort_quietly([down])
                raise
    down = _open_download(source, source_conn, length, sparse=False)
    try:
        return down, _open_upload(target, target_conn, length, sparse=False), False
    except BaseException:
        _abort_quietly([down])
        raise


def _open_download(volume: Any, conn: Any, length: int, *, sparse: bool) -> Any:
    flags = libvirt.VIR_STORAGE_VOL_DOWNLOAD_SPARSE_STREAM if sparse else 0
    with _blame("source", "opening the download", refusable=sparse):
        stream = conn.newStream(0)
        volume.download(stream, 0, length, flags)
    return stream


def _open_upload(volume: Any, conn: Any, length: int, *, sparse: bool) -> Any:
    flags = libvirt.VIR_STORAGE_VOL_UPLOAD_SPARSE_STREAM if sparse else 0
    with _blame("target", "opening the upload", refusable=sparse):
        stream = conn.newStream(0)
        volume.upload(stream, 0, length, flags)
    return stream


def _truncate(volume: Any, conn: Any) -> None:
    """Cut a file-backed target to one byte before a sparse upload.

    A daemon writes a hole into a file as ``lseek`` past it then ``ftruncate`` at its end:
    bytes already inside the hole's range stay, so a sparse copy over a half-written target
    would keep stale data in the holes. After this, every hole of the copy lies past the end
    of the file and reads back as zeros, except one starting at offset 0, which the relay
    opens with one explicit zero byte. (On a block device a hole is written as zeros: this
    writes one zero byte, and the copy overwrites it.)
    """
    stream = _open_upload(volume, conn, 1, sparse=True)
    with _blame("target", "truncating the target volume"):
        try:
            stream.sendHole(1, 0)
            stream.finish()
        except BaseException:
            _abort_quietly([stream])
            raise


def _abort_quietly(streams: list[Any], *, wait: bool = True) -> None:
    """Abort each stream, ignoring errors (an aborted or finished stream, a dead daemon), and
    wait at most ``_ABORT_SECONDS`` (or not at all): a stuck peer may hold the abort forever."""

    def abort(stream: Any) -> None:
        try:
            stream.abort()
        except libvirt.libvirtError:
            pass

    threads = [threading.Thread(target=abort, args=(s,), daemon=True) for s in streams]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + (_ABORT_SECONDS if wait else 0.0)
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))


class _Relay:
    """One copy in flight: the receiver thread reads the source into ``chunks``, the sender
    thread writes them to the target, and the calling thread watches both."""

    def __init__(self, down: Any, up: Any, sparse: bool, length: int) -> None:
        self.down = down
        self.up = up
        self.sparse = sparse
        self.length = length
        # None marks the end of the download.
        self.chunks: queue.Queue[Chunk | None] = queue.Queue(QUEUE_CHUNKS)
        self.stop = threading.Event()
        self.failure: StreamFailed | None = None
        self.moved = 0  # bytes (data and holes) the target accepted; only the sender writes it
        self.done = False
        # When each side's libvirt call in progress began (None: not in one): the stall bound.
        self.busy_since: dict[Side, float | None] = {"source": None, "target": None}
        self._lock = threading.Lock()

    # -- the calling thread ------------------------------------------------------------------

    def run(self, progress: Callable[[int], None] | None, stall_seconds: float) -> int:
        threads = [
            threading.Thread(target=self._guard, args=("source", self._receive), daemon=True),
            threading.Thread(target=self._guard, args=("target", self._send), daemon=True),
        ]
        for thread in threads:
            thread.start()
        reported = 0
        try:
            while any(thread.is_alive() for thread in threads):
                threads[1].join(_TICK_SECONDS)
                self._check_stall(stall_seconds)
                if self.failure is not None:
                    break
                if progress is not None and self.moved - reported >= PROGRESS_BYTES:
                    moved = self.moved
                    progress(moved - reported)
                    reported = moved
        except BaseException:
            self._fail(None)
            raise
        if self.failure is not None or not self.done:
            self._fail(None)
            raise self.failure or StreamFailed("source", "the copy ended without finishing")
        if self.moved != self.length:
            raise StreamFailed(
                "source", f"the download ended after {self.moved} of {self.length} bytes"
            )
        if progress is not None and self.moved > reported:
            progress(self.moved - reported)
        return self.moved

    def _check_stall(self, stall_seconds: float) -> None:
        now = time.monotonic()
        for side, since in list(self.busy_since.items()):
            if since is not None and now - since > stall_seconds:
                failure = StreamFailed(side, f"no answer for {stall_seconds:g} s; copy aborted")
                self._fail(failure, stalled=side)

    def _fail(self, failure: StreamFailed | None, *, stalled: Side | None = None) -> None:
        """Record the first failure, stop both threads and abort both streams (once); the
        abort of a stalled side is not waited for (its peer does not answer)."""
        with self._lock:
            first_stop = not self.stop.is_set()
            if self.failure is None and failure is not None:
                self.failure = failure
            self.stop.set()
        if first_stop:
            streams = {"source": self.down, "target": self.up}
            if stalled is not None:
                _abort_quietly([streams.pop(stalled)], wait=False)
            _abort_quietly(list(streams.values()))

    # -- both threads ------------------------------------------------------------------------

    def _guard(self, side: Side, body: Callable[[], None]) -> None:
        try:
            body()
        except _Stopped:
            pass
        except StreamFailed as exc:
            self._fail(exc)
        except BaseException as exc:  # a bug here must still end the copy, not hang it
            self._fail(StreamFailed(side, f"relay error: {exc!r}"))

    @contextmanager
    def _calling(self, side: Side, doing: str) -> Iterator[None]:
        """Around each libvirt call: time it for the stall bound, and blame ``side`` for an
        error, unless the relay is already stopping (then the error is our own abort)."""
        self.busy_since[side] = time.monotonic()
        try:
            with _blame(side, doing):
                yield
        except StreamFailed:
            if self.stop.is_set():
                raise _Stopped() from None
            raise
        finally:
            self.busy_since[side] = None

    # -- the receiver thread -----------------------------------------------------------------

    def _receive(self) -> None:
        while True:
            got = self._recv()
            if isinstance(got, int):
                if got > 0:
                    self._put(got)
                continue
            if not got:
                break
            self._put(got)
        with self._calling("source", "finishing the download"):
            self.down.finish()
        self._put(None)

    def _recv(self) -> Chunk:
        """The next data (b"" at the end) or the length of the hole the stream is at."""
        with self._calling("source", "reading the volume"):
            if not self.sparse:
                data: bytes = self.down.recv(RECV_BYTES)
                return data
            got = self.down.recvFlags(RECV_BYTES, libvirt.VIR_STREAM_RECV_STOP_AT_HOLE)
            if got == _AT_HOLE:
                return int(self.down.recvHole(0))
            if isinstance(got, int):
                raise StreamFailed("source", f"unexpected stream answer {got}")
            return bytes(got)

    def _put(self, chunk: Chunk | None) -> None:
        while True:
            if self.stop.is_set():
                raise _Stopped()
            try:
                self.chunks.put(chunk, timeout=_TICK_SECONDS)
                return
            except queue.Full:
                continue

    # -- the sender thread -------------------------------------------------------------------

    def _send(self) -> None:
        first = True
        while (chunk := self._get()) is not None:
            if isinstance(chunk, int):
                self._send_hole(chunk, first)
            else:
                with self._calling("target", "writing the volume"):
                    self.up.send(chunk)
                self.moved += len(chunk)
            first = False
        with self._calling("target", "finishing the upload"):
            self.up.finish()
        self.done = True

    def _send_hole(self, length: int, first: bool) -> None:
        with self._calling("target", "writing a hole"):
            if first:
                # The target was cut to one (stale) byte: write it (see _truncate).
                self.up.send(b"\0")
                if length > 1:
                    self.up.sendHole(length - 1, 0)
            else:
                self.up.sendHole(length, 0)
        self.moved += length

    def _get(self) -> Chunk | None:
        while True:
            if self.stop.is_set():
                raise _Stopped()
            try:
                return self.chunks.get(timeout=_TICK_SECONDS)
            except queue.Empty:
                continue
