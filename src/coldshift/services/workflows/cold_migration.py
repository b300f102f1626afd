"""migrateSingleServer: cold-migrate a stopped ECS (cold-migration.md), step by step.

    claim_target          → resize_migrating   target room claimed; the source still held
    copy_disks            → resize_migrated
    define_on_target
    cleanup_source                             the guest undefined on the source, disks kept
    ── commit point: a job interrupted before here is undone, one that reached it finished ──
    switch_over           → resize_finish      the server is on the target; source "outgoing"
    delete_source_copies                       a clean-up: if the source host fails, a
                                               maintenance task deletes them later
    release_source        → (no task)          source capacity given back; the job ends

Each step before the commit point can fail (no room, a driver fault) and has an undo. Past it
the job always ends SUCCESS: the server is on its target whatever happens to the source.
The task changes are those of ``domain.lifecycle``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from coldshift.domain.codes import Code
from coldshift.domain.hosts import ClaimRole, HostKind
from coldshift.domain.job_types import COPIED_BYTES, JobType
from coldshift.domain.lifecycle import (
    DISKS_COPIED,
    MIGRATION_ENDED,
    MIGRATION_UNDONE,
    SWITCHED_OVER,
    TARGET_CLAIMED,
    Transition,
)
from coldshift.domain.servers import DEDICATED, SHARED
from coldshift.drivers.base import GuestSpec, HypervisorDriver, Spot
from coldshift.jobs.workflow import StepContext, StepFailed, Workflow
from coldshift.services.claims import (
    PUBLIC_POOL,
    ClaimedHost,
    NamedDedicatedHost,
    NoCapacity,
    claim_room,
)
from coldshift.services.context import Region
from coldshift.services.workflows.common import (
    ProgressReporter,
    driver_call,
    guest_from_record,
    guest_of,
    guest_record,
    job_server,
)

INCOMING = ClaimRole.INCOMING.value
OUTGOING = ClaimRole.OUTGOING.value

# What later steps need, recorded by claim_target in the job's progress so that they read
# neither the server nor the hosts again.
TARGET = "target"  # [host id, name, kind, driver name, [NUMA nodes]] of the claimed target
GUEST = "guest"  # the server on its source host (common.guest_record)
COPIED = COPIED_BYTES  # [bytes copied, bytes total], while and once the disks are copied


@dataclass(frozen=True)
class Target:
    id: str
    name: str
    kind: HostKind
    spot: Spot


def _target(ctx: StepContext) -> Target:
    host_id, name, kind, driver_name, nodes = ctx.progress[TARGET]
    return Target(host_id, name, HostKind(kind), Spot(driver_name, tuple(nodes)))


def _guest(ctx: StepContext) -> GuestSpec:
    """The guest on the source host."""
    return guest_from_record(ctx.progress[GUEST])


def _remember_target(ctx: StepContext, host: ClaimedHost) -> None:
    nodes = list(host.numa_nodes)
    ctx.progress[TARGET] = [host.id, host.name, host.kind.value, host.driver_name, nodes]


@dataclass
class ClaimTarget:
    """Claim room for the server on the named DeH, or on the pool's least loaded host."""

    region: Region
    name: str = "claim_target"

    def run(self, ctx: StepContext) -> None:
        # The reads before the claim, in one read transaction; the claim reads afresh.
        with self.region.store.snapshot():
            server = job_server(self.region, ctx)
            ctx.progress[GUEST] = guest_record(guest_of(self.region, server))
            claimed = self.region.store.claimed_host(server.id, INCOMING)
            if claimed is not None:  # claimed before an interruption
                found = self.region.store.get_host(claimed)
                assert found is not None, "a claimed host is never deleted"
                nodes = self.region.store.claimed_nodes(server.id, INCOMING)
                _remember_target(
                    ctx, ClaimedHost(found.id, found.name, found.kind, found.driver_name, nodes)
                )
                return
        target_id = ctx.job.payload.get("target_host_id")
        try:
            host = claim_room(
                self.region,
                server.id,
                self.region.flavor(server.flavor_id),
                availability_zone=server.availability_zone,
                where=NamedDedicatedHost(target_id) if target_id else PUBLIC_POOL,
                role=INCOMING,
                then=lambda _host_id: TARGET_CLAIMED.change,
            )
        except NoCapacity as exc:
            raise StepFailed(Code.NO_CAPACITY, f"{Code.NO_CAPACITY}: {exc.reason}") from exc
        _remember_target(ctx, host)

    def compensate(self, ctx: StepContext) -> None:
        server_id = ctx.job.entities["server_id"]
        self.region.release_claims(server_id, INCOMING, MIGRATION_UNDONE.change)


