"""Draining a DeH: a plan for every server on it, then one job that runs it.

The plan (``placement.drain``) is made on a snapshot of the targets with the claim's own
decisions; running it records, in one transaction: the parent job (drainDedicatedHost), one
sub-job per planned server (migrateSingleServer, or restartMigrateServer for a running server
under ``restart``) named at the DeH the plan chose (the pool: the claim picks among its hosts),
each server's task (resize_prep, as a migrate request starts it), and the fence on the drained
DeH (``hosts.draining_job``: no claim lands on it until the parent ends, which clears it).

The bound: sub-jobs past the first ``max_parallel`` are recorded held (not runnable); each
sub-job that ends releases the next held one in the transaction that ends it
(``job_store._settle_parent``). Everything is in the database: after a kill -9 the leases
expire, the running sub-jobs are taken again (and undone or finished, as any migration), and
the held ones are still held, released as those end.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from coldshift.domain.catalog import Flavor
from coldshift.domain.errors import (
    BadRequest,
    DedicatedHostNotFound,
    Forbidden,
    HostDraining,
    InvalidTarget,
)
from coldshift.domain.hosts import Host, HostKind, HostState
from coldshift.domain.ids import new_job_id
from coldshift.domain.job_types import JobType
from coldshift.domain.lifecycle import MIGRATION_ACCEPTED
from coldshift.domain.servers import Server, VmState
from coldshift.jobs.model import NewJob
from coldshift.placement import host_view, numa_request
from coldshift.placement.drain import DrainPlan, Guest, LeftOver, plan_drain
from coldshift.services.advice import POOL, deh_destinations, pool_destination
from coldshift.services.context import Region
from coldshift.services.host_targets import available_dedicated_host
from coldshift.services.ports import HostFence, TaskGuard

#: sub-jobs copying at once when the request names no bound
DEFAULT_MAX_PARALLEL = 2
MAX_PARALLEL = 16


@dataclass(frozen=True, slots=True)
class DrainDeh:
    project_id: str
    host_id: str
    targets: tuple[str, ...] = ()
    to_pool: bool = False
    dry_run: bool = False
    restart: bool = False
    partial: bool = False
    max_parallel: int = DEFAULT_MAX_PARALLEL
    #: the caller's key is an admin's (a tenant may not name a pool host)
    admin: bool = False


class DrainDoesNotFit(BadRequest):
    """Some servers cannot be placed, and ``partial`` was not asked: nothing runs."""


@dataclass(frozen=True, slots=True)
class Drain:
    """The plan (and its servers and hosts, for the answer to name them); ``job_id`` when it
    was submitted (None: a dry run, or nothing to move)."""

    host: Host
    plan: DrainPlan
    servers: dict[str, Server]
    hosts: dict[str, Host]
    max_parallel: int
    job_id: str | None = None


def drain(region: Region, cmd: DrainDeh) -> Drain:
    """Plan the drain of ``cmd.host_id``; unless a dry run, submit it. Refuses (nothing
    changed) on bad input and, without ``partial``, when some server cannot be placed."""
    found = plan(region, cmd)
    if cmd.dry_run:
        return found
    if not found.plan.complete and not cmd.partial:
        left = ", ".join(f"{x.server_id} ({x.reason})" for x in found.plan.left)
        raise DrainDoesNotFit(
            f"the drain of dedicated host {cmd.host_id} cannot place {len(found.plan.left)} "
            f"server(s): {left}; nothing was started (partial runs the rest)"
        )
    if not found.plan.moves:
        return found
    return _submit(region, cmd, found)


def plan(region: Region, cmd: DrainDeh) -> Drain:
    """The checks of a drain request, and its plan; records nothing."""
    if not 1 <= cmd.max_parallel <= MAX_PARALLEL:
        raise BadRequest(
            f"max_parallel must be between 1 and {MAX_PARALLEL}, got {cmd.max_parallel}"
        )
    host = _drained_host(region, cmd)
    targets = _targets(region, cmd, host)
    servers = [s for s in region.store.list_servers(cmd.project_id) if s.host_id == host.id]
    pool = (
        region.store.list_hosts(kind=HostKind.POOL, availability_zone=host.availability_zone)
        if cmd.to_pool
        else []
    )
    pool = [h for h in pool if h.state is HostState.AVAILABLE]
    hosts = {h.id: h for h in [*targets, *pool]}
    guests: list[Guest] = []
    unmovable: list[tuple[str, str]] = []
    for server in servers:
        why = _why_not_movable(server, cmd.restart)
        flavor = region.catalog.flavor(server.flavor_id)
        if why is None and flavor is None:
            why = f"flavor {server.flavor_id} is no longer offered"
        if why is not None or flavor is None:
            unmovable.append((server.id, why or ""))
            continue
        guests.append(_guest(region, server, flavor, targets, pool, cmd.to_pool))
    found = plan_drain(guests, {h.id: host_view(h) for h in hosts.values()})
    if unmovable:
        left = tuple(LeftOver(sid, why) for sid, why in unmovable)
        found = DrainPlan(found.moves, left + found.left)
    return Drain(host, found, {s.id: s for s in servers}, hosts, cmd.max_parallel)


def _drained_host(region: Region, cmd: DrainDeh) -> Host:
    host = region.store.get_host(cmd.host_id)
    if host is not None and host.kind is HostKind.POOL:
        if not cmd.admin:
            raise Forbidden(
                f"host {cmd.host_id} is a host of the public pool: only the region's operator "
                "drains it"
            )
        raise BadRequest(f"host {cmd.host_id} is a pool host: only dedicated hosts are drained")
    if host is None or host.project_id != cmd.project_id:
        raise DedicatedHostNotFound(cmd.host_id)
    if host.state is not HostState.AVAILABLE:
        raise InvalidTarget(f"dedicated host {host.id} is {host.state.value}, not available")
    if host.draining_job is not None:
        raise HostDraining(host.id, host.draining_job)
    return host


def _targets(region: Region, cmd: DrainDeh, host: Host) -> list[Host]:
    if not cmd.targets and not cmd.to_pool:
        raise BadRequest("a drain needs targets: name dedicated hosts, or the pool (to_pool)")
    found: list[Host] = []
    for target_id in dict.fromkeys(cmd.targets):
        if target_id == host.id:
            raise BadRequest(f"dedicated host {host.id} cannot be drained onto itself")
        found.append(available_dedicated_host(region, cmd.project_id, target_id))
    return found


def _why_not_movable(server: Server, restart: bool) -> str | None:
    if server.locked:
        return "locked"
    if server.task_state is not None:
        return f"busy ({server.status}, task {server.task_state})"
    if server.vm_state == VmState.ACTIVE and not restart:
        return "running (restart stops it, moves it and starts it again)"
    if server.vm_state not in (VmState.STOPPED, VmState.ACTIVE):
        return f"{server.status}: only a stopped or running ECS moves"
    return None


def _guest(
    region: Region,
    server: Server,
    flavor: Flavor,
    targets: Sequence[Host],
    pool: Sequence[Host],
    to_pool: bool,
) -> Guest:
    rule = region.store.group_rule(server.id)
    closed = rule.closed if rule is not None else frozenset()
    same_az = [t for t in targets if t.availability_zone == server.availability_zone]
    destinations = deh_destinations(region.catalog, same_az, flavor, closed)
    if to_pool:
        destinations += (pool_destination(region.catalog, pool, flavor, closed),)
    return Guest(
        server.id,
        numa_request(flavor),
        destinations,
        rule.group_id if rule is not None else None,
        closed,
    )


def _submit(region: Region, cmd: DrainDeh, found: Drain) -> Drain:
    host = found.host
    children: list[NewJob] = []
    guards: list[TaskGuard] = []
    for index, move in enumerate(found.plan.moves):
        server = found.servers[move.server_id]
        running = server.vm_state == VmState.ACTIVE
        target = None if move.to == POOL else move.to
        child = NewJob(
            id=new_job_id(),
            project_id=cmd.project_id,
            job_type=JobType.RESTART_MIGRATE_SERVER if running else JobType.MIGRATE_ONE_SERVER,
            entities={"server_id": server.id},
            payload={
                "source_host_id": host.id,
                "source_host_name": host.name,
                "target_host_id": target,
                "planned_host_id": move.placement.host_id,
            },
            held=index >= cmd.max_parallel,
        )
        children.append(child)
        guards.append(
            TaskGuard(
                server.id,
                MIGRATION_ACCEPTED.with_(migrating_to=target),
                child.id,
                vm_state=server.vm_state,
                host_id=host.id,
            )
        )
    job = NewJob(
        id=new_job_id(),
        project_id=cmd.project_id,
        job_type=JobType.DRAIN_DEDICATED_HOST,
        entities={"dedicated_host_id": host.id},
        payload={"max_parallel": cmd.max_parallel, "restart": cmd.restart},
        children=tuple(children),
    )
    region.submit(job, guards=tuple(guards), fence=HostFence(host.id, job.id))
    return Drain(found.host, found.plan, found.servers, found.hosts, cmd.max_parallel, job.id)
