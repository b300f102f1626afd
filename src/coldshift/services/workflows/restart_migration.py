"""restartMigrateServer: a drain's migration of a running ECS (``drain --restart``).

migrateSingleServer's steps, with the guest stopped once its target room is claimed and
started again on the target after the switch-over, before the task ends:

    claim_target          → resize_migrating   (the server still runs)
    stop_guest            → vm stopped         undo: started again on its source
    copy_disks … switch_over … delete_source_copies   (as migrateSingleServer)
    start_guest           → vm active          on the target; past the commit point
    release_source        → (no task)

A start that fails on the target does not fail the job (the server is on its target, stopped;
the job's progress says so under "restart_failed"): past the commit point nothing is undone.
"""

from __future__ import annotations

from dataclasses import dataclass

from coldshift.domain.job_types import JobType
from coldshift.domain.lifecycle import (
    RESTARTED_ON_SOURCE,
    RESTARTED_ON_TARGET,
    STOPPED_FOR_MIGRATION,
)
from coldshift.drivers.base import DriverError
from coldshift.jobs.workflow import StepContext, Workflow
from coldshift.services.context import Region
from coldshift.services.workflows.cold_migration import GUEST, cold_migration_workflow
from coldshift.services.workflows.common import driver_call, guest_from_record, guest_of, job_server

#: the job's progress key set when the start on the target failed (its reason)
RESTART_FAILED = "restart_failed"


@dataclass
class StopGuest:
    """Power the guest off on its source (it was running when the drain was accepted)."""

    region: Region
    name: str = "stop_guest"

    def run(self, ctx: StepContext) -> None:
        guest = guest_from_record(ctx.progress[GUEST])
        driver_call(lambda: self.region.driver.power_off(guest))
        change = STOPPED_FOR_MIGRATION.change
        ctx.defer(lambda: self.region.store.change_task(guest.server_id, change))

    def compensate(self, ctx: StepContext) -> None:
        guest = guest_from_record(ctx.progress[GUEST])
        driver_call(lambda: self.region.driver.power_on(guest))
        self.region.store.change_task(guest.server_id, RESTARTED_ON_SOURCE.change)


@dataclass
class StartGuest:
    """Power the guest on on its new host; a failure is recorded, not raised."""

    region: Region
    name: str = "start_guest"

    def run(self, ctx: StepContext) -> None:
        server = job_server(self.region, ctx)
        guest = guest_of(self.region, server)
        try:
            self.region.driver.power_on(guest)
        except DriverError as exc:  # past the commit point: reported, never undone
            ctx.progress[RESTART_FAILED] = f"{exc.code}: {exc.reason}"
            return
        change = RESTARTED_ON_TARGET.change
        ctx.defer(lambda: self.region.store.change_task(server.id, change))

    def compensate(self, ctx: StepContext) -> None:
        """Never undone: past the commit point."""


def restart_migration_workflow(region: Region) -> Workflow:
    base = cold_migration_workflow(region)
    steps = list(base.steps)
    steps.insert(1, StopGuest(region))
    steps.insert(len(steps) - 1, StartGuest(region))
    return Workflow(
        JobType.RESTART_MIGRATE_SERVER,
        tuple(steps),
        commit_point=base.commit_point,
        cleanups=base.cleanups,
        unrecorded=base.unrecorded,
    )
