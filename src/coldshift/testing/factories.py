"""Hosts, servers and jobs built directly, for tests of the stores and the services."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from coldshift.domain.hosts import Host, HostKind, HostState, NumaNode
from coldshift.domain.servers import DEDICATED, POWER_SHUTDOWN, SHARED, Server, VmState
from coldshift.jobs.model import NewJob

PROJECT = "11111111111111111111111111111111"
AZ = "az-a"
#: two NUMA nodes of (vCPUs, MiB), as the "t1" host type of tests/e2e/catalog.toml
TWO_NODES = ((8, 16384), (8, 16384))


def a_host(
    host_id: str,
    *,
    kind: HostKind = HostKind.DEH,
    nodes: Sequence[tuple[int, int]] = TWO_NODES,
    project_id: str | None = PROJECT,
    availability_zone: str = AZ,
    host_type: str = "t1",
    allocated_at: float = 0.0,
    name: str | None = None,
) -> Host:
    """An available host (a DeH of ``project_id`` unless ``kind`` says otherwise) whose NUMA
    nodes have these (vCPUs, MiB) sizes, all free."""
    return Host(
        id=host_id,
        kind=kind,
        name=name or host_id,
        project_id=project_id if kind is HostKind.DEH else None,
        availability_zone=availability_zone,
        host_type=host_type,
        state=HostState.AVAILABLE,
        auto_placement="on" if kind is HostKind.DEH else "off",
        vcpus=sum(cpu for cpu, _ in nodes),
        memory_mb=sum(mem for _, mem in nodes),
        sockets=len(nodes),
        cores=sum(cpu for cpu, _ in nodes) // 2,
        allocated_at=allocated_at,
        released_at=None,
        nodes=tuple(NumaNode(i, cpu, mem, cpu, mem) for i, (cpu, mem) in enumerate(nodes)),
    )


def a_server(
    server_id: str,
    *,
    host: Host | None = None,
    flavor_id: str = "t1.large.2",
    project_id: str = PROJECT,
    created_at: float = 0.0,
    **fields: Any,
) -> Server:
    """A stopped, idle server on ``host`` (its tenancy follows the host's kind); ``fields``
    override any other field. It claims nothing: a store test claims its room itself."""
    on_deh = host is not None and host.kind is HostKind.DEH
    server = Server(
        id=server_id,
        project_id=project_id,
        name=server_id,
        flavor_id=flavor_id,
        availability_zone=host.availability_zone if host else AZ,
        vm_state=VmState.STOPPED.value,
        task_state=None,
        power_state=POWER_SHUTDOWN,
        locked=False,
        host_id=host.id if host else None,
        tenancy=DEDICATED if on_deh else SHARED,
        dedicated_host_id=host.id if on_deh and host else None,
        image_ref="image-1",
        vpc_id="vpc-1",
        details={},
        created_at=created_at,
        updated_at=created_at,
        launched_at=created_at,
    )
    return replace(server, **fields)


def a_job(job_id: str, *, project_id: str = PROJECT, children: Sequence[str] = ()) -> NewJob:
    """A job of no particular type (nothing runs it) with sub-jobs of these ids."""
    kids = tuple(NewJob(kid, project_id, "test", {}) for kid in children)
    return NewJob(job_id, project_id, "test", {}, children=kids)
