"""Load and validate the region catalog (a TOML file) into the domain `Catalog`.

Three stages, each reporting every problem it finds, never just the first:

1. TOML syntax (`tomllib`); a syntax error names the line and column.
2. Shape and types (pydantic v2 models with ``extra="forbid"`` and strict types: no string to
   number coercion, no booleans as numbers; a float key also accepts an integer).
3. Semantic rules: positive sizes, unique ids, NUMA divisibility, references between sections.

Every problem is phrased ``catalog key <path>: <problem>`` where ``<path>`` is a dotted key path
with 0-based indices into arrays of tables, e.g. ``flavors[3].vcpus`` is the ``vcpus`` key of the
fourth ``[[flavors]]`` table.
"""

from __future__ import annotations

import fnmatch
import re
import tomllib
from collections.abc import Iterable, Sequence
from importlib import resources
from pathlib import Path
from typing import Any, Final

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr, ValidationError

from coldshift.catalog.libvirt_keys import LibvirtKeys, libvirt_problems, libvirt_settings
from coldshift.domain.catalog import (
    Catalog,
    DriverSettings,
    Flavor,
    HostType,
    PoolSpec,
    Project,
    Quotas,
    SimulatedDriverSettings,
)

DEFAULT_CATALOG_PATH: Final[Path] = Path(__file__).with_name("default.toml")
"""Where the shipped default catalog lives for a normal (unzipped) install."""

_DEFAULT_RESOURCE: Final[str] = "default.toml"

FLAVOR_ID_RE: Final[re.Pattern[str]] = re.compile(r"[a-z][a-z0-9]*\.[a-z0-9]+\.[0-9]+")
PROJECT_ID_RE: Final[re.Pattern[str]] = re.compile(r"[0-9a-f]{32}")

# Defaults come from the domain dataclasses (instances: their slots hide class-level defaults).
_DEFAULT_QUOTAS: Final = Quotas()
_DEFAULT_SIMULATED: Final = SimulatedDriverSettings()
_DEFAULT_DRIVER: Final = DriverSettings()

DRIVER_KINDS: Final[tuple[str, ...]] = ("simulated", "libvirt")


class CatalogError(Exception):
    """The catalog cannot be read or is invalid.

    ``problems`` holds one line per problem (``catalog key <path>: <problem>`` for validation
    problems); ``str()`` is the source followed by the problem(s).
    """

    def __init__(self, problems: Sequence[str], source: str = "<catalog>") -> None:
        self.problems: tuple[str, ...] = tuple(problems)
        self.source = source
        if len(self.problems) == 1:
            message = f"{source}: {self.problems[0]}"
        else:
            lines = "\n".join(f"  {p}" for p in self.problems)
            message = f"{source}: {len(self.problems)} problems:\n{lines}"
        super().__init__(message)


# --------------------------------------------------------------------------------------------
# Stage 2: shape and types.


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False, frozen=True)


class _Region(_Model):
    id: StrictStr


class _AvailabilityZone(_Model):
    name: StrictStr


class _Flavor(_Model):
    id: StrictStr
    vcpus: StrictInt
    ram_mb: StrictInt
    numa_nodes: StrictInt = 1


class _HostType(_Model):
    host_type: StrictStr
    host_type_name: StrictStr
    sockets: StrictInt
    cores: StrictInt
    vcpus: StrictInt
    memory_mb: StrictInt
    flavors: list[StrictStr]


class _PoolEntry(_Model):
    availability_zone: StrictStr
    host_type: StrictStr
    count: StrictInt
    cpu_allocation_ratio: float = 1.0


class _Quotas(_Model):
    dedicated_hosts: StrictInt = _DEFAULT_QUOTAS.dedicated_hosts
    instances: StrictInt = _DEFAULT_QUOTAS.instances


class _Project(_Model):
    id: StrictStr
    name: StrictStr
    access_key: StrictStr
    secret_key: StrictStr
    admin: StrictBool = False
    quotas: _Quotas = Field(default_factory=_Quotas)


