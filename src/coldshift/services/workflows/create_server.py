"""createSingleServer: claim capacity (NUMA-aware), boot, mark ACTIVE.

A server whose creation fails is not kept: its compensation deletes it and gives back any
capacity it held, so that GET answers 404 and no claim leaks.
"""

from __future__ import annotations

from dataclasses import dataclass

from coldshift.domain.codes import Code
from coldshift.domain.job_types import JobType
from coldshift.domain.lifecycle import CREATED, PLACED, TaskChange
from coldshift.domain.servers import DEDICATED
from coldshift.drivers.base import DriverError
from coldshift.jobs.workflow import StepContext, StepFailed, Workflow
from coldshift.services.claims import NoCapacity, claim_room, where_created
from coldshift.services.context import Region
from coldshift.services.workflows.common import driver_call, guest_of, job_server


@dataclass
class ClaimCapacity:
    region: Region
    name: str = "claim_capacity"

    def run(self, ctx: StepContext) -> None:
        server = job_server(self.region, ctx)
        if self.region.store.has_claims(server.id):
            return
        dedicated = server.tenancy == DEDICATED

        def values(host_id: str) -> TaskChange:
            if dedicated:
                return PLACED.with_(host_id=host_id, dedicated_host_id=host_id)
            return PLACED.with_(host_id=host_id)

        try:
            claim_room(
                self.region,
                server.id,
                self.region.flavor(server.flavor_id),
                availability_zone=server.availability_zone,
                where=where_created(server),
                role="placed",
                then=values,
            )
        except NoCapacity as exc:
            raise StepFailed(Code.NO_CAPACITY, f"{Code.NO_CAPACITY}: {exc.reason}") from exc

    def compensate(self, ctx: StepContext) -> None:
        self.region.delete_server(ctx.job.entities["server_id"])


@dataclass
class Boot:
    region: Region
    name: str = "boot"

    def run(self, ctx: StepContext) -> None:
        server = job_server(self.region, ctx)
        guest = guest_of(self.region, server)
        driver_call(lambda: self.region.driver.boot(guest), Code.CREATE_FAILED)

    def compensate(self, ctx: StepContext) -> None:
        server = self.region.store.get_server(None, ctx.job.entities["server_id"])
        if server is not None:
            try:
                self.region.driver.destroy(guest_of(self.region, server))
            except DriverError:
                pass  # the guest is deleted with the server record anyway


@dataclass
class MarkActive:
    region: Region
    name: str = "mark_active"

    def run(self, ctx: StepContext) -> None:
        change = CREATED.with_(launched_at=self.region.clock())
        self.region.store.change_task(ctx.job.entities["server_id"], change)

    def compensate(self, ctx: StepContext) -> None:
        """Nothing to undo: this is the last step."""


def create_server_workflow(region: Region) -> Workflow:
    steps = (ClaimCapacity(region), Boot(region), MarkActive(region))
    return Workflow(JobType.CREATE_SERVER, steps)
