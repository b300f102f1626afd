"""Row ↔ domain mapping (of SQLAlchemy rows and of prepared statements' named tuples alike)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from coldshift.domain.hosts import Host, HostKind, HostState, NumaNode
from coldshift.domain.servers import Server


def server_from_row(row: Any) -> Server:
    return Server(
        id=row.id,
        project_id=row.project_id,
        name=row.name,
        flavor_id=row.flavor_id,
        availability_zone=row.availability_zone,
        vm_state=row.vm_state,
        task_state=row.task_state,
        power_state=row.power_state,
        locked=row.locked,
        host_id=row.host_id,
        tenancy=row.tenancy,
        dedicated_host_id=row.dedicated_host_id,
        image_ref=row.image_ref,
        vpc_id=row.vpc_id,
        details=dict(row.details),
        created_at=row.created_at,
        updated_at=row.updated_at,
        launched_at=row.launched_at,
        migrating_to=row.migrating_to,
        task_job_id=row.task_job_id,
    )


def server_to_values(server: Server) -> dict[str, Any]:
    return asdict(server)


def node_from_row(row: Any) -> NumaNode:
    return NumaNode(
        row.node_index, row.vcpus_total, row.memory_total, row.vcpus_free, row.memory_free
    )


def host_from_row(row: Any, nodes: tuple[NumaNode, ...]) -> Host:
    return Host(
        id=row.id,
        kind=HostKind(row.kind),
        name=row.name,
        project_id=row.project_id,
        availability_zone=row.availability_zone,
        host_type=row.host_type,
        state=HostState(row.state),
        auto_placement=row.auto_placement,
        vcpus=row.vcpus,
        memory_mb=row.memory_mb,
        sockets=row.sockets,
        cores=row.cores,
        allocated_at=row.allocated_at,
        released_at=row.released_at,
        tags=dict(row.tags),
        nodes=nodes,
        machine=row.machine,
        draining_job=row.draining_job,
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