class _SimulatedDriver(_Model):
    action_seconds: float = _DEFAULT_SIMULATED.action_seconds
    disk_copy_mb_per_s: float = _DEFAULT_SIMULATED.disk_copy_mb_per_s
    deh_allocate_seconds: float = _DEFAULT_SIMULATED.deh_allocate_seconds


class _Driver(_Model):
    kind: StrictStr = _DEFAULT_DRIVER.kind
    simulated: _SimulatedDriver = Field(default_factory=_SimulatedDriver)
    libvirt: LibvirtKeys | None = None


class _Catalog(_Model):
    region: _Region
    availability_zones: list[_AvailabilityZone]
    flavors: list[_Flavor] = Field(default_factory=list)
    host_types: list[_HostType] = Field(default_factory=list)
    public_pool: list[_PoolEntry] = Field(default_factory=list)
    projects: list[_Project]
    driver: _Driver = Field(default_factory=_Driver)


_TYPE_MESSAGES: Final[dict[str, str]] = {
    "missing": "required key is missing",
    "extra_forbidden": "unknown key",
    "int_type": "must be an integer",
    "string_type": "must be a string",
    "bool_type": "must be a boolean (true or false)",
    "float_type": "must be a number",
    "finite_number": "must be a finite number",
    "list_type": "must be an array",
    "model_type": "must be a table",
    "dict_type": "must be a table",
}


def _key_path(loc: Iterable[int | str]) -> str:
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else part
    return path or "(top level)"


def _problem(path: str, problem: str) -> str:
    return f"catalog key {path}: {problem}"


def _type_problems(exc: ValidationError) -> list[str]:
    problems: list[str] = []
    for error in exc.errors():
        message = _TYPE_MESSAGES.get(error["type"], error["msg"])
        problems.append(_problem(_key_path(error["loc"]), message))
    return problems


# --------------------------------------------------------------------------------------------
# Stage 3: semantic rules.


