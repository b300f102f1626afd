"""startServer, stopServer, rebootServer, deleteServer: one driver call, then the new state.

A sub-job whose server was already in the wanted state succeeds without doing anything
(mode "noop"); one whose server could not take the action fails with Ecs.0100 (mode "refuse").
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from coldshift.domain.servers import POWER_RUNNING, POWER_SHUTDOWN, VmState
from coldshift.drivers.base import DriverError, GuestSpec, HypervisorDriver
from coldshift.jobs.workflow import StepContext, StepFailed, Workflow
from coldshift.services.context import Region
from coldshift.services.workflows.common import guest_of, host_name, job_server

WRONG_STATE = "Ecs.0100"


@dataclass
class DriverAction:
    """Call the driver for the job's server; on failure give the server back its idle state."""

    region: Region
    name: str
    call: Callable[[HypervisorDriver, GuestSpec], None]
    error_code: str

    def run(self, ctx: StepContext) -> None:
        mode = ctx.job.payload.get("mode", "run")
        if mode == "noop":
            return
        server = job_server(self.region, ctx)
        if mode == "refuse":
            raise StepFailed(
                WRONG_STATE,
                f"{WRONG_STATE}: the ECS {server.id} is "
                f"{server.status}; {self.name} does not apply",
            )
        try:
            self.call(
                self.region.driver,
                guest_of(self.region, server, host_name(self.region, server.host_id)),
            )
        except DriverError as exc:
            raise StepFailed(self.error_code, f"{self.error_code}: {exc.reason}") from exc

    def compensate(self, ctx: StepContext) -> None:
        if ctx.job.payload.get("mode", "run") == "run":
            self.region.store.update_server(ctx.job.entities["server_id"], {"task_state": None})


@dataclass
class SetState:
    """Record the state the action leads to, and end the task."""

    region: Region
    values: dict[str, Any]
    name: str = "record_state"
    delete: bool = field(default=False)

    def run(self, ctx: StepContext) -> None:
        if ctx.job.payload.get("mode", "run") != "run":
            return
        server_id = ctx.job.entities["server_id"]
        if self.delete:
            self.region.delete_server(server_id)
        else:
            self.region.store.update_server(server_id, {**self.values, "task_state": None})

    def compensate(self, ctx: StepContext) -> None:
        """Nothing to undo: this is the last step."""


def start_server_workflow(region: Region) -> Workflow:
    return Workflow(
        "startServer",
        (
            DriverAction(region, "power_on", lambda d, g: d.power_on(g), "Ecs.0226"),
            SetState(region, {"vm_state": VmState.ACTIVE.value, "power_state": POWER_RUNNING}),
        ),
    )


def stop_server_workflow(region: Region) -> Workflow:
    return Workflow(
        "stopServer",
        (
            DriverAction(region, "power_off", lambda d, g: d.power_off(g), "Ecs.1000"),
            SetState(region, {"vm_state": VmState.STOPPED.value, "power_state": POWER_SHUTDOWN}),
        ),
    )


def reboot_server_workflow(region: Region) -> Workflow:
    return Workflow(
        "rebootServer",
        (
            DriverAction(region, "reboot", lambda d, g: d.power_on(g), "Ecs.0227"),
            SetState(region, {"vm_state": VmState.ACTIVE.value, "power_state": POWER_RUNNING}),
        ),
    )


def delete_server_workflow(region: Region) -> Workflow:
    return Workflow(
        "deleteServer",
        (
            DriverAction(region, "destroy", lambda d, g: d.destroy(g), "Ecs.0501"),
            SetState(region, {}, delete=True),
        ),
    )
