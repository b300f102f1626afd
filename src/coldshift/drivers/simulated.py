"""The default driver: no real guests, the catalog's timings, and fault injection.

It is both the production default and the test double: deterministic, no I/O, with a table
of faults (operation → remaining count) that an admin endpoint or a test can set.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from coldshift.domain.catalog import SimulatedDriverSettings
from coldshift.drivers.base import DriverError, GuestSpec

OPERATIONS = (
    "boot",
    "power_on",
    "power_off",
    "destroy",
    "copy_disks",
    "define_on_target",
    "cleanup_source",
    "allocate_host",
)


class SimulatedDriver:
    def __init__(
        self, settings: SimulatedDriverSettings, sleep: Callable[[float], None] = time.sleep
    ) -> None:
        self._settings = settings
        self._sleep = sleep
        self._faults: dict[str, int] = {}
        self._lock = threading.Lock()

    def inject_fault(self, operation: str, count: int = 1) -> None:
        if operation not in OPERATIONS:
            raise ValueError(f"unknown driver operation {operation!r}; one of {OPERATIONS}")
        with self._lock:
            self._faults[operation] = count

    def faults(self) -> dict[str, int]:
        with self._lock:
            return {k: v for k, v in self._faults.items() if v > 0}

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def boot(self, guest: GuestSpec) -> None:
        self._act("boot", self._settings.action_seconds)

    def power_on(self, guest: GuestSpec) -> None:
        self._act("power_on", self._settings.action_seconds)

    def power_off(self, guest: GuestSpec) -> None:
        self._act("power_off", self._settings.action_seconds)

    def destroy(self, guest: GuestSpec) -> None:
        self._act("destroy", self._settings.action_seconds)

    def copy_disks(self, guest: GuestSpec, target_host: str) -> None:
        speed = self._settings.disk_copy_mb_per_s
        seconds = guest.disk_gb * 1024 / speed if speed > 0 else 0.0
        self._act("copy_disks", seconds)

    def define_on_target(self, guest: GuestSpec, target_host: str) -> None:
        self._act("define_on_target", 0.0)

    def cleanup_source(self, guest: GuestSpec) -> None:
        self._act("cleanup_source", 0.0)

    def allocate_host(self) -> None:
        self._act("allocate_host", self._settings.deh_allocate_seconds)

    def _act(self, operation: str, seconds: float) -> None:
        with self._lock:
            remaining = self._faults.get(operation, 0)
            if remaining > 0:
                self._faults[operation] = remaining - 1
        if remaining > 0:
            raise DriverError("Ecs.1000", f"simulated hypervisor fault injected at {operation}")
        if seconds > 0:
            self._sleep(seconds)
