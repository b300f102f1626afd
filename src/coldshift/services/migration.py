"""Cold migration: the synchronous checks of cold-migration.md, in its order, then the job.

Check 5 (stopped and idle) is made twice: here, for a clear message, and again as the task
guard of the submission, so that of two concurrent requests exactly one gets a job.
"""

from __future__ import annotations

from dataclasses import dataclass

from coldshift.domain.commands import MigrateServer
from coldshift.domain.errors import (
    GroupHostTaken,
    InvalidTarget,
    SameDedicatedHost,
    ServerBusy,
    ServerLocked,
)
from coldshift.domain.hosts import Host, HostKind
from coldshift.domain.ids import new_job_id
from coldshift.domain.job_types import JobType
from coldshift.domain.lifecycle import MIGRATION_ACCEPTED
from coldshift.domain.servers import Server, VmState
from coldshift.jobs.model import NewJob
from coldshift.services.context import Region
from coldshift.services.host_targets import available_dedicated_host, check_host_takes
from coldshift.services.ports import TaskGuard


@dataclass(frozen=True, slots=True)
class Accepted:
    """A migration that passed every synchronous check: the server, its source host and the
    target DeH (None: the public pool)."""

    server: Server
    source: Host | None
    target: Host | None


def accept(region: Region, cmd: MigrateServer) -> Accepted:
    """Every synchronous check of ``cmd``, in the contract's order; refuses as migrate does.
    The what-if runs exactly these, and records nothing."""
    with region.store.snapshot():
        server = region.server(cmd.project_id, cmd.server_id)
        if server.locked:
            raise ServerLocked(server.id)
        _check_stopped_and_idle(server)
        source = region.store.get_host(server.host_id) if server.host_id else None
        return Accepted(server, source, _target(region, cmd, server, source))


def migrate_server(region: Region, cmd: MigrateServer) -> str:
    """Record the migration job of ``cmd`` and answer its id, or refuse with nothing changed.
    The checks read inside the submission's transaction: one transaction, not two."""
    with region.one_transaction():
        job, guard = _migration_job(cmd, accept(region, cmd))
        region.submit(job, guards=(guard,))
    return job.id


def _migration_job(cmd: MigrateServer, accepted: Accepted) -> tuple[NewJob, TaskGuard]:
    server, source, target = _unpack(accepted)
    entities = {"server_id": server.id}
    sub_job = NewJob(
        id=new_job_id(),
        project_id=cmd.project_id,
        job_type=JobType.MIGRATE_ONE_SERVER,
        entities=entities,
        payload={
            "source_host_id": server.host_id,
            # the workflow's steps need its name: saves each of them a read
            "source_host_name": source.name if source else None,
            "target_host_id": target.id if target else None,
        },
    )
    job = NewJob(
        id=new_job_id(),
        project_id=cmd.project_id,
        job_type=JobType.MIGRATE_SERVER,
        entities=entities,
        children=(sub_job,),
    )
    guard = TaskGuard(
        server.id,
        MIGRATION_ACCEPTED.with_(migrating_to=target.id if target else None),
        sub_job.id,
        vm_state=VmState.STOPPED.value,
        host_id=server.host_id,
    )
    return job, guard


def _unpack(accepted: Accepted) -> tuple[Server, Host | None, Host | None]:
    return accepted.server, accepted.source, accepted.target


def _check_stopped_and_idle(server: Server) -> None:
    if server.task_state is not None:
        raise ServerBusy(
            f"the ECS {server.id} is busy ({server.status}, task {server.task_state}); "
            "retry when the task has finished"
        )
    if server.vm_state != VmState.STOPPED or server.host_id is None:
        raise ServerBusy(
            f"the ECS {server.id} is {server.status}; only a stopped ECS (SHUTOFF) can be "
            "cold-migrated: stop it first"
        )


def _target(region: Region, cmd: MigrateServer, server: Server, source: Host | None) -> Host | None:
    on_deh = source is not None and source.kind is HostKind.DEH
    if cmd.dedicated_host_id is None:
        if not on_deh:
            raise InvalidTarget(
                f"the ECS {server.id} is in the public pool and no dedicated_host_id was "
                "given; cold migration applies only to dedicated hosts: name the DeH to "
                "move it to"
            )
        return None
    target = available_dedicated_host(region, cmd.project_id, cmd.dedicated_host_id)
    if on_deh and source is not None and source.id == target.id:
        raise SameDedicatedHost(target.id)
    check_host_takes(region, target, region.flavor(server.flavor_id), server.availability_zone)
    _check_group_allows(region, server, target)
    return target


def _check_group_allows(region: Region, server: Server, target: Host) -> None:
    """A target DeH that visibly holds another member of the server's group is refused now;
    one taken after this check is refused by the claim (the job FAILs, Ecs.0319)."""
    rule = region.store.group_rule(server.id)
    if rule is not None and target.id in rule.closed:
        raise GroupHostTaken(target.id, rule.group_id)
