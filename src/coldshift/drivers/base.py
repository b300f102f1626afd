"""The hypervisor port. Workflows import only this module."""

from __future__ import annotations

from collections.abc import Callable, Collection
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


class HostRefused(Exception):
    """A host cannot serve as its type says (e.g. too few NUMA cells): the region does not
    start until the catalog or the host is fixed."""


class NoFreeMachines(Exception):
    def __init__(self, free: int) -> None:
        super().__init__(f"{free} free")
        self.free = free


@dataclass(frozen=True, slots=True)
class DiskSpec:
    """One disk of a guest: its volume id (the guest sees it as the disk's serial) and size."""

    volume_id: str
    size_gb: int


@dataclass(frozen=True, slots=True)
class GuestSpec:
    """A guest where it is: ``host_name`` names the host as the driver knows it (a libvirt
    region's machine), ``numa_nodes`` the host's NUMA nodes that placement gave it."""

    server_id: str
    host_name: str
    vcpus: int
    memory_mb: int
    disk_gb: int
    name: str = ""
    project_id: str = ""
    flavor_id: str = ""
    image_ref: str = ""
    numa_nodes: tuple[int, ...] = (0,)
    disks: tuple[DiskSpec, ...] = ()


@dataclass(frozen=True, slots=True)
class Spot:
    """Where a migrating guest goes: the target host and its NUMA nodes that were claimed."""

    host_name: str
    numa_nodes: tuple[int, ...] = (0,)


#: told (bytes copied so far, bytes to copy in all) while disks are copied
CopyProgress = Callable[[int, int], None]


def no_progress(_copied: int, _total: int) -> None:
    """A caller that does not watch the copy."""


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

    def power_off(self, guest: GuestSpec, *, forced: bool = False) -> None:
        """Stop the guest: asked to shut down (forced: at once, as a power cut)."""
        ...

    def destroy(self, guest: GuestSpec) -> None: ...

    def reboot(self, guest: GuestSpec, *, forced: bool = False) -> None:
        """Restart the guest: asked to (forced: reset at once)."""
        ...

    def copy_disks(self, guest: GuestSpec, target: Spot, progress: CopyProgress) -> None: ...

    def define_on_target(self, guest: GuestSpec, target: Spot) -> None: ...

    def cleanup_source(self, guest: GuestSpec) -> None: ...

    def discard_target(self, guest: GuestSpec, target: Spot) -> None: ...

    def restore_source(self, guest: GuestSpec) -> None: ...

    def confirm_migration(self, guest: GuestSpec) -> None: ...

    def allocate_machines(
        self, host_type: str, availability_zone: str, quantity: int, in_use: Collection[str]
    ) -> list[str | None]:
        """The physical hosts for ``quantity`` new DeHs, none of ``in_use`` (None: the DeH
        needs none of its own). Raises NoFreeMachines when there are too few."""
        ...


@dataclass(frozen=True, slots=True)
class OperationState:
    """What an operator sees of one driver operation: injected faults and holds, and use."""

    operation: str
    fail_next: int
    hold_seconds: float
    in_progress: int
    calls: int
    faultable: bool


@dataclass(frozen=True, slots=True)
class HostStatus:
    """What the start-up probe found of one physical host."""

    name: str
    availability_zone: str
    host_type: str
    use: str
    reachable: bool
    #: the host's NUMA cells (0 when it did not answer)
    cells: int = 0
    #: why it is unavailable
    reason: str = ""


@runtime_checkable
class InventoryDriver(Protocol):
    """A driver of real hosts: probed at start, and reporting what it found."""

    def probe(self) -> list[HostStatus]:
        """Read every host; raise HostRefused for one that cannot serve as its type says."""
        ...

    def host_statuses(self) -> list[HostStatus]: ...


@runtime_checkable
class ControllableDriver(Protocol):
    """A driver whose operations can be made to fail or to wait (the simulated one)."""

    def operations(self) -> list[OperationState]: ...

    def set_operation(
        self, operation: str, *, fail_next: int | None = None, hold_seconds: float | None = None
    ) -> OperationState: ...

    def reset(self) -> None: ...
