"""The invariants of docs/cold-migration.md, checked against a database at a quiet moment, and
the ECS groups' anti-affinity (4: no two members of a group hold room on one host, and each
member's hosts are exactly its group's places, none stale)."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from coldshift.jobs.model import JobStatus
from coldshift.persistence.db import Database
from coldshift.persistence.tables import (
    claims,
    group_hosts,
    jobs,
    numa_nodes,
    server_group_members,
    servers,
)

Rows = Sequence[Any]
PLACED = "placed"


@dataclass(frozen=True, slots=True)
class Drift:
    invariant: int
    ids: tuple[str, ...]
    detail: str

    def __str__(self) -> str:
        return f"invariant {self.invariant}: {self.detail} [{', '.join(self.ids)}]"


def check(db: Database) -> list[Drift]:
    with db.read() as conn:
        nodes = conn.execute(select(numa_nodes)).all()
        claim_rows = conn.execute(select(claims)).all()
        server_rows = conn.execute(
            select(
                servers.c.id,
                servers.c.host_id,
                servers.c.task_state,
                servers.c.vm_state,
                servers.c.migrating_to,
            )
        ).all()
        job_rows = conn.execute(
            select(jobs.c.id, jobs.c.status, jobs.c.entities, jobs.c.parent_id)
        ).all()
        member_rows = conn.execute(select(server_group_members)).all()
        place_rows = conn.execute(select(group_hosts)).all()
    return (
        _capacity(nodes, claim_rows)
        + _placement(server_rows, claim_rows, job_rows)
        + _jobs(server_rows, job_rows)
        + _groups(member_rows, place_rows, claim_rows)
    )


def _capacity(nodes: Rows, claim_rows: Rows) -> list[Drift]:
    used: Counter[tuple[str, int]] = Counter()
    used_mem: Counter[tuple[str, int]] = Counter()
    for c in claim_rows:
        used[(c.host_id, c.node_index)] += c.vcpus
        used_mem[(c.host_id, c.node_index)] += c.memory_mb
    drift = []
    for n in nodes:
        key = (n.host_id, n.node_index)
        if (
            n.vcpus_free != n.vcpus_total - used[key]
            or n.memory_free != n.memory_total - used_mem[key]
            or n.vcpus_free < 0
            or n.memory_free < 0
        ):
            drift.append(
                Drift(
                    1,
                    (n.host_id,),
                    (
                        f"node {n.node_index}: free {n.vcpus_free} vCPUs/{n.memory_free} MiB but "
                        f"size {n.vcpus_total}/{n.memory_total} minus claims "
                        f"{used[key]}/{used_mem[key]}"
                    ),
                )
            )
    return drift


def _unfinished_by_server(job_rows: Rows) -> dict[str, int]:
    count: dict[str, int] = defaultdict(int)
    for j in job_rows:
        server_id = (j.entities or {}).get("server_id")
        if server_id and j.status in (JobStatus.INIT.value, JobStatus.RUNNING.value):
            count[server_id] += 1
    return count


def _placement(
    server_rows: Rows,
    claim_rows: Rows,
    job_rows: Rows,
) -> list[Drift]:
    hosts_of: dict[str, set[str]] = defaultdict(set)
    for c in claim_rows:
        hosts_of[c.server_id].add(c.host_id)
    busy = _unfinished_by_server(job_rows)
    known = {s.id for s in server_rows}
    drift = [
        Drift(2, (sid,), "claims held by a server that does not exist")
        for sid in hosts_of
        if sid not in known and not busy.get(sid)
    ]
    roles_of: dict[str, set[str]] = defaultdict(set)
    for c in claim_rows:
        roles_of[c.server_id].add(c.role)
    for s in server_rows:
        if busy.get(s.id):
            continue  # a running job may hold one or two hosts, or none yet
        held = hosts_of.get(s.id, set())
        if s.host_id is None or held != {s.host_id}:
            drift.append(
                Drift(
                    2,
                    (s.id,),
                    f"server on host {s.host_id} holds claims on {sorted(held) or 'no host'}",
                )
            )
        elif roles_of[s.id] != {PLACED}:
            drift.append(Drift(2, (s.id,), f"idle server holds {sorted(roles_of[s.id])} claims"))
        if s.migrating_to is not None:
            drift.append(Drift(2, (s.id, s.migrating_to), "idle server still marked as migrating"))
    return drift


def _jobs(server_rows: Rows, job_rows: Rows) -> list[Drift]:
    valid = {s.value for s in JobStatus}
    drift = [
        Drift(3, (j.id,), f"job status {j.status!r}") for j in job_rows if j.status not in valid
    ]
    busy = _unfinished_by_server([j for j in job_rows if j.parent_id is not None])
    for s in server_rows:
        if s.task_state is not None and busy.get(s.id, 0) != 1:
            drift.append(
                Drift(3, (s.id,), f"task {s.task_state} with {busy.get(s.id, 0)} unfinished jobs")
            )
    return drift


def _groups(member_rows: Rows, place_rows: Rows, claim_rows: Rows) -> list[Drift]:
    group_of = {m.server_id: m.group_id for m in member_rows}
    # (group, host) → the members holding room there, from the claims themselves
    holders: dict[tuple[str, str], set[str]] = defaultdict(set)
    for c in claim_rows:
        if c.server_id in group_of:
            holders[(group_of[c.server_id], c.host_id)].add(c.server_id)
    drift = [
        Drift(4, tuple(sorted(members)), f"group {group} has {len(members)} members on {host}")
        for (group, host), members in holders.items()
        if len(members) > 1
    ]
    places = {(p.group_id, p.host_id): p.server_id for p in place_rows}
    for key, members in holders.items():
        if places.get(key) not in members:
            drift.append(Drift(4, (key[0], key[1]), "a member's host is not its group's place"))
    for (group, host), member in places.items():
        if member not in holders.get((group, host), set()):
            drift.append(Drift(4, (group, host, member), "stale group place: no claim holds it"))
    return drift
