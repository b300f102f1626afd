"""One connection per host, and every libvirt call bounded in time.

libvirt calls block, and a host that stops answering would block a job forever: each call runs
on a thread of a small pool and is waited for at most ``timeout`` seconds. A call that times
out, or fails because the connection broke, is a transient DriverError that names the host
(the job engine tries it again); the connection is opened again on the next call.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any, TypeVar

import libvirt
from coldshift.domain.codes import Code
from coldshift.drivers.base import DriverError

T = TypeVar("T")

#: the driver's fault code: a job FAILs with it, its reason naming the host
FAULT_CODE = Code.SYSTEM_ERROR

# The errors that mean "the host, or the way to it, failed", not "the request was wrong".
_CONNECTION_ERRORS = frozenset(
    {
        libvirt.VIR_ERR_SYSTEM_ERROR,
        libvirt.VIR_ERR_RPC,
        libvirt.VIR_ERR_NO_CONNECT,
        libvirt.VIR_ERR_INVALID_CONN,
        libvirt.VIR_ERR_AUTH_FAILED,
        libvirt.VIR_ERR_OPERATION_TIMEOUT,
    }
)

# libvirt prints every error to stderr by default; they are raised (and logged) here instead
libvirt.registerErrorHandler(lambda _ctx, _error: None, None)

_CALLS = ThreadPoolExecutor(max_workers=32, thread_name_prefix="libvirt-call")


def error_code(exc: libvirt.libvirtError) -> int:
    return int(exc.get_error_code() or 0)


class HostLink:
    """The connection to one host, opened on first use and again after it broke."""

    def __init__(self, name: str, uri: str, timeout: float) -> None:
        self.name, self.uri, self.timeout = name, uri, timeout
        self._lock = threading.Lock()
        self._conn: Any = None

    def call(self, what: str, action: Callable[[Any], T]) -> T:
        """``action(connection)``, bounded by the timeout; DriverError names the host."""
        future = _CALLS.submit(self._run, action)
        try:
            return future.result(timeout=self.timeout)
        except FutureTimeout:
            self.drop()
            raise DriverError(
                FAULT_CODE,
                f"host {self.name} did not answer within {self.timeout:g} s ({what})",
                transient=True,
            ) from None
        except libvirt.libvirtError as exc:
            broken = error_code(exc) in _CONNECTION_ERRORS
            if broken:
                self.drop()
            raise DriverError(
                FAULT_CODE, f"host {self.name}: {what} failed: {exc}", transient=broken
            ) from exc

    def _connection(self) -> Any:
        """The open connection (opened now if need be)."""
        with self._lock:
            if self._conn is None or not self._alive(self._conn):
                self._conn = libvirt.open(self.uri)
            return self._conn

    def drop(self) -> None:
        """Forget the connection; the next call opens a new one."""
        with self._lock:
            conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except libvirt.libvirtError:
                pass

    def _run(self, action: Callable[[Any], T]) -> T:
        return action(self._connection())

    @staticmethod
    def _alive(conn: Any) -> bool:
        try:
            return bool(conn.isAlive())
        except libvirt.libvirtError:
            return False
