"""Streaming one storage volume from one host to another, through this process.

(A first, single-threaded relay; sparse-aware: holes are sent as holes.)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import libvirt

_CHUNK = 4 * 1024 * 1024


class StreamFailed(Exception):
    """The copy broke; ``side`` says whose end ("source" or "target")."""

    def __init__(self, side: str, message: str) -> None:
        super().__init__(message)
        self.side = side


def copy_volume(
    source: Any,
    source_conn: Any,
    target: Any,
    target_conn: Any,
    *,
    progress: Callable[[int], None] | None = None,
    stall_seconds: float = 30.0,
) -> int:
    down, up = source_conn.newStream(0), target_conn.newStream(0)
    try:
        source.download(down, 0, 0, libvirt.VIR_STORAGE_VOL_DOWNLOAD_SPARSE_STREAM)
    except libvirt.libvirtError as exc:
        raise StreamFailed("source", str(exc)) from exc
    try:
        target.upload(up, 0, 0, libvirt.VIR_STORAGE_VOL_UPLOAD_SPARSE_STREAM)
    except libvirt.libvirtError as exc:
        _abort(down)
        raise StreamFailed("target", str(exc)) from exc
    moved = 0
    while True:
        try:
            got = down.recvFlags(_CHUNK, libvirt.VIR_STREAM_RECV_STOP_AT_HOLE)
            hole = down.recvHole() if got == -3 else 0
        except libvirt.libvirtError as exc:
            _abort(down, up)
            raise StreamFailed("source", str(exc)) from exc
        if isinstance(got, bytes) and not got:
            break
        try:
            if hole:
                up.sendHole(hole)
            else:
                _send_all(up, got)
        except libvirt.libvirtError as exc:
            _abort(down, up)
            raise StreamFailed("target", str(exc)) from exc
        count = hole or len(got)
        moved += count
        if progress is not None:
            progress(count)
    try:
        down.finish()
    except libvirt.libvirtError as exc:
        _abort(up)
        raise StreamFailed("source", str(exc)) from exc
    try:
        up.finish()
    except libvirt.libvirtError as exc:
        raise StreamFailed("target", str(exc)) from exc
    return moved


def _send_all(stream: Any, data: bytes) -> None:
    view = memoryview(data)
    while view:
        sent = stream.send(view.tobytes() if len(view) != len(data) else data)
        view = view[sent:]


def _abort(*streams: Any) -> None:
    for stream in streams:
        try:
            stream.abort()
        except libvirt.libvirtError:
            pass