#: a migration's driver call: the driver, the guest on its source, the target, the step's context
DriverCall = Callable[[HypervisorDriver, GuestSpec, Spot, StepContext], None]


@dataclass
class DriverStep:
    """One hypervisor call of the migration, and the call that undoes it."""

    region: Region
    name: str
    call: DriverCall
    on_target: bool
    then: Transition | None = None

    def run(self, ctx: StepContext) -> None:
        guest, target = _guest(ctx), _target(ctx).spot
        driver_call(lambda: self.call(self.region.driver, guest, target, ctx))
        if self.then is not None:
            change = self.then.change
            ctx.defer(lambda: self.region.store.change_task(guest.server_id, change))

    def compensate(self, ctx: StepContext) -> None:
        guest = _guest(ctx)
        if self.on_target:
            target = _target(ctx).spot
            driver_call(lambda: self.region.driver.discard_target(guest, target))
        else:
            driver_call(lambda: self.region.driver.restore_source(guest))


def _copy_disks(region: Region) -> DriverCall:
    def copy(driver: HypervisorDriver, guest: GuestSpec, target: Spot, ctx: StepContext) -> None:
        progress = ProgressReporter(ctx, COPIED, counted=region.observer.bytes_copied)
        driver.copy_disks(guest, target, progress)

    return copy


@dataclass
class SwitchOver:
    """The commit point: the server moves to the target in one transaction."""

    region: Region
    name: str = "switch_over"

    def run(self, ctx: StepContext) -> None:
        server_id = ctx.job.entities["server_id"]
        target = _target(ctx)
        dedicated = target.kind is HostKind.DEH
        change = SWITCHED_OVER.with_(
            host_id=target.id,
            tenancy=DEDICATED if dedicated else SHARED,
            dedicated_host_id=target.id if dedicated else None,
        )
        # Committed with the step's record: the commit point and "steps_done past it" are
        # one transaction. A no-op once made (no "incoming" claim is left).
        ctx.defer(lambda: self.region.store.switch_over(server_id, change))

    def compensate(self, ctx: StepContext) -> None:
        """Never undone: it is the commit point."""


@dataclass
class DeleteSourceCopies:
    """Delete the disks left on the source host (a clean-up: it may be left to maintenance)."""

    region: Region
    name: str = "delete_source_copies"

    def run(self, ctx: StepContext) -> None:
        guest = _guest(ctx)
        if ctx.maintenance and self._lives_on_source_again(ctx):
            return  # its disks there are the live ones now: nothing is left over
        driver_call(lambda: self.region.driver.confirm_migration(guest))

    def _lives_on_source_again(self, ctx: StepContext) -> bool:
        """Run late, the server may have been migrated back to the source since."""
        server_id, source = ctx.job.entities["server_id"], ctx.job.payload["source_host_id"]
        server = self.region.store.get_server(None, server_id)
        return server is not None and (
            source in (server.host_id, server.migrating_to)
            or self.region.store.claimed_host(server_id, INCOMING) == source
        )

    def compensate(self, ctx: StepContext) -> None:
        """Never undone: past the commit point."""


@dataclass
class ReleaseSource:
    """Give the source's capacity back and end the task."""

    region: Region
    name: str = "release_source"

    def run(self, ctx: StepContext) -> None:
        server_id = ctx.job.entities["server_id"]
        self.region.release_claims(server_id, OUTGOING, MIGRATION_ENDED.change)

    def compensate(self, ctx: StepContext) -> None:
        """Never undone: past the commit point."""


def cold_migration_workflow(region: Region) -> Workflow:
    steps = (
        ClaimTarget(region),
        DriverStep(region, "copy_disks", _copy_disks(region), on_target=True, then=DISKS_COPIED),
        DriverStep(
            region,
            "define_on_target",
            lambda d, guest, target, _ctx: d.define_on_target(guest, target),
            on_target=True,
        ),
        DriverStep(
            region,
            "cleanup_source",
            lambda d, guest, _target, _ctx: d.cleanup_source(guest),
            on_target=False,
        ),
        SwitchOver(region),
        DeleteSourceCopies(region),
        ReleaseSource(region),
    )
    return Workflow(
        JobType.MIGRATE_ONE_SERVER,
        steps,
        commit_point="switch_over",
        cleanups=frozenset({"delete_source_copies"}),
        # a driver call only, safe to repeat: release_source's record covers it
        unrecorded=frozenset({"delete_source_copies"}),
    )
