"""Operator controls of the hypervisor driver: inject faults, hold operations, see use.

Each process has its own driver, so these act on the process that serves the request.
"""

from __future__ import annotations

from coldshift.domain.errors import BadRequest
from coldshift.drivers.base import (
    ControllableDriver,
    HostStatus,
    InventoryDriver,
    OperationState,
)
from coldshift.jobs.model import MaintenanceTask
from coldshift.services.context import Region


def driver_operations(region: Region) -> list[OperationState]:
    """The operations of a driver that takes injected faults (none for real hosts)."""
    driver = region.driver
    return driver.operations() if isinstance(driver, ControllableDriver) else []


def driver_hosts(region: Region) -> list[HostStatus]:
    """A real-host driver's hosts as found at start: reachable or not, and why."""
    driver = region.driver
    return driver.host_statuses() if isinstance(driver, InventoryDriver) else []


def set_driver_operation(
    region: Region, operation: str, fail_next: int | None, hold_seconds: float | None
) -> OperationState:
    if fail_next is None and hold_seconds is None:
        raise BadRequest("give fail_next (calls that will fail) and/or hold_seconds")
    try:
        return _controllable(region).set_operation(
            operation, fail_next=fail_next, hold_seconds=hold_seconds
        )
    except ValueError as exc:
        raise BadRequest(str(exc)) from exc


def maintenance_tasks(region: Region, pending_only: bool = True) -> list[MaintenanceTask]:
    """What jobs left to clean up (a source host that failed after a switch-over, an undo
    that could not be done), tried again with backoff until done."""
    return region.maintenance.list_maintenance(pending_only=pending_only)


def reset_driver(region: Region) -> None:
    _controllable(region).reset()


def _controllable(region: Region) -> ControllableDriver:
    if not isinstance(region.driver, ControllableDriver):
        raise BadRequest(f"the {region.catalog.driver.kind} driver takes no injected faults")
    return region.driver
