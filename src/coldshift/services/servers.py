"""ECS use cases: create, batch start/stop/delete, lock."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from coldshift.domain.commands import CreateServers
from coldshift.domain.errors import (
    BadRequest,
    GroupFull,
    ServerBusy,
    ServerLocked,
    TooManyServers,
)
from coldshift.domain.groups import MAX_MEMBERS
from coldshift.domain.ids import new_job_id, new_uuid
from coldshift.domain.job_types import JobType
from coldshift.domain.lifecycle import (
    CREATE_ACCEPTED,
    DELETE_ACCEPTED,
    LOCK_FROZEN_DURING,
    REBOOT_ACCEPTED,
    START_ACCEPTED,
    STOP_ACCEPTED,
)
from coldshift.domain.quotas import QuotaGuard, Resource
from coldshift.domain.servers import POWER_NOSTATE, Server, VmState
from coldshift.jobs.model import NewJob
from coldshift.services.context import Region
from coldshift.services.groups import group_for_create
from coldshift.services.host_targets import resolve_create_target
from coldshift.services.ports import ClientToken, DuplicateSubmission, GroupJoin, TaskGuard

MAX_CREATE_COUNT = 100
MAX_BATCH = 1000


@dataclass(frozen=True, slots=True)
class Submitted:
    job_id: str
    server_ids: tuple[str, ...] = ()


CLIENT_TOKEN_SECONDS = 86400.0


def create_servers(region: Region, cmd: CreateServers) -> Submitted:
    """Create ``cmd.count`` servers; with a client token, a repeat gets the first answer."""
    if cmd.client_token and not cmd.dry_run:
        earlier = _earlier_answer(region, cmd)
        if earlier is not None:
            return earlier
        try:
            return _create(region, cmd)
        except DuplicateSubmission:
            earlier = _earlier_answer(region, cmd)
            assert earlier is not None, "the token was recorded by the request that won"
            return earlier
    return _create(region, cmd)


def _earlier_answer(region: Region, cmd: CreateServers) -> Submitted | None:
    assert cmd.client_token is not None
    found = region.store.find_client_token(
        cmd.project_id, cmd.client_token, region.clock() - CLIENT_TOKEN_SECONDS
    )
    if found is None:
        return None
    if found.body_hash != cmd.body_hash:
        raise BadRequest(
            f"X-Client-Token {cmd.client_token!r} was already used with a different request body"
        )
    return Submitted(found.response["job_id"], tuple(found.response["server_ids"]))


def _create(region: Region, cmd: CreateServers) -> Submitted:
    flavor = region.flavor(cmd.flavor_id)
    if cmd.count < 1:
        raise BadRequest(f"count must be at least 1, got {cmd.count}")
    if cmd.count > MAX_CREATE_COUNT:
        raise TooManyServers(f"count must be at most {MAX_CREATE_COUNT}, got {cmd.count}")
    target = resolve_create_target(region, cmd, flavor)
    group = _group_join(region, cmd)
    quota = _instance_quota(region, cmd.project_id, cmd.count)
    if cmd.dry_run:
        return Submitted(job_id="")
    now = region.clock()
    servers = tuple(
        _new_server(
            cmd,
            target.availability_zone,
            target.tenancy,
            target.dedicated_host_id,
            _server_name(cmd, i),
            i,
            now,
        )
        for i in range(cmd.count)
    )
    job = NewJob(
        id=new_job_id(),
        project_id=cmd.project_id,
        job_type=JobType.CREATE_SERVERS,
        entities={},
        children=tuple(
            NewJob(
                id=new_job_id(),
                project_id=cmd.project_id,
                job_type=JobType.CREATE_SERVER,
                entities={"server_id": s.id},
            )
            for s in servers
        ),
    )
    # each server's task (building) belongs to its sub-job
    servers = tuple(
        replace(s, task_job_id=child.id) for s, child in zip(servers, job.children, strict=True)
    )
    ids = tuple(s.id for s in servers)
    token = None
    if cmd.client_token:
        token = ClientToken(
            cmd.project_id,
            cmd.client_token,
            cmd.body_hash,
            {"job_id": job.id, "server_ids": list(ids)},
        )
    region.submit(job, new_servers=servers, client_token=token, quota=quota, group=group)
    return Submitted(job.id, ids)


def _group_join(region: Region, cmd: CreateServers) -> GroupJoin | None:
    """The group the new servers join; its member limit is checked early for a clear answer
    and again by the store, inside the submission."""
    if not cmd.group_id:
        return None
    group = group_for_create(region, cmd.project_id, cmd.group_id)
    if len(group.members) + cmd.count > MAX_MEMBERS:
        raise GroupFull(group.id, MAX_MEMBERS, len(group.members), cmd.count)
    return GroupJoin(group.id, MAX_MEMBERS)


def _instance_quota(region: Region, project_id: str, count: int) -> QuotaGuard:
    project = region.catalog.project(project_id)
    limit = project.quotas.instances if project else 0
    quota = QuotaGuard(project_id, Resource.INSTANCES, limit, count)
    quota.check(region.store.count_servers(project_id))  # early; the store decides
    return quota


def _server_name(cmd: CreateServers, index: int) -> str:
    return cmd.name if cmd.count == 1 else f"{cmd.name}-{index + 1:04d}"


def _new_server(
    cmd: CreateServers,
    az: str,
    tenancy: str,
    host_id: str | None,
    name: str,
    index: int,
    now: float,
) -> Server:
    details = {
        "subnet_ids": list(cmd.subnet_ids),
        "root_volume": [cmd.root_volume_type, cmd.root_volume_size],
        "data_volumes": [list(v) for v in cmd.data_volumes],
        "metadata": dict(cmd.metadata),
        "tags": list(cmd.tags),
        "description": cmd.description,
        "key_name": cmd.key_name,
        "launch_index": index,
        "ip": _fake_ip(index, now),
    }
    return Server(
        id=new_uuid(),
        project_id=cmd.project_id,
        name=name,
        flavor_id=cmd.flavor_id,
        availability_zone=az,
        vm_state=VmState.BUILDING,
        task_state=CREATE_ACCEPTED.target,
        power_state=POWER_NOSTATE,
        locked=False,
        host_id=None,
        tenancy=tenancy,
        dedicated_host_id=host_id,
        image_ref=cmd.image_ref,
        vpc_id=cmd.vpc_id,
        details=details,
        created_at=now,
        updated_at=now,
        launched_at=None,
    )


def _fake_ip(index: int, now: float) -> str:
    seed = int(now * 1000) + index
    return f"192.168.{(seed >> 8) % 250 + 1}.{seed % 250 + 2}"


# ---- batch actions -----------------------------------------------------------------------

ACTIONS = {
    # action → (job type, sub-job type, task it starts, vm_states it applies to, no-op state)
    "start": (
        JobType.START_SERVERS,
        JobType.START_SERVER,
        START_ACCEPTED,
        {VmState.STOPPED},
        VmState.ACTIVE,
    ),
    "stop": (
        JobType.STOP_SERVERS,
        JobType.STOP_SERVER,
        STOP_ACCEPTED,
        {VmState.ACTIVE, VmState.ERROR},
        VmState.STOPPED,
    ),
    "reboot": (
        JobType.REBOOT_SERVERS,
        JobType.REBOOT_SERVER,
        REBOOT_ACCEPTED,
        {VmState.ACTIVE},
        None,
    ),
    "delete": (
        JobType.DELETE_SERVERS,
        JobType.DELETE_SERVER,
        DELETE_ACCEPTED,
        {VmState.ACTIVE, VmState.STOPPED, VmState.ERROR, VmState.BUILDING},
        None,
    ),
}


def batch_action(
    region: Region,
    project_id: str,
    action: str,
    server_ids: Sequence[str],
    options: dict[str, object] | None = None,
) -> Submitted:
    """All-or-nothing: an unknown, locked or busy server refuses the whole request."""
    if not 1 <= len(server_ids) <= MAX_BATCH:
        raise BadRequest(f"servers must list between 1 and {MAX_BATCH} ECSs")
    if len(set(server_ids)) != len(server_ids):
        raise BadRequest("servers lists the same ECS more than once")
    job_type, sub_type, task, applies_to, noop_state = ACTIONS[action]
    servers = [region.server(project_id, sid) for sid in server_ids]
    children: list[NewJob] = []
    guards: list[TaskGuard] = []
    for server in servers:
        _check_manageable(server)
        mode = _mode(server, applies_to, noop_state)
        child = NewJob(
            id=new_job_id(),
            project_id=project_id,
            job_type=sub_type,
            entities={"server_id": server.id},
            payload={"mode": mode, **(options or {})},
        )
        if mode == "run":
            guards.append(TaskGuard(server.id, task.change, child.id))
        children.append(child)
    job = NewJob(
        id=new_job_id(),
        project_id=project_id,
        job_type=job_type,
        entities={},
        children=tuple(children),
    )
    region.submit(job, guards=tuple(guards))
    return Submitted(job.id)


def _check_manageable(server: Server) -> None:
    if server.locked:
        raise ServerLocked(server.id)
    if server.task_state is not None:
        raise ServerBusy(
            f"the ECS {server.id} is busy ({server.status}, task "
            f"{server.task_state}); retry when the task has finished"
        )


def _mode(server: Server, applies_to: set[VmState], noop_state: VmState | None) -> str:
    if noop_state is not None and server.vm_state == noop_state:
        return "noop"
    return "run" if server.vm_state in applies_to else "refuse"


def set_locked(region: Region, project_id: str, server_id: str, locked: bool) -> None:
    """Lock or unlock (idempotent); refused while a cold migration runs on the server, so
    that the lock a migration started under still holds when it ends."""
    server = region.server(project_id, server_id)
    if server.locked != locked and not region.store.set_locked(
        server.id, locked, LOCK_FROZEN_DURING
    ):
        action = "locked" if locked else "unlocked"
        raise ServerBusy(
            f"the ECS {server.id} is being cold-migrated; it cannot be {action} until the "
            "migration has finished"
        )


def native_power_action(region: Region, project_id: str, server_id: str, action: str) -> str:
    """Nova ``os-start``/``os-stop``: unlike the batch API, a server in the wrong state is a
    conflict (409), not a no-op sub-job."""
    server = region.server(project_id, server_id)
    _check_manageable(server)
    wanted = VmState.STOPPED if action == "start" else VmState.ACTIVE
    if server.vm_state != wanted and not (action == "stop" and server.vm_state == VmState.ERROR):
        raise ServerBusy(f"cannot {action} the ECS {server.id} while it is {server.status}")
    return batch_action(region, project_id, action, [server.id]).job_id
