"""migrateSingleServer: cold-migrate a stopped ECS (cold-migration.md).

    claim_target     → resize_migrating   (target room claimed; the source still held)
    copy_disks       → resize_migrated
    define_on_target
    cleanup_source                         (the guest undefined on the source, disks kept)
    ── commit point: a job interrupted before here is undone, one past it is finished ──
    switch_over      → resize_finish      (the server is on the target; source "outgoing")
    confirm          → SHUTOFF, no task   (source copies deleted, source capacity released)

Every step before the commit point can fail (no room, a driver fault) and has an undo; the
two after it cannot fail, so a job that reached it always ends SUCCESS.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from coldshift.domain.hosts import Host, HostKind
from coldshift.domain.servers import DEDICATED, SHARED, Server, TaskState
from coldshift.drivers.base import DriverError, GuestSpec, HypervisorDriver
from coldshift.jobs.workflow import StepContext, StepFailed, Workflow
from coldshift.services.claims import (
    CAPACITY_CODE,
    PUBLIC_POOL,
    NamedDedicatedHost,
    NoCapacity,
    claim_room,
)
from coldshift.services.context import Region
from coldshift.services.migration import MIGRATE_SUB_JOB
from coldshift.services.workflows.common import guest_of, host_name, job_server

INCOMING = "incoming"
OUTGOING = "outgoing"
IDLE_AGAIN = {"task_state": None, "migrating_to": None}


# What later steps need, recorded in the job's progress when first learned so that they do not
# re-read the server and hosts at every step. A job recorded without them (by an older version)
# reads them from the store instead.
TARGET = "target"  # [host id, name, kind] of the claimed target, recorded by ClaimTarget
GUEST = "guest"  # [vcpus, memory MB, disk GB] of the server, recorded by ClaimTarget


@dataclass(frozen=True)
class Target:
    id: str
    name: str
    kind: HostKind


def _target_host(region: Region, server_id: str) -> Host | None:
    """The host the migration has claimed room on, until the switch-over, from the store."""
    host_id = region.store.claimed_host(server_id, INCOMING)
    return region.store.get_host(host_id) if host_id else None


def _remember_target(ctx: StepContext, host: Host | None) -> None:
    if host is not None:
        ctx.progress[TARGET] = [host.id, host.name, host.kind.value]


def _target(region: Region, ctx: StepContext) -> Target | None:
    """The claimed target: as ClaimTarget recorded it, else from the store. The record stays
    after the switch-over; only SwitchOver and the steps before it ask, and the store's
    switch-over is a no-op once made."""
    known = ctx.progress.get(TARGET)
    if known is None:
        host = _target_host(region, ctx.job.entities["server_id"])
        return Target(host.id, host.name, host.kind) if host else None
    host_id, name, kind = known
    return Target(host_id, name, HostKind(kind))


def _remember_guest(region: Region, ctx: StepContext, server: Server) -> None:
    guest = guest_of(region, server)
    ctx.progress[GUEST] = [guest.vcpus, guest.memory_mb, guest.disk_gb]


def _source_name(region: Region, ctx: StepContext) -> str | None:
    """The source host's name: the submission records it; older jobs read it."""
    known = ctx.job.payload.get("source_host_name")
    if known is not None:
        return str(known)
    return host_name(region, ctx.job.payload.get("source_host_id"))


def _guest(region: Region, ctx: StepContext) -> GuestSpec:
    """The guest on the source host, from the progress ClaimTarget recorded if it did."""
    source = _source_name(region, ctx)
    known = ctx.progress.get(GUEST)
    if known is None:
        return guest_of(region, job_server(region, ctx), source)
    vcpus, memory_mb, disk_gb = known
    # a source host without a name is known by its id, as guest_of does
    name = source or ctx.job.payload.get("source_host_id") or ""
    return GuestSpec(ctx.job.entities["server_id"], name, vcpus, memory_mb, disk_gb)


