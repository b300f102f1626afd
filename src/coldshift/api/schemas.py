"""Request bodies as the SDK sends them (wire names kept; unknown members ignored)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
)
from pydantic.json_schema import SkipJsonSchema

NonEmpty = Annotated[StrictStr, Field(min_length=1, max_length=255)]


class _Wire(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class Nic(_Wire):
    subnet_id: NonEmpty
    ip_address: StrictStr | None = None


class RootVolume(_Wire):
    volumetype: NonEmpty
    size: Annotated[StrictInt, Field(ge=0, le=1024)] | None = None


class DataVolume(_Wire):
    volumetype: NonEmpty
    size: Annotated[StrictInt, Field(ge=10, le=32768)]


class SchedulerHints(_Wire):
    group: StrictStr | None = None
    tenancy: StrictStr | None = None
    dedicated_host_id: StrictStr | None = None


class ServerSpec(_Wire):
    name: Annotated[StrictStr, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.\-]+$")]
    image_ref: NonEmpty = Field(alias="imageRef")
    flavor_ref: NonEmpty = Field(alias="flavorRef")
    vpcid: NonEmpty
    nics: Annotated[list[Nic], Field(min_length=1, max_length=12)]
    root_volume: RootVolume
    data_volumes: Annotated[list[DataVolume], Field(max_length=23)] = []
    count: Annotated[StrictInt, Field(ge=1, le=100)] = 1
    availability_zone: StrictStr | None = None
    scheduler_hints: SchedulerHints | None = Field(default=None, alias="os:scheduler_hints")
    metadata: Annotated[dict[StrictStr, StrictStr], Field(max_length=10)] = {}
    tags: list[StrictStr] = []
    description: Annotated[StrictStr, Field(max_length=85, pattern=r"^[^<>]*$")] = ""
    key_name: StrictStr | None = None


class CreateServersBody(_Wire):
    server: ServerSpec
    dry_run: StrictBool = False


class ServerRef(_Wire):
    id: NonEmpty


class StartSpec(_Wire):
    servers: Annotated[list[ServerRef], Field(min_length=1)]


class StopSpec(_Wire):
    servers: Annotated[list[ServerRef], Field(min_length=1)]
    type: Literal["SOFT", "HARD"] = "SOFT"


class BatchActionBody(_Wire):
    os_start: StartSpec | None = Field(default=None, alias="os-start")
    os_stop: StopSpec | None = Field(default=None, alias="os-stop")
    reboot: StopSpec | None = None


class DeleteServersBody(_Wire):
    servers: Annotated[list[ServerRef], Field(min_length=1)]
    delete_publicip: StrictBool = False
    delete_volume: StrictBool = False


TagText = Annotated[StrictStr, Field(pattern=r"^[^=*<>/,\\|]*$")]


class Tag(_Wire):
    key: Annotated[TagText, Field(min_length=1, max_length=36)]
    value: Annotated[TagText, Field(max_length=43)]


class AllocateHostsBody(_Wire):
    name: Annotated[StrictStr, Field(min_length=1, max_length=255, pattern=r"^\S(.*\S)?$")]
    auto_placement: Literal["on", "off"] = "on"
    availability_zone: NonEmpty
    host_type: NonEmpty
    quantity: Annotated[StrictInt, Field(ge=1, le=100)]
    tags: list[Tag] = []


class HostUpdate(_Wire):
    name: (
        Annotated[StrictStr, Field(min_length=1, max_length=255, pattern=r"^\S(.*\S)?$")] | None
    ) = None
    auto_placement: Literal["on", "off"] | None = None


class UpdateHostBody(_Wire):
    dedicated_host: HostUpdate


class DriverOperationBody(BaseModel):
    """``PUT /v1/admin/driver/operations/{operation}``: strict, unknown members refused, so a
    typo cannot silently inject nothing."""

    model_config = ConfigDict(extra="forbid")

    fail_next: Annotated[StrictInt, Field(ge=0, le=1_000_000)] | None = None
    # Strict, as fail_next: a strict float still takes a JSON integer, but not true or "2".
    hold_seconds: Annotated[StrictFloat, Field(ge=0, le=86_400)] | None = None


class MigrateOrder(_Wire):
    # A present id must be a non-blank string: null is refused, so the schema shows no null.
    dedicated_host_id: (
        Annotated[StrictStr, Field(min_length=1, pattern=r"\S")] | SkipJsonSchema[None]
    ) = Field(default=None, description="the target DeH; leave it out for the public pool")


class MigrateBody(_Wire):
    """``POST .../migrate``, for the OpenAPI description: routes.servers.migrate_target parses
    it, because api.md §2.1 gives an empty body and ``{"migrate": null}`` a meaning."""

    migrate: MigrateOrder | None = None


class DrainBody(_Wire):
    """``POST .../dedicated-hosts/{id}/drain`` (a coldshift extension: docs/operator-tools.md)."""

    targets: list[str] = Field(
        default_factory=list, description="DeHs of the project to drain onto", max_length=100
    )
    to_pool: bool = Field(default=False, description="the public pool is a target too")
    dry_run: bool = Field(default=False, description="answer the plan; record nothing")
    restart: bool = Field(
        default=False, description="running servers are stopped, moved and started again"
    )
    partial: bool = Field(default=False, description="run the placeable part of the plan")
    max_parallel: int = Field(default=2, ge=1, le=16, description="sub-jobs copying at once")
