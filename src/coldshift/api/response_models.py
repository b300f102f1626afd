"""Response shapes, for the OpenAPI description only: views.* build the bodies.

Each model lists the members a client may rely on, with their wire names and types; members not
listed may appear too (no ``additionalProperties: false``), so the description stays honest
without repeating every view line by line. A member with a default is one a view may leave out.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel


class _Doc(BaseModel):
    model_config = ConfigDict(populate_by_name=True)


# --- errors ------------------------------------------------------------------------------------


class HuaweiError(_Doc):
    code: str = Field(pattern=r"^(Ecs|Common|DEH|APIGW)\.\d{4}$", examples=["Ecs.0114"])
    message: str = Field(min_length=1)


class HuaweiErrorBody(_Doc):
    """ECS and DeH errors: ``{"error": {"code": "Ecs.0114", "message": "..."}}``."""

    error: HuaweiError


class NovaFault(_Doc):
    code: int = Field(ge=400, le=599)
    message: str = Field(min_length=1)


class NovaErrorBody(RootModel[dict[str, NovaFault]]):
    """Nova-native errors: ``{"itemNotFound": {"code": 404, "message": "..."}}``."""

    root: dict[str, NovaFault] = Field(min_length=1, max_length=1)


class Link(_Doc):
    rel: str
    href: str


# --- jobs --------------------------------------------------------------------------------------


class JobAccepted(_Doc):
    job_id: str


class ServersCreated(_Doc):
    job_id: str
    server_ids: list[str] = Field(alias="serverIds")


class Job(_Doc):
    status: Literal["INIT", "RUNNING", "SUCCESS", "FAIL"]
    job_id: str
    job_type: str
    begin_time: str
    end_time: str = Field(description='"" while the job runs')
    error_code: str | None
    fail_reason: str | None
    entities: dict[str, Any]


class JobList(_Doc):
    """The job listing (a coldshift extension): newest first, each job as GET job shows it."""

    jobs: list[Job]
    jobs_links: list[Link] = Field(description='[{"rel": "next", "href": ...}] while more follow')
    request_id: str


# --- flavors and zones -------------------------------------------------------------------------


class Flavor(_Doc):
    id: str
    name: str
    vcpus: str
    ram: int
    disk: str
    links: list[Link]
    os_extra_specs: dict[str, str]


class FlavorList(_Doc):
    flavors: list[Flavor]


class AvailabilityZone(_Doc):
    availability_zone_id: str
    type: str
    mode: str
    alias: str


class AvailabilityZoneList(_Doc):
    availability_zones: list[AvailabilityZone]


class NovaZoneState(_Doc):
    available: bool


class NovaZone(_Doc):
    zone_name: str = Field(alias="zoneName")
    zone_state: NovaZoneState = Field(alias="zoneState")


class NovaZoneList(_Doc):
    availability_zone_info: list[NovaZone] = Field(alias="availabilityZoneInfo")


# --- servers -----------------------------------------------------------------------------------


class ServerFault(_Doc):
    code: int
    message: str


class ServerDetailFlavor(_Doc):
    id: str
    name: str
    vcpus: str
    ram: str
    disk: str


class _NovaLikeServer(_Doc):
    """What v1 ``ServerDetail`` and the Nova server share."""

    id: str
    name: str
    status: str
    tenant_id: str
    locked: bool
    metadata: dict[str, str]
    vm_state: str = Field(alias="OS-EXT-STS:vm_state")
    task_state: str | None = Field(alias="OS-EXT-STS:task_state")
    power_state: int = Field(alias="OS-EXT-STS:power_state")


class ServerDetail(_NovaLikeServer):
    """v1 ``ServerDetail``."""

    host: str | None = Field(alias="OS-EXT-SRV-ATTR:host")
    availability_zone: str = Field(alias="OS-EXT-AZ:availability_zone")
    scheduler_hints: dict[str, list[str]] = Field(alias="os:scheduler_hints")
    flavor: ServerDetailFlavor
    created: str
    updated: str
    tags: list[str]
    description: str
    fault: ServerFault | None


class UnknownServer(_Doc):
    """The entry a ``server_id=`` listing gives for an id the project does not have."""

    id: str
    fault: ServerFault


class ServerDetailList(_Doc):
    count: int = Field(ge=0)
    servers: list[ServerDetail | UnknownServer]


class ServerShow(_Doc):
    server: ServerDetail


class CloudServerFlavor(_Doc):
    id: str
    name: str
    vcpus: int
    ram: int
    disk: int


class CloudServer(_Doc):
    """v1.1 ``CloudServer``; the members with defaults come only when ``expect-fields`` asks."""

    id: str
    name: str
    status: str
    tenant_id: str
    availability_zone: str
    vm_state: str
    task_state: str
    created: str
    updated: str
    description: str
    flavor: CloudServerFlavor
    fault: ServerFault | None
    locked: bool = False
    tenancy: str = ""
    dedicated_host_id: str = ""
    power_state: int = 0
    tags: list[str] = []
    metadata: dict[str, str] = {}
    key_name: str | None = None


class CloudServerList(_Doc):
    servers: list[CloudServer]
    servers_links: list[Link]
    request_id: str


class NovaServer(_NovaLikeServer):
    links: list[Link]
    flavor: dict[str, Any]


class NovaServerShow(_Doc):
    server: NovaServer


# --- dedicated hosts ---------------------------------------------------------------------------


class FlavorCapacity(_Doc):
    flavor: str


class HostProperties(_Doc):
    host_type: str
    host_type_name: str
    vcpus: int
    cores: int
    sockets: int
    memory: int
    available_instance_capacities: list[FlavorCapacity]


class NumaNode(_Doc):
    node: int
    vcpus: int
    memory: int
    available_vcpus: int
    available_memory: int


class DedicatedHost(_Doc):
    dedicated_host_id: str
    name: str
    auto_placement: Literal["on", "off"]
    availability_zone: str
    project_id: str
    host_properties: HostProperties
    state: str
    available_vcpus: int
    available_memory: int
    allocated_at: str
    released_at: str
    instance_total: int = Field(ge=0)
    tags: dict[str, str]
    numa_nodes: list[NumaNode]
    instance_uuids: list[str] = Field(default=[], description="only when one host is shown")


class DedicatedHostList(_Doc):
    dedicated_hosts: list[DedicatedHost]
    total: int = Field(ge=0)


class DedicatedHostShow(_Doc):
    dedicated_host: DedicatedHost


class HostsAllocated(_Doc):
    dedicated_host_ids: list[str]
    job_id: None


class IdRef(_Doc):
    id: str


class DehServer(_Doc):
    id: str
    name: str
    status: str
    tenant_id: str
    flavor: IdRef
    image: IdRef


class DehServerList(_Doc):
    servers: list[DehServer]


class HostTypeBrief(_Doc):
    host_type: str
    host_type_name: str


class HostTypeBriefList(_Doc):
    dedicated_host_types: list[HostTypeBrief]


class ZoneOffering(_Doc):
    availability_zone: str
    status: str


class HostTypeFull(_Doc):
    host_type: str
    vcpus: int
    cores: int
    sockets: int
    memory: int
    supported_flavors: list[str]
    category: str
    availability_zone_offerings: list[ZoneOffering]


class PageInfo(_Doc):
    next_marker: str | None


class HostTypeFullList(_Doc):
    dedicated_host_types: list[HostTypeFull]
    page_info: PageInfo


class QuotaLine(_Doc):
    resource: str
    hard_limit: int
    used: int


class QuotaSet(_Doc):
    quota_set: list[QuotaLine]


# --- admin -------------------------------------------------------------------------------------


class DriverOperation(_Doc):
    operation: str
    fail_next: int = Field(ge=0)
    hold_seconds: float = Field(ge=0)
    in_progress: int = Field(ge=0)
    calls: int = Field(ge=0)
    faultable: bool


class DriverHost(_Doc):
    """A physical host of a libvirt region as the start-up probe found it."""

    name: str
    availability_zone: str
    host_type: str
    use: str
    reachable: bool
    cells: int = Field(ge=0)
    reason: str


class Driver(_Doc):
    kind: str
    #: the simulated driver's operations (faults and holds); empty for real hosts
    operations: list[DriverOperation]
    #: a libvirt region's physical hosts; empty for the simulated driver
    hosts: list[DriverHost]


class DriverShow(_Doc):
    driver: Driver


class DriverOperationShow(_Doc):
    operation: DriverOperation


class MaintenanceTask(_Doc):
    """A clean-up a job could not finish, tried again with backoff until done."""

    id: str
    job_id: str
    job_type: str
    server_id: str | None
    step: str
    work: str = Field(description='"run": the step\'s work; "compensate": its undo')
    attempts: int = Field(ge=0)
    last_error: str
    created_at: str
    next_attempt_at: str
    done_at: str | None


class MaintenanceList(_Doc):
    maintenance_tasks: list[MaintenanceTask]


# --- ECS groups --------------------------------------------------------------------------------


class ServerGroup(_Doc):
    id: str
    name: str
    policies: list[Literal["anti-affinity"]]
    members: list[str]
    metadata: dict[str, str]


class ServerGroupShow(_Doc):
    server_group: ServerGroup


class ServerGroupPageInfo(_Doc):
    next_marker: str | None = None


class ServerGroupList(_Doc):
    server_groups: list[ServerGroup]
    page_info: ServerGroupPageInfo | None = None


class NovaServerGroup(ServerGroup):
    project_id: str
    user_id: str


class NovaServerGroupShow(_Doc):
    server_group: NovaServerGroup


class NovaServerGroupList(_Doc):
    server_groups: list[NovaServerGroup]


class MemberResult(_Doc):
    status: str
    server_id: str
    fail_reason: str


class MembersChanged(_Doc):
    status: str
    servers: list[MemberResult]


# --- coldshift's operator extensions (docs/api-extensions.md) -----------------------------------


class WhatIfHost(_Doc):
    host: str = Field(description="a DeH's id, or the alias of a pool host")
    kind: Literal["deh", "pool"] = "deh"
    numa_nodes: list[int]


class WhatIfNumbers(_Doc):
    vcpus_per_node: int
    memory_per_node: int
    largest_free_vcpus: int
    largest_free_memory: int
    nodes_needed: int
    nodes_with_room: int


class AdviceMove(_Doc):
    server_id: str
    from_host: str
    to: str = Field(description='"pool", or the id of the DeH to name in the migrate call')
    host: str
    numa_nodes: list[int]


class AdvicePlace(_Doc):
    host: str
    numa_nodes: list[int]


class Advice(_Doc):
    moves: list[AdviceMove] = Field(description="in order; each a valid migration")
    then: AdvicePlace = Field(description="where the server fits once the moves are done")


class WhatIf(_Doc):
    """What the migration would do now; nothing was claimed or recorded."""

    server_id: str
    flavor: str
    target: str = Field(description='"pool" or the target DeH id')
    fits: bool
    host: WhatIfHost | None
    error_code: str | None = Field(description="the code its job would FAIL with")
    fail_reason: str | None
    rule: str | None = Field(description='e.g. "single-NUMA-node rule"')
    numbers: WhatIfNumbers | None
    advice: Advice | None = Field(description="the fewest moves (at most 3); null: none")


class OccupantServer(_Doc):
    id: str
    name: str
    status: str
    flavor: str
    project_id: str


class OccupiedNode(_Doc):
    node: int
    vcpus: int
    memory: int
    available_vcpus: int
    available_memory: int
    servers: list[OccupantServer]


class HostOccupancy(_Doc):
    id: str
    name: str
    kind: Literal["deh", "pool"]
    availability_zone: str
    host_type: str
    state: str
    project_id: str | None
    numa_nodes: list[OccupiedNode]
    unplaced_servers: list[OccupantServer] = Field(description="servers with no node claim yet")


class HostOccupancyList(_Doc):
    hosts: list[HostOccupancy]


class DrainMove(_Doc):
    server_id: str
    name: str
    flavor: str
    status: str = Field(description="the server's status when planned")
    restart: bool = Field(description="stopped before and started after the move")
    to: str = Field(description='"pool" or the target DeH id')
    host: str = Field(description="the planned host: a DeH id, or a pool host's alias")
    numa_nodes: list[int]


class DrainLeftOver(_Doc):
    server_id: str
    name: str
    reason: str


class Drain(_Doc):
    """A drain's plan, and its job when it was started (null: a dry run or nothing to move)."""

    dedicated_host_id: str
    fits: bool = Field(description="every server of the DeH is placed")
    job_id: str | None
    max_parallel: int
    moves: list[DrainMove] = Field(description="in the order they run: biggest first")
    left: list[DrainLeftOver] = Field(description="servers the plan could not place")