class _Checker:
    """Collects semantic problems of a type-valid catalog."""

    def __init__(self, model: _Catalog) -> None:
        self.model = model
        self.problems: list[str] = []

    def add(self, path: str, problem: str) -> None:
        self.problems.append(_problem(path, problem))

    def non_empty(self, path: str, value: str) -> bool:
        if value.strip():
            return True
        self.add(path, "must be a non-empty string")
        return False

    def positive(self, path: str, value: int) -> None:
        if value <= 0:
            self.add(path, "must be a positive integer")

    def non_negative(self, path: str, value: int | float, what: str = "integer") -> None:
        if value < 0:
            self.add(path, f"must be a non-negative {what}")

    def unique(self, path: str, value: str, seen: dict[str, str], what: str) -> None:
        if value in seen:
            self.add(path, f"duplicate {what} {value!r} (already used by {seen[value]})")
        else:
            seen[value] = path

    def run(self) -> list[str]:
        self.check_region()
        self.check_availability_zones()
        self.check_flavors()
        self.check_host_types()
        self.check_public_pool()
        self.check_projects()
        self.check_driver()
        return self.problems

    def check_region(self) -> None:
        self.non_empty("region.id", self.model.region.id)

    def check_availability_zones(self) -> None:
        zones = self.model.availability_zones
        if not zones:
            self.add("availability_zones", "at least one availability zone is required")
        seen: dict[str, str] = {}
        for i, zone in enumerate(zones):
            path = f"availability_zones[{i}].name"
            if self.non_empty(path, zone.name):
                self.unique(path, zone.name, seen, "availability zone name")

    def check_flavors(self) -> None:
        seen: dict[str, str] = {}
        for i, flavor in enumerate(self.model.flavors):
            base = f"flavors[{i}]"
            if not FLAVOR_ID_RE.fullmatch(flavor.id):
                self.add(
                    f"{base}.id",
                    f"{flavor.id!r} is not a flavor id of the form family.size.ratio "
                    "(e.g. 's6.large.2')",
                )
            self.unique(f"{base}.id", flavor.id, seen, "flavor id")
            self.positive(f"{base}.vcpus", flavor.vcpus)
            self.positive(f"{base}.ram_mb", flavor.ram_mb)
            if flavor.numa_nodes < 1:
                self.add(f"{base}.numa_nodes", "must be an integer >= 1")
                continue
            for key, value in (("vcpus", flavor.vcpus), ("ram_mb", flavor.ram_mb)):
                if value > 0 and value % flavor.numa_nodes:
                    self.add(
                        f"{base}.{key}",
                        f"{value} is not divisible by numa_nodes = {flavor.numa_nodes}",
                    )

    def check_host_types(self) -> None:
        seen: dict[str, str] = {}
        flavor_ids = [f.id for f in self.model.flavors]
        for i, host_type in enumerate(self.model.host_types):
            base = f"host_types[{i}]"
            if self.non_empty(f"{base}.host_type", host_type.host_type):
                self.unique(f"{base}.host_type", host_type.host_type, seen, "host type")
            self.non_empty(f"{base}.host_type_name", host_type.host_type_name)
            if host_type.sockets < 1:
                self.add(f"{base}.sockets", "must be an integer >= 1")
            if host_type.cores < 1:
                self.add(f"{base}.cores", "must be an integer >= 1")
            self.positive(f"{base}.vcpus", host_type.vcpus)
            self.positive(f"{base}.memory_mb", host_type.memory_mb)
            if host_type.sockets >= 1:
                for key, value in (("vcpus", host_type.vcpus), ("memory_mb", host_type.memory_mb)):
                    if value > 0 and value % host_type.sockets:
                        self.add(
                            f"{base}.{key}",
                            f"{value} is not divisible by sockets = {host_type.sockets}",
                        )
            if not host_type.flavors:
                self.add(f"{base}.flavors", "must list at least one flavor id or pattern")
            for j, pattern in enumerate(host_type.flavors):
                path = f"{base}.flavors[{j}]"
                if not self.non_empty(path, pattern):
                    continue
                if not any(fnmatch.fnmatchcase(fid, pattern) for fid in flavor_ids):
                    self.add(path, f"{pattern!r} matches no flavor of the catalog")

    def check_public_pool(self) -> None:
        zones = [z.name for z in self.model.availability_zones]
        host_types = [t.host_type for t in self.model.host_types]
        seen: dict[tuple[str, str], str] = {}
        for i, entry in enumerate(self.model.public_pool):
            base = f"public_pool[{i}]"
            if entry.availability_zone not in zones:
                self.add(
                    f"{base}.availability_zone",
                    f"{entry.availability_zone!r} is not a declared availability zone "
                    f"(declared: {_listing(zones)})",
                )
            if entry.host_type not in host_types:
                self.add(
                    f"{base}.host_type",
                    f"{entry.host_type!r} is not a declared host type "
                    f"(declared: {_listing(host_types)})",
                )
            self.non_negative(f"{base}.count", entry.count)
            if entry.cpu_allocation_ratio <= 0:
                self.add(f"{base}.cpu_allocation_ratio", "must be a number > 0")
            pair = (entry.availability_zone, entry.host_type)
            if pair in seen:
                self.add(
                    base,
                    f"duplicate pool for availability zone {pair[0]!r} and host type "
                    f"{pair[1]!r} (already declared by {seen[pair]})",
                )
            else:
                seen[pair] = base

    def check_projects(self) -> None:
        projects = self.model.projects
        if not projects:
            self.add("projects", "at least one project is required")
        ids: dict[str, str] = {}
        names: dict[str, str] = {}
        access_keys: dict[str, str] = {}
        for i, project in enumerate(projects):
            base = f"projects[{i}]"
            if PROJECT_ID_RE.fullmatch(project.id):
                self.unique(f"{base}.id", project.id, ids, "project id")
            else:
                self.add(f"{base}.id", f"{project.id!r} is not 32 lowercase hexadecimal digits")
            if self.non_empty(f"{base}.name", project.name):
                self.unique(f"{base}.name", project.name, names, "project name")
            if self.non_empty(f"{base}.access_key", project.access_key):
                self.unique(f"{base}.access_key", project.access_key, access_keys, "access key")
            self.non_empty(f"{base}.secret_key", project.secret_key)
            self.non_negative(f"{base}.quotas.dedicated_hosts", project.quotas.dedicated_hosts)
            self.non_negative(f"{base}.quotas.instances", project.quotas.instances)

    def check_driver(self) -> None:
        driver = self.model.driver
        if driver.kind not in DRIVER_KINDS:
            kinds = " or ".join(repr(k) for k in DRIVER_KINDS)
            self.add("driver.kind", f"unknown driver {driver.kind!r}; must be {kinds}")
        simulated = driver.simulated
        for key in ("action_seconds", "disk_copy_mb_per_s", "deh_allocate_seconds"):
            self.non_negative(f"driver.simulated.{key}", getattr(simulated, key), "number")
        problems = libvirt_problems(
            driver.kind,
            driver.libvirt,
            zones=[z.name for z in self.model.availability_zones],
            host_types=[t.host_type for t in self.model.host_types],
            public_pool_entries=len(self.model.public_pool),
        )
        for path, problem in problems:
            self.add(path, problem)


