"""The hypervisor port. Workflows import only this module."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable


class DriverError(Exception):
    """The hypervisor could not do what was asked; ``code`` is the Huawei job error code.

    ``transient``: the cause may go away by itself (a host that does not answer in time),
    so the job engine tries the call again before it gives up."""

    def __init__(self, code: str, reason: str, *, transient: bool = False) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason
        self.transient = transient


@dataclass(frozen=True, slots=True)
class GuestSpec:
    server_id: str
    host_name: str
    vcpus: int
    memory_mb: int
    disk_gb: int


class HypervisorDriver(Protocol):
    """Every call is idempotent: a workflow re-run after a crash may repeat it.

    A cold migration calls ``copy_disks``, ``define_on_target`` and ``cleanup_source`` (which
    undefines the guest on the source but keeps its disks), each undone by ``discard_target``
    or ``restore_source``; after the switch-over, ``confirm_migration`` deletes what is left on
    the source. An undo or confirm call that fails (DriverError) is tried again by the job
    engine, and in the end by a maintenance task: the job does not wait for it.
    """

    def boot(self, guest: GuestSpec) -> None: ...

    def power_on(self, guest: GuestSpec) -> None: ...

    def power_off(self, guest: GuestSpec) -> None: ...

    def destroy(self, guest: GuestSpec) -> None: ...

    def copy_disks(self, guest: GuestSpec, target_host: str) -> None: ...

    def define_on_target(self, guest: GuestSpec, target_host: str) -> None: ...

    def cleanup_source(self, guest: GuestSpec) -> None: ...

    def discard_target(self, guest: GuestSpec, target_host: str) -> None: ...

    def restore_source(self, guest: GuestSpec) -> None: ...

    def confirm_migration(self, guest: GuestSpec) -> None: ...

    def allocate_host(self) -> None: ...


@dataclass(frozen=True, slots=True)
class OperationState:
    """What an operator sees of one driver operation: injected faults and holds, and use."""

    operation: str
    fail_next: int
    hold_seconds: float
    in_progress: int
    calls: int
    faultable: bool


@runtime_checkable
class ControllableDriver(Protocol):
    """A driver whose operations can be made to fail or to wait (the simulated one)."""

    def operations(self) -> list[OperationState]: ...

    def set_operation(
        self, operation: str, *, fail_next: int | None = None, hold_seconds: float | None = None
    ) -> OperationState: ...

    def reset(self) -> None: ...
