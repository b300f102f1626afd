"""The default driver: no real guests, the catalog's timings, faults and holds on demand.

It is both the production default and the test double: deterministic, no I/O. An operator
(the admin API) or a test can make the next N calls of an operation fail, or hold every call
of an operation for up to some seconds; a hold set back to 0 lets the waiting calls go on at
once. ``in_progress`` counts the calls inside an operation, so a test can tell that every
migration has reached a given step before it acts (e.g. kills the process).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass

from coldshift.domain.catalog import SimulatedDriverSettings
from coldshift.domain.codes import Code
from coldshift.drivers.base import CopyProgress, DriverError, GuestSpec, OperationState, Spot

FAULT_CODE = Code.SYSTEM_ERROR
# Operations into which faults can be injected. The undo and clean-up calls (discard_target,
# restore_source, confirm_migration) can only be held; their failures (a host that stops
# answering, left to maintenance) are rehearsed in tests/integration/test_maintenance.py.
FAULTABLE = (
    "boot",
    "power_on",
    "power_off",
    "destroy",
    "copy_disks",
    "define_on_target",
    "cleanup_source",
    "allocate_host",
)
OPERATIONS = (*FAULTABLE, "discard_target", "restore_source", "confirm_migration")
GIB = 1024**3
# a long simulated copy reports its progress at most this often, at least this far apart
_PROGRESS_SLICES = 20
_MIN_SLICE_SECONDS = 0.25


@dataclass
class _Operation:
    fail_next: int = 0
    hold_seconds: float = 0.0
    in_progress: int = 0
    calls: int = 0


class SimulatedDriver:
    def __init__(
        self, settings: SimulatedDriverSettings, sleep: Callable[[float], None] = time.sleep
    ) -> None:
        self._settings = settings
        self._sleep = sleep
        self._ops = {name: _Operation() for name in OPERATIONS}
        self._changed = threading.Condition()

    # ---- control -----------------------------------------------------------------------

    def operations(self) -> list[OperationState]:
        with self._changed:
            return [self._state(name) for name in OPERATIONS]

    def set_operation(
        self, operation: str, *, fail_next: int | None = None, hold_seconds: float | None = None
    ) -> OperationState:
        if operation not in OPERATIONS:
            raise ValueError(f"unknown driver operation {operation!r}; one of {OPERATIONS}")
        if fail_next and operation not in FAULTABLE:
            raise ValueError(
                f"{operation} cannot be made to fail: it undoes or cleans up after a step (it "
                f"can be held); faults can be injected into {', '.join(FAULTABLE)}"
            )
        with self._changed:
            op = self._ops[operation]
            if fail_next is not None:
                op.fail_next = fail_next
            if hold_seconds is not None:
                op.hold_seconds = hold_seconds
            self._changed.notify_all()
            return self._state(operation)

    def reset(self) -> None:
        """Clear every fault and hold; held calls go on at once."""
        with self._changed:
            for op in self._ops.values():
                op.fail_next = 0
                op.hold_seconds = 0.0
            self._changed.notify_all()

    def _state(self, name: str) -> OperationState:
        op = self._ops[name]
        return OperationState(
            name, op.fail_next, op.hold_seconds, op.in_progress, op.calls, name in FAULTABLE
        )

    # ---- the port ----------------------------------------------------------------------

    def boot(self, guest: GuestSpec) -> None:
        self._act("boot", self._settings.action_seconds)

    def power_on(self, guest: GuestSpec) -> None:
        self._act("power_on", self._settings.action_seconds)

    def power_off(self, guest: GuestSpec, *, forced: bool = False) -> None:
        self._act("power_off", self._settings.action_seconds)

    def destroy(self, guest: GuestSpec) -> None:
        self._act("destroy", self._settings.action_seconds)

    def reboot(self, guest: GuestSpec, *, forced: bool = False) -> None:
        # one operation with power_on for faults and holds, as before reboot had its own call
        self._act("power_on", self._settings.action_seconds)

    def copy_disks(self, guest: GuestSpec, target: Spot, progress: CopyProgress) -> None:
        speed = self._settings.disk_copy_mb_per_s
        seconds = guest.disk_gb * 1024 / speed if speed > 0 else 0.0
        total = guest.disk_gb * GIB
        self._act("copy_disks", seconds, lambda done: progress(int(total * done), total))

    def define_on_target(self, guest: GuestSpec, target: Spot) -> None:
        self._act("define_on_target", self._settings.action_seconds)

    def cleanup_source(self, guest: GuestSpec) -> None:
        self._act("cleanup_source", 0.0)

    def discard_target(self, guest: GuestSpec, target: Spot) -> None:
        self._act("discard_target", 0.0)

    def restore_source(self, guest: GuestSpec) -> None:
        self._act("restore_source", 0.0)

    def confirm_migration(self, guest: GuestSpec) -> None:
        self._act("confirm_migration", 0.0)

    def allocate_machines(
        self, host_type: str, availability_zone: str, quantity: int, in_use: Collection[str]
    ) -> list[str | None]:
        self._act("allocate_host", self._settings.deh_allocate_seconds)
        return [None] * quantity

    def _act(
        self, operation: str, seconds: float, progress: Callable[[float], None] | None = None
    ) -> None:
        with self._changed:
            op = self._ops[operation]
            op.calls += 1
            if op.fail_next > 0:
                op.fail_next -= 1
                raise DriverError(FAULT_CODE, f"simulated hypervisor fault injected at {operation}")
            op.in_progress += 1
        try:
            self._take(seconds, progress)
            self._hold(op)
        finally:
            with self._changed:
                op.in_progress -= 1

    def _take(self, seconds: float, progress: Callable[[float], None] | None) -> None:
        """Spend ``seconds``, telling ``progress`` the part done a few times on the way."""
        if progress is None:
            if seconds > 0:
                self._sleep(seconds)
            return
        slices = max(1, min(_PROGRESS_SLICES, int(seconds / _MIN_SLICE_SECONDS)))
        for i in range(1, slices + 1):
            if seconds > 0:
                self._sleep(seconds / slices)
            progress(i / slices)

    def _hold(self, op: _Operation) -> None:
        with self._changed:
            if op.hold_seconds > 0:
                self._changed.wait_for(lambda: op.hold_seconds <= 0, timeout=op.hold_seconds)
