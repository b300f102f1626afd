"""ECS states: stable vm_state, transitional task_state, and the status derived from them."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from typing import Any


class VmState(StrEnum):
    BUILDING = "building"
    ACTIVE = "active"
    STOPPED = "stopped"
    ERROR = "error"
    DELETED = "deleted"


class TaskState(StrEnum):
    SCHEDULING = "scheduling"
    SPAWNING = "spawning"
    POWERING_ON = "powering-on"
    POWERING_OFF = "powering-off"
    DELETING = "deleting"
    RESIZE_PREP = "resize_prep"
    RESIZE_MIGRATING = "resize_migrating"
    RESIZE_MIGRATED = "resize_migrated"
    RESIZE_FINISH = "resize_finish"


POWER_RUNNING = 1
POWER_SHUTDOWN = 4
POWER_NOSTATE = 0

RESIZE_TASKS = frozenset(
    {
        TaskState.RESIZE_PREP,
        TaskState.RESIZE_MIGRATING,
        TaskState.RESIZE_MIGRATED,
        TaskState.RESIZE_FINISH,
    }
)

# api.md §2.5: a status filter matches the stable state, so intermediate servers match too.
STATUS_FILTER_MATCHES: dict[str, frozenset[str]] = {
    "ACTIVE": frozenset({"ACTIVE", "REBOOT", "HARD_REBOOT", "REBUILD", "MIGRATING", "RESIZE"}),
    "SHUTOFF": frozenset({"SHUTOFF", "RESIZE", "REBUILD"}),
    "ERROR": frozenset({"ERROR", "REBUILD"}),
    "VERIFY_RESIZE": frozenset({"VERIFY_RESIZE", "REVERT_RESIZE"}),
}


def derive_status(vm_state: str, task_state: str | None) -> str:
    """Huawei's derived ``status`` (api.md §6.1) for the states coldshift produces."""
    if task_state in RESIZE_TASKS and vm_state in (VmState.STOPPED, VmState.ACTIVE):
        return "RESIZE"
    by_vm_state = {
        VmState.BUILDING: "BUILD",
        VmState.ACTIVE: "ACTIVE",
        VmState.STOPPED: "SHUTOFF",
        VmState.ERROR: "ERROR",
        VmState.DELETED: "DELETED",
    }
    return by_vm_state.get(VmState(vm_state), "UNKNOWN") if vm_state in _VM_STATES else "UNKNOWN"


_VM_STATES = frozenset(s.value for s in VmState)


def status_filter_matches(wanted: str, actual_status: str, vm_state: str) -> bool:
    """Whether a server with ``actual_status`` answers a ``status=wanted`` filter."""
    if wanted == "RESIZE":
        return actual_status == "RESIZE"
    if actual_status == "RESIZE":
        # A stopped server being cold-migrated is SHUTOFF for filtering; a running one ACTIVE.
        return wanted == ("SHUTOFF" if vm_state == VmState.STOPPED else "ACTIVE")
    return actual_status in STATUS_FILTER_MATCHES.get(wanted, frozenset({wanted}))


#: a server's ``tenancy``: on a dedicated host of its project, or in the public pool
DEDICATED = "dedicated"
SHARED = "shared"


@dataclass(frozen=True, slots=True)
class Server:
    id: str
    project_id: str
    name: str
    flavor_id: str
    availability_zone: str
    vm_state: str
    task_state: str | None
    power_state: int
    locked: bool
    host_id: str | None
    tenancy: str
    dedicated_host_id: str | None
    image_ref: str
    vpc_id: str
    details: dict[str, Any]
    created_at: float
    updated_at: float
    launched_at: float | None
    # The DeH a running cold migration is bound for, so that the DeH cannot be released
    # before the job has claimed room on it. None when idle or bound for the public pool.
    migrating_to: str | None = None
    # The (sub-)job that owns the current or last task. A new task may start only once that
    # job has ended: a job ends in a transaction after the one that made the server idle, and
    # a crash in between must not let another job in while the first one may still re-run.
    task_job_id: str | None = None

    @property
    def status(self) -> str:
        return derive_status(self.vm_state, self.task_state)


@dataclass(frozen=True, slots=True)
class Volume:
    """One of a server's disks: the id shown in ``volumes_attached``, and the guest's device."""

    id: str
    device: str
    size_gb: int


def server_volumes(server: Server) -> tuple[Volume, ...]:
    """The root volume, then the data volumes, with ids stable for the server's life."""
    root = server.details.get("root_volume", ["SSD", 40])
    volumes = [Volume(derived_uuid(server.id, 0), "/dev/vda", int(root[1] or 40))]
    for i, (_, size) in enumerate(server.details.get("data_volumes", []), start=1):
        volumes.append(Volume(derived_uuid(server.id, i), f"/dev/vd{chr(ord('a') + i)}", int(size)))
    return tuple(volumes)


@lru_cache(maxsize=65536)
def derived_uuid(seed: str, index: int) -> str:
    """A UUID-shaped id derived from ``seed`` (ids of things coldshift does not store)."""
    raw = hashlib.sha1(f"{seed}/{index}".encode()).hexdigest()
    return f"{raw[:8]}-{raw[8:12]}-4{raw[13:16]}-8{raw[17:20]}-{raw[20:32]}"
