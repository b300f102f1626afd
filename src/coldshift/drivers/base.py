"""The hypervisor port. Workflows import only this module."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


class DriverError(Exception):
    """The hypervisor could not do what was asked; ``code`` is the Huawei job error code."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


@dataclass(frozen=True, slots=True)
class GuestSpec:
    server_id: str
    host_name: str
    vcpus: int
    memory_mb: int
    disk_gb: int


class HypervisorDriver(Protocol):
    """Every call is idempotent: a workflow re-run after a crash may repeat it."""

    def boot(self, guest: GuestSpec) -> None: ...

    def power_on(self, guest: GuestSpec) -> None: ...

    def power_off(self, guest: GuestSpec) -> None: ...

    def destroy(self, guest: GuestSpec) -> None: ...

    def copy_disks(self, guest: GuestSpec, target_host: str) -> None: ...

    def define_on_target(self, guest: GuestSpec, target_host: str) -> None: ...

    def cleanup_source(self, guest: GuestSpec) -> None: ...

    def allocate_host(self) -> None: ...
