"""Helpers shared by the server workflows."""

from __future__ import annotations

from collections.abc import Callable

from coldshift.domain.codes import Code
from coldshift.domain.servers import Server
from coldshift.drivers.base import DriverError, GuestSpec
from coldshift.jobs.workflow import StepContext, StepFailed
from coldshift.services.context import Region


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


def guest_of(region: Region, server: Server, host_name: str | None = None) -> GuestSpec:
    flavor = region.flavor(server.flavor_id)
    root = server.details.get("root_volume", ["SSD", 40])
    disk_gb = int(root[1] or 40) + sum(int(v[1]) for v in server.details.get("data_volumes", []))
    return GuestSpec(
        server.id, host_name or server.host_id or "", flavor.vcpus, flavor.ram_mb, disk_gb
    )


def host_name(region: Region, host_id: str | None) -> str | None:
    host = region.store.get_host(host_id) if host_id else None
    return host.name if host else None
