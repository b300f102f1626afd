"""startServer, stopServer, rebootServer, deleteServer: one driver call, then the new state.

A sub-job whose server was already in the wanted state succeeds without doing anything
(mode "noop"); one whose server could not take the action fails with Ecs.0100 (mode "refuse").
The task changes are those of ``domain.lifecycle``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from coldshift.domain.codes import Code
from coldshift.domain.job_types import JobType
from coldshift.domain.lifecycle import ACTION_UNDONE, REBOOTED, STARTED, STOPPED, Transition
from coldshift.drivers.base import GuestSpec, HypervisorDriver
from coldshift.jobs.workflow import StepContext, StepFailed, Workflow
from coldshift.services.context import Region
from coldshift.services.workflows.common import driver_call, guest_of, job_server


@dataclass
class DriverAction:
    """Call the driver for the job's server; on failure give the server back its idle state."""

    region: Region
    name: str
    call: Callable[[HypervisorDriver, GuestSpec, bool], None]
    error_code: Code

    def run(self, ctx: StepContext) -> None:
        mode = ctx.job.payload.get("mode", "run")
        if mode == "noop":
            return
        server = job_server(self.region, ctx)
        if mode == "refuse":
            raise StepFailed(
                Code.WRONG_STATE,
                f"{Code.WRONG_STATE}: the ECS {server.id} is "
                f"{server.status}; {self.name} does not apply",
            )
        guest = guest_of(self.region, server)
        forced = ctx.job.payload.get("type") == "HARD"
        driver_call(lambda: self.call(self.region.driver, guest, forced), self.error_code)

    def compensate(self, ctx: StepContext) -> None:
        if ctx.job.payload.get("mode", "run") == "run":
            self.region.store.change_task(ctx.job.entities["server_id"], ACTION_UNDONE.change)


@dataclass
class RecordState:
    """Record the state the action leads to (``done``), and end the task."""

    region: Region
    done: Transition | None
    name: str = "record_state"

    def run(self, ctx: StepContext) -> None:
        if ctx.job.payload.get("mode", "run") != "run":
            return
        server_id = ctx.job.entities["server_id"]
        if self.done is None:
            self.region.delete_server(server_id)
        else:
            self.region.store.change_task(server_id, self.done.change)

    def compensate(self, ctx: StepContext) -> None:
        """Nothing to undo: this is the last step."""


@dataclass(frozen=True, slots=True)
class _PowerAction:
    job_type: JobType
    step: str
    #: the driver call: the guest, and whether the action is forced (type HARD)
    call: Callable[[HypervisorDriver, GuestSpec, bool], None]
    error_code: Code
    #: the task's end (None: the server is deleted)
    done: Transition | None


_ACTIONS = (
    _PowerAction(
        JobType.START_SERVER, "power_on", lambda d, g, _: d.power_on(g), Code.START_FAILED, STARTED
    ),
    _PowerAction(
        JobType.STOP_SERVER,
        "power_off",
        lambda d, g, forced: d.power_off(g, forced=forced),
        Code.SYSTEM_ERROR,
        STOPPED,
    ),
    _PowerAction(
        JobType.REBOOT_SERVER,
        "reboot",
        lambda d, g, forced: d.reboot(g, forced=forced),
        Code.REBOOT_FAILED,
        REBOOTED,
    ),
    _PowerAction(
        JobType.DELETE_SERVER, "destroy", lambda d, g, _: d.destroy(g), Code.DELETE_FAILED, None
    ),
)


def power_workflows(region: Region) -> list[Workflow]:
    """startServer, stopServer, rebootServer and deleteServer."""
    return [
        Workflow(
            action.job_type,
            (
                DriverAction(region, action.step, action.call, action.error_code),
                RecordState(region, action.done),
            ),
        )
        for action in _ACTIONS
    ]
