"""Row ↔ domain mapping."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from sqlalchemy import Row

from coldshift.domain.hosts import Host, HostKind, HostState, NumaNode
from coldshift.domain.servers import Server


def server_from_row(row: Row[Any]) -> Server:
    m = row._mapping
    return Server(
        id=m["id"],
        project_id=m["project_id"],
        name=m["name"],
        flavor_id=m["flavor_id"],
        availability_zone=m["availability_zone"],
        vm_state=m["vm_state"],
        task_state=m["task_state"],
        power_state=m["power_state"],
        locked=m["locked"],
        host_id=m["host_id"],
        tenancy=m["tenancy"],
        dedicated_host_id=m["dedicated_host_id"],
        image_ref=m["image_ref"],
        vpc_id=m["vpc_id"],
        details=dict(m["details"]),
        created_at=m["created_at"],
        updated_at=m["updated_at"],
        launched_at=m["launched_at"],
        migrating_to=m["migrating_to"],
        task_job_id=m["task_job_id"],
    )


def server_to_values(server: Server) -> dict[str, Any]:
    return asdict(server)


def node_from_row(row: Row[Any]) -> NumaNode:
    m = row._mapping
    return NumaNode(
        m["node_index"], m["vcpus_total"], m["memory_total"], m["vcpus_free"], m["memory_free"]
    )


def host_from_row(row: Row[Any], nodes: tuple[NumaNode, ...]) -> Host:
    m = row._mapping
    return Host(
        id=m["id"],
        kind=HostKind(m["kind"]),
        name=m["name"],
        project_id=m["project_id"],
        availability_zone=m["availability_zone"],
        host_type=m["host_type"],
        state=HostState(m["state"]),
        auto_placement=m["auto_placement"],
        vcpus=m["vcpus"],
        memory_mb=m["memory_mb"],
        sockets=m["sockets"],
        cores=m["cores"],
        allocated_at=m["allocated_at"],
        released_at=m["released_at"],
        tags=dict(m["tags"]),
        nodes=nodes,
        machine=m["machine"],
        draining_job=m["draining_job"],
    )


def host_to_values(host: Host) -> dict[str, Any]:
    return dict(
        id=host.id,
        kind=host.kind.value,
        name=host.name,
        project_id=host.project_id,
        availability_zone=host.availability_zone,
        host_type=host.host_type,
        state=host.state.value,
        auto_placement=host.auto_placement,
        vcpus=host.vcpus,
        memory_mb=host.memory_mb,
        sockets=host.sockets,
        cores=host.cores,
        tags=host.tags,
        allocated_at=host.allocated_at,
        released_at=host.released_at,
        machine=host.machine,
        draining_job=host.draining_job,
    )
