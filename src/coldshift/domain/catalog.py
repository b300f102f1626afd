"""The region as configured: zones, flavors, host types, pool, projects, driver settings.

These are values read from the catalog file; servers, DeHs, jobs and claims are state and live
in the database.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


@dataclass(frozen=True, slots=True)
class Flavor:
    id: str
    vcpus: int
    ram_mb: int
    numa_nodes: int = 1

    @property
    def family(self) -> str:
        return self.id.split(".", 1)[0]


@dataclass(frozen=True, slots=True)
class HostType:
    host_type: str
    host_type_name: str
    sockets: int
    cores: int
    vcpus: int
    memory_mb: int
    flavor_patterns: tuple[str, ...]

    def supports(self, flavor_id: str) -> bool:
        return any(fnmatch.fnmatchcase(flavor_id, p) for p in self.flavor_patterns)


@dataclass(frozen=True, slots=True)
class PoolSpec:
    availability_zone: str
    host_type: str
    count: int
    cpu_allocation_ratio: float = 1.0
    #: the hosts' own names (a libvirt region's machines); empty: numbered names
    names: tuple[str, ...] = ()

    def host_names(self) -> list[str]:
        if self.names:
            return list(self.names)
        prefix = f"pool-{self.availability_zone}-{self.host_type}"
        return [f"{prefix}-{i:03d}" for i in range(1, self.count + 1)]


@dataclass(frozen=True, slots=True)
class Quotas:
    dedicated_hosts: int = 20
    instances: int = 200


@dataclass(frozen=True, slots=True)
class Project:
    id: str
    name: str
    access_key: str
    secret_key: str
    admin: bool = False
    quotas: Quotas = field(default_factory=Quotas)


@dataclass(frozen=True, slots=True)
class SimulatedDriverSettings:
    action_seconds: float = 2.0
    disk_copy_mb_per_s: float = 2048.0
    deh_allocate_seconds: float = 1.0


class MachineUse(StrEnum):
    """What a libvirt region's physical host is for."""

    POOL = "pool"
    DEH = "deh"


@dataclass(frozen=True, slots=True)
class Machine:
    """A physical KVM host of a libvirt region (libvirt.md)."""

    name: str
    uri: str
    availability_zone: str
    host_type: str
    use: MachineUse
    #: where the storage pool keeps its volumes when coldshift has to create the pool
    pool_path: str = ""


@dataclass(frozen=True, slots=True)
class LibvirtSettings:
    storage_pool: str = "coldshift"
    image_dir: str = ""
    #: how long a guest has to stop after the ACPI shutdown before it is destroyed
    shutdown_seconds: float = 30.0
    #: how long one libvirt call may take before its host counts as not answering
    call_timeout_seconds: float = 60.0
    #: a disk copy that moves no byte for this long has lost a host
    copy_stall_seconds: float = 30.0
    hosts: tuple[Machine, ...] = ()

    def machine(self, name: str) -> Machine | None:
        return next((m for m in self.hosts if m.name == name), None)

    def pool_specs(self) -> tuple[PoolSpec, ...]:
        """The public pool of a libvirt region: its ``use = "pool"`` hosts, by AZ and type."""
        groups: dict[tuple[str, str], list[str]] = {}
        for machine in self.hosts:
            if machine.use is MachineUse.POOL:
                key = (machine.availability_zone, machine.host_type)
                groups.setdefault(key, []).append(machine.name)
        return tuple(
            PoolSpec(az, host_type, len(names), names=tuple(names))
            for (az, host_type), names in groups.items()
        )


@dataclass(frozen=True, slots=True)
class DriverSettings:
    kind: str = "simulated"
    simulated: SimulatedDriverSettings = field(default_factory=SimulatedDriverSettings)
    libvirt: LibvirtSettings | None = None


@dataclass(frozen=True, slots=True)
class Catalog:
    region_id: str
    availability_zones: tuple[str, ...]
    flavors: tuple[Flavor, ...]
    host_types: tuple[HostType, ...]
    public_pool: tuple[PoolSpec, ...]
    projects: tuple[Project, ...]
    driver: DriverSettings = field(default_factory=DriverSettings)
    # Indexes of the tuples above: every request looks up its key's project, and every
    # server view its flavor. The first of equal ids wins, as a scan of the tuple would.
    _flavors: dict[str, Flavor] = field(init=False, repr=False, compare=False)
    _host_types: dict[str, HostType] = field(init=False, repr=False, compare=False)
    _by_key: dict[str, Project] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        def first_of(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
            return dict(reversed(pairs))

        object.__setattr__(self, "_flavors", first_of([(f.id, f) for f in self.flavors]))
        object.__setattr__(
            self, "_host_types", first_of([(t.host_type, t) for t in self.host_types])
        )
        object.__setattr__(self, "_by_key", first_of([(p.access_key, p) for p in self.projects]))

    def flavor(self, flavor_id: str) -> Flavor | None:
        return self._flavors.get(flavor_id)

    def host_type(self, name: str) -> HostType | None:
        return self._host_types.get(name)

    def project_by_key(self, access_key: str) -> Project | None:
        return self._by_key.get(access_key)

    def project(self, project_id: str) -> Project | None:
        return next((p for p in self.projects if p.id == project_id), None)

    def supported_flavors(self, host_type: HostType) -> list[Flavor]:
        return [f for f in self.flavors if host_type.supports(f.id)]
