"""Helpers shared by the server workflows."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from coldshift.domain.codes import Code
from coldshift.domain.hosts import ClaimRole, Host
from coldshift.domain.servers import Server, server_volumes
from coldshift.drivers.base import DiskSpec, DriverError, GuestSpec
from coldshift.jobs.workflow import StepContext, StepFailed
from coldshift.services.context import Region

#: a long copy's progress is written at most this often (it is for watching, not recovery)
PROGRESS_SECONDS = 1.0


def driver_call(call: Callable[[], None], code: str | None = None) -> None:
    """Make a hypervisor call; its fault fails the step with ``code`` (default: the driver's
    own), transient if the driver says so (the engine then tries it again)."""
    try:
        call()
    except DriverError as exc:
        failed = code or exc.code
        raise StepFailed(failed, f"{failed}: {exc.reason}", transient=exc.transient) from exc


def job_server(region: Region, ctx: StepContext) -> Server:
    server = region.store.get_server(None, ctx.job.entities["server_id"])
    if server is None:
        raise StepFailed(
            Code.SERVER_NOT_FOUND, f"the ECS {ctx.job.entities['server_id']} no longer exists"
        )
    return server


def guest_of(region: Region, server: Server, host: Host | None = None) -> GuestSpec:
    """The server as the driver sees it on its host (``host``, read when not given)."""
    if host is None and server.host_id:
        host = region.store.get_host(server.host_id)
    flavor = region.flavor(server.flavor_id)
    disks = tuple(DiskSpec(v.id, v.size_gb) for v in server_volumes(server))
    nodes = region.store.claimed_nodes(server.id, ClaimRole.PLACED) if host else ()
    return GuestSpec(
        server.id,
        host.driver_name if host else server.host_id or "",
        flavor.vcpus,
        flavor.ram_mb,
        sum(d.size_gb for d in disks),
        name=server.name,
        project_id=server.project_id,
        flavor_id=server.flavor_id,
        image_ref=server.image_ref,
        numa_nodes=nodes or (0,),
        disks=disks,
    )


def guest_record(guest: GuestSpec) -> dict[str, Any]:
    """``guest`` as a job's progress keeps it (JSON)."""
    return {
        "server_id": guest.server_id,
        "host_name": guest.host_name,
        "vcpus": guest.vcpus,
        "memory_mb": guest.memory_mb,
        "disk_gb": guest.disk_gb,
        "name": guest.name,
        "project_id": guest.project_id,
        "flavor_id": guest.flavor_id,
        "image_ref": guest.image_ref,
        "numa_nodes": list(guest.numa_nodes),
        "disks": [[d.volume_id, d.size_gb] for d in guest.disks],
    }


def guest_from_record(record: dict[str, Any]) -> GuestSpec:
    return GuestSpec(
        **{
            **record,
            "numa_nodes": tuple(record["numa_nodes"]),
            "disks": tuple(DiskSpec(volume_id, size) for volume_id, size in record["disks"]),
        }
    )


class ProgressReporter:
    """Keeps a copy's (bytes copied, bytes total) in the job's progress under ``key`` and
    saves it every PROGRESS_SECONDS while the copy goes on. The final figures need no save of
    their own: the step's record, committed when the copy returns, holds them (a copy that
    ends within a second costs no write transaction besides it)."""

    def __init__(
        self,
        ctx: StepContext,
        key: str,
        clock: Callable[[], float] = time.monotonic,
        counted: Callable[[int], None] = lambda _count: None,
    ) -> None:
        self._ctx, self._key, self._clock = ctx, key, clock
        self._saved_at = clock()
        #: told each report's new bytes (a copy started over counts again: it moves them again)
        self._counted = counted
        self._copied = 0

    def __call__(self, copied: int, total: int) -> None:
        self._counted(copied - self._copied if copied >= self._copied else copied)
        self._copied = copied
        self._ctx.progress[self._key] = [copied, total]
        now = self._clock()
        if now - self._saved_at >= PROGRESS_SECONDS:
            self._saved_at = now
            self._ctx.save_progress()