def _listing(names: Sequence[str]) -> str:
    return ", ".join(names) if names else "none"


# --------------------------------------------------------------------------------------------
# Conversion to the domain model.


def _to_domain(model: _Catalog) -> Catalog:
    sim = model.driver.simulated
    libvirt = libvirt_settings(model.driver.libvirt) if model.driver.libvirt else None
    return Catalog(
        region_id=model.region.id,
        availability_zones=tuple(z.name for z in model.availability_zones),
        flavors=tuple(
            Flavor(id=f.id, vcpus=f.vcpus, ram_mb=f.ram_mb, numa_nodes=f.numa_nodes)
            for f in model.flavors
        ),
        host_types=tuple(
            HostType(
                host_type=t.host_type,
                host_type_name=t.host_type_name,
                sockets=t.sockets,
                cores=t.cores,
                vcpus=t.vcpus,
                memory_mb=t.memory_mb,
                flavor_patterns=tuple(t.flavors),
            )
            for t in model.host_types
        ),
        public_pool=libvirt.pool_specs()
        if libvirt
        else tuple(
            PoolSpec(
                availability_zone=p.availability_zone,
                host_type=p.host_type,
                count=p.count,
                cpu_allocation_ratio=float(p.cpu_allocation_ratio),
            )
            for p in model.public_pool
        ),
        projects=tuple(
            Project(
                id=p.id,
                name=p.name,
                access_key=p.access_key,
                secret_key=p.secret_key,
                admin=p.admin,
                quotas=Quotas(
                    dedicated_hosts=p.quotas.dedicated_hosts, instances=p.quotas.instances
                ),
            )
            for p in model.projects
        ),
        driver=DriverSettings(
            kind=model.driver.kind,
            simulated=SimulatedDriverSettings(
                action_seconds=float(sim.action_seconds),
                disk_copy_mb_per_s=float(sim.disk_copy_mb_per_s),
                deh_allocate_seconds=float(sim.deh_allocate_seconds),
            ),
            libvirt=libvirt,
        ),
    )


# --------------------------------------------------------------------------------------------
# Public API.


def parse_catalog(text: str, source: str = "<catalog>") -> Catalog:
    """Parse and validate catalog TOML text; raise `CatalogError` listing every problem."""
    try:
        data: dict[str, Any] = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise CatalogError([f"TOML syntax error: {exc}"], source) from exc
    try:
        model = _Catalog.model_validate(data)
    except ValidationError as exc:
        raise CatalogError(_type_problems(exc), source) from None
    problems = _Checker(model).run()
    if problems:
        raise CatalogError(problems, source)
    return _to_domain(model)


def load_catalog(path: str | Path) -> Catalog:
    """Read and validate the catalog file at ``path``."""
    source = str(path)
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise CatalogError([f"cannot read catalog file: {reason}"], source) from exc
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CatalogError([f"catalog file is not valid UTF-8: {exc}"], source) from exc
    return parse_catalog(text, source)


def load_default_catalog() -> Catalog:
    """The catalog shipped inside the package (``coldshift/catalog/default.toml``)."""
    resource = resources.files("coldshift.catalog").joinpath(_DEFAULT_RESOURCE)
    text = resource.read_text(encoding="utf-8")
    return parse_catalog(text, source=f"coldshift/catalog/{_DEFAULT_RESOURCE}")