@dataclass
class ClaimTarget:
    region: Region
    name: str = "claim_target"

    def run(self, ctx: StepContext) -> None:
        server = job_server(self.region, ctx)
        _remember_guest(self.region, ctx, server)
        if self.region.store.claimed_host(server.id, INCOMING) is not None:
            _remember_target(ctx, _target_host(self.region, server.id))
            return
        target_id = ctx.job.payload.get("target_host_id")

        def values(_host_id: str) -> dict[str, Any]:
            return {"task_state": TaskState.RESIZE_MIGRATING.value}

        try:
            host = claim_room(
                self.region,
                server.id,
                self.region.flavor(server.flavor_id),
                availability_zone=server.availability_zone,
                where=NamedDedicatedHost(target_id) if target_id else PUBLIC_POOL,
                role=INCOMING,
                server_values=values,
            )
        except NoCapacity as exc:
            raise StepFailed(CAPACITY_CODE, f"{CAPACITY_CODE}: {exc.reason}") from exc
        _remember_target(ctx, host)

    def compensate(self, ctx: StepContext) -> None:
        self.region.release_claims(ctx.job.entities["server_id"], INCOMING, IDLE_AGAIN)


@dataclass
class DriverStep:
    """One hypervisor call of the migration, and the call that undoes it."""

    region: Region
    name: str
    call: Callable[[HypervisorDriver, GuestSpec, str], None]
    on_target: bool
    next_task: TaskState | None = None

    def run(self, ctx: StepContext) -> None:
        guest, target = self._guest(ctx)
        try:
            self.call(self.region.driver, guest, target)
        except DriverError as exc:
            raise StepFailed(exc.code, f"{exc.code}: {exc.reason}") from exc
        if self.next_task is not None:
            values = {"task_state": self.next_task.value}
            ctx.defer(lambda: self.region.store.update_server(guest.server_id, values))

    def compensate(self, ctx: StepContext) -> None:
        guest, target = self._guest(ctx)
        if self.on_target:
            if target:
                self.region.driver.discard_target(guest, target)
        else:
            self.region.driver.restore_source(guest)

    def _guest(self, ctx: StepContext) -> tuple[GuestSpec, str]:
        target = _target(self.region, ctx)
        return _guest(self.region, ctx), target.name if target else ""


@dataclass
class SwitchOver:
    """The commit point: the server moves to the target in one transaction."""

    region: Region
    name: str = "switch_over"

    def run(self, ctx: StepContext) -> None:
        server_id = ctx.job.entities["server_id"]
        target = _target(self.region, ctx)
        if target is None:
            return  # switched already, before an interruption
        dedicated = target.kind is HostKind.DEH
        values = {
            "host_id": target.id,
            "tenancy": DEDICATED if dedicated else SHARED,
            "dedicated_host_id": target.id if dedicated else None,
            "task_state": TaskState.RESIZE_FINISH.value,
        }
        # Committed with the step's record: the commit point and "steps_done past it" are
        # one transaction.
        ctx.defer(lambda: self.region.store.switch_over(server_id, values))

    def compensate(self, ctx: StepContext) -> None:
        """Never undone: it is the commit point."""


@dataclass
class Confirm:
    """Delete what is left on the source, give its capacity back, and end the task."""

    region: Region
    name: str = "confirm"

    def run(self, ctx: StepContext) -> None:
        self.region.driver.confirm_migration(_guest(self.region, ctx))
        self.region.release_claims(ctx.job.entities["server_id"], OUTGOING, IDLE_AGAIN)

    def compensate(self, ctx: StepContext) -> None:
        """Never undone: past the commit point."""


def cold_migration_workflow(region: Region) -> Workflow:
    steps = (
        ClaimTarget(region),
        DriverStep(
            region,
            "copy_disks",
            lambda d, guest, target: d.copy_disks(guest, target),
            on_target=True,
            next_task=TaskState.RESIZE_MIGRATED,
        ),
        DriverStep(
            region,
            "define_on_target",
            lambda d, guest, target: d.define_on_target(guest, target),
            on_target=True,
        ),
        DriverStep(
            region,
            "cleanup_source",
            lambda d, guest, _target: d.cleanup_source(guest),
            on_target=False,
        ),
        SwitchOver(region),
        Confirm(region),
    )
    return Workflow(MIGRATE_SUB_JOB, steps, commit_point=4)
