"""Requests as the services receive them, already parsed from the wire."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class CreateServers:
    project_id: str
    name: str
    flavor_id: str
    image_ref: str
    vpc_id: str
    subnet_ids: tuple[str, ...]
    root_volume_type: str
    root_volume_size: int
    data_volumes: tuple[tuple[str, int], ...] = ()
    count: int = 1
    availability_zone: str | None = None
    tenancy: str | None = None
    dedicated_host_id: str | None = None
    #: the ECS group (os:scheduler_hints.group) the new servers join
    group_id: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    tags: tuple[str, ...] = ()
    description: str = ""
    key_name: str | None = None
    dry_run: bool = False
    client_token: str | None = None
    body_hash: str = ""


@dataclass(frozen=True, slots=True)
class AllocateHosts:
    project_id: str
    name: str
    availability_zone: str
    host_type: str
    quantity: int
    auto_placement: str = "on"
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class MigrateServer:
    """Cold-migrate a stopped ECS to the DeH ``dedicated_host_id``, or to the public pool."""

    project_id: str
    server_id: str
    dedicated_host_id: str | None = None
