"""The region catalog loader and the shipped default catalog."""

from __future__ import annotations

import copy
import json
import math
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from coldshift.catalog import (
    DEFAULT_CATALOG_PATH,
    CatalogError,
    load_catalog,
    load_default_catalog,
    parse_catalog,
)
from coldshift.domain.catalog import Catalog, Flavor, HostType

# --------------------------------------------------------------------------------------------
# Helpers: a small valid catalog as data, a TOML writer, and mutations.

Data = dict[str, Any]
Mutation = Callable[[Data], None]

DEMO_ID = "0f4b3c0e2a6d4e3f9a1b2c3d4e5f6a7b"
ADMIN_ID = "a0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5"


def base_data() -> Data:
    return {
        "region": {"id": "test-1"},
        "availability_zones": [{"name": "test-1a"}, {"name": "test-1b"}],
        "flavors": [
            {"id": "s6.large.2", "vcpus": 2, "ram_mb": 4096},
            {"id": "s6.16xlarge.2", "vcpus": 64, "ram_mb": 131072, "numa_nodes": 2},
            {"id": "m6.large.8", "vcpus": 2, "ram_mb": 16384},
        ],
        "host_types": [
            {
                "host_type": "s6",
                "host_type_name": "General computing",
                "sockets": 2,
                "cores": 40,
                "vcpus": 80,
                "memory_mb": 327680,
                "flavors": ["s6.*"],
            },
            {
                "host_type": "m6",
                "host_type_name": "Memory-optimized",
                "sockets": 2,
                "cores": 40,
                "vcpus": 80,
                "memory_mb": 1310720,
                "flavors": ["m6.large.8"],
            },
        ],
        "public_pool": [
            {"availability_zone": "test-1a", "host_type": "s6", "count": 2},
            {"availability_zone": "test-1b", "host_type": "m6", "count": 0},
        ],
        "projects": [
            {
                "id": DEMO_ID,
                "name": "demo",
                "access_key": "AK1",
                "secret_key": "SK1",
                "quotas": {"dedicated_hosts": 3, "instances": 10},
            },
            {
                "id": ADMIN_ID,
                "name": "admin",
                "access_key": "AK2",
                "secret_key": "SK2",
                "admin": True,
            },
        ],
        "driver": {
            "kind": "simulated",
            "simulated": {
                "action_seconds": 0,
                "disk_copy_mb_per_s": 0.5,
                "deh_allocate_seconds": 0.0,
            },
        },
    }


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(k)} = {toml_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(value)


def to_toml(data: Data) -> str:
    """Every top-level key as one line with inline tables: valid TOML, easy to generate."""
    return "".join(f"{json.dumps(k)} = {toml_value(v)}\n" for k, v in data.items())


def _walk(data: Data, path: str) -> tuple[Any, str | int]:
    """The container holding the last element of a ``a.b[1].c`` path, and that element's key."""
    parts: list[str | int] = []
    for dotted in path.split("."):
        name, *indices = dotted.replace("]", "").split("[")
        if name:
            parts.append(name)
        parts.extend(int(i) for i in indices)
    node: Any = data
    for part in parts[:-1]:
        node = node[part]
    return node, parts[-1]


def set_(path: str, value: Any) -> Mutation:
    def mutate(data: Data) -> None:
        node, key = _walk(data, path)
        node[key] = value

    return mutate


def drop(path: str) -> Mutation:
    def mutate(data: Data) -> None:
        node, key = _walk(data, path)
        del node[key]

    return mutate


def append(path: str, item_from: str | None = None, **changes: Any) -> Mutation:
    """Append to the array at ``path`` a copy of the item at ``item_from`` with ``changes``."""

    def mutate(data: Data) -> None:
        node, key = _walk(data, path)
        item = copy.deepcopy(_get(data, item_from)) if item_from else {}
        item.update(changes)
        node[key].append(item)

    return mutate


def _get(data: Data, path: str) -> Any:
    node, key = _walk(data, path)
    return node[key]


def mutated(*mutations: Mutation) -> str:
    data = base_data()
    for mutation in mutations:
        mutation(data)
    return to_toml(data)


def error_of(text: str) -> CatalogError:
    with pytest.raises(CatalogError) as info:
        parse_catalog(text)
    return info.value


# --------------------------------------------------------------------------------------------
# The shipped default catalog.


def test_default_catalog_loads_with_expected_region_and_zones() -> None:
    catalog = load_default_catalog()
    assert isinstance(catalog, Catalog)
    assert catalog.region_id == "local-1"
    assert catalog.availability_zones == ("local-1a", "local-1b")


def test_default_catalog_path_is_the_shipped_file() -> None:
    assert DEFAULT_CATALOG_PATH.name == "default.toml"
    assert load_catalog(DEFAULT_CATALOG_PATH) == load_default_catalog()


def test_default_catalog_flavors() -> None:
    catalog = load_default_catalog()
    sizes = {"large": 2, "xlarge": 4, "2xlarge": 8, "4xlarge": 16, "8xlarge": 32, "16xlarge": 64}
    expected = {
        f"{family}.{size}.{ratio}": Flavor(
            id=f"{family}.{size}.{ratio}",
            vcpus=vcpus,
            ram_mb=vcpus * ratio * 1024,
            numa_nodes=2 if size == "16xlarge" else 1,
        )
        for family, ratio in (("s6", 2), ("c6", 2), ("m6", 8))
        for size, vcpus in sizes.items()
    }
    assert {f.id: f for f in catalog.flavors} == expected
    assert catalog.flavor("s6.large.2") == Flavor("s6.large.2", 2, 4096)
    assert catalog.flavor("m6.xlarge.8") == Flavor("m6.xlarge.8", 4, 32768)
    assert {f.family for f in catalog.flavors} == {"s6", "c6", "m6"}


def test_default_catalog_host_types_support_their_family() -> None:
    catalog = load_default_catalog()
    assert [t.host_type for t in catalog.host_types] == ["s6", "c6", "m6"]
    for host_type in catalog.host_types:
        supported = {f.id for f in catalog.supported_flavors(host_type)}
        assert supported == {f.id for f in catalog.flavors if f.family == host_type.host_type}


def _fits_per_node(flavor: Flavor, host_type: HostType) -> bool:
    node_vcpus = host_type.vcpus // host_type.sockets
    node_memory = host_type.memory_mb // host_type.sockets
    return (
        flavor.numa_nodes <= host_type.sockets
        and flavor.vcpus // flavor.numa_nodes <= node_vcpus
        and flavor.ram_mb // flavor.numa_nodes <= node_memory
    )


def test_default_catalog_every_flavor_fits_its_host_type_per_numa_node() -> None:
    catalog = load_default_catalog()
    for flavor in catalog.flavors:
        host_types = [t for t in catalog.host_types if t.supports(flavor.id)]
        assert len(host_types) == 1, flavor.id
        assert _fits_per_node(flavor, host_types[0]), flavor.id


def test_default_catalog_16xlarge_fits_per_node_only_when_split() -> None:
    catalog = load_default_catalog()
    big = [f for f in catalog.flavors if ".16xlarge." in f.id]
    assert len(big) == 3
    for flavor in big:
        assert flavor.numa_nodes == 2
        host_type = catalog.host_type(flavor.family)
        assert host_type is not None
        assert _fits_per_node(flavor, host_type)
        # Unsplit, 64 vCPUs would not fit a 40-vCPU node: numa_nodes = 2 is what makes it fit.
        unsplit = Flavor(flavor.id, flavor.vcpus, flavor.ram_mb, numa_nodes=1)
        assert not _fits_per_node(unsplit, host_type)


def test_default_catalog_public_pool() -> None:
    catalog = load_default_catalog()
    pairs = {(p.availability_zone, p.host_type) for p in catalog.public_pool}
    assert pairs == {(az, t) for az in ("local-1a", "local-1b") for t in ("s6", "c6", "m6")}
    assert len(catalog.public_pool) == 6
    assert all(p.count == 4 and p.cpu_allocation_ratio == 1.0 for p in catalog.public_pool)
    first = catalog.public_pool[0]
    assert first.host_names()[0] == f"pool-{first.availability_zone}-{first.host_type}-001"


def test_default_catalog_projects_and_driver() -> None:
    catalog = load_default_catalog()
    demo = catalog.project_by_key("CSDEMOACCESSKEY00001")
    admin = catalog.project_by_key("CSADMINACCESSKEY0001")
    assert demo is not None and admin is not None
    assert (demo.id, demo.name, demo.secret_key, demo.admin) == (
        DEMO_ID,
        "demo",
        "demo-secret-key-change-me",
        False,
    )
    assert (demo.quotas.dedicated_hosts, demo.quotas.instances) == (20, 200)
    assert (admin.id, admin.name, admin.secret_key, admin.admin) == (
        ADMIN_ID,
        "admin",
        "admin-secret-key-change-me",
        True,
    )
    assert catalog.driver.kind == "simulated"
    sim = catalog.driver.simulated
    assert (sim.action_seconds, sim.disk_copy_mb_per_s, sim.deh_allocate_seconds) == (2.0, 2048, 1)
    assert isinstance(sim.disk_copy_mb_per_s, float)


def test_default_catalog_warns_that_keys_are_for_local_use_only() -> None:
    head = DEFAULT_CATALOG_PATH.read_text(encoding="utf-8")[:600]
    assert "LOCAL USE ONLY" in head


# --------------------------------------------------------------------------------------------
# A valid catalog, defaults and conversion.


def test_base_catalog_is_valid_and_converted() -> None:
    catalog = parse_catalog(mutated())
    assert catalog.region_id == "test-1"
    assert catalog.flavors[0] == Flavor("s6.large.2", 2, 4096, 1)
    assert catalog.host_types[1].flavor_patterns == ("m6.large.8",)
    assert catalog.public_pool[1].count == 0
    assert catalog.projects[1].admin is True
    sim = catalog.driver.simulated
    assert (sim.action_seconds, sim.disk_copy_mb_per_s, sim.deh_allocate_seconds) == (0, 0.5, 0)
    assert all(
        isinstance(v, float)
        for v in (sim.action_seconds, sim.disk_copy_mb_per_s, sim.deh_allocate_seconds)
    )


def test_optional_keys_take_their_defaults() -> None:
    # The base data leaves out flavors[2].numa_nodes, public_pool[*].cpu_allocation_ratio,
    # projects[0].admin and projects[1].quotas; here [driver] goes too.
    catalog = parse_catalog(mutated(drop("driver")))
    assert catalog.flavors[2] == Flavor("m6.large.8", 2, 16384, numa_nodes=1)
    assert all(p.cpu_allocation_ratio == 1.0 for p in catalog.public_pool)
    assert catalog.projects[0].admin is False
    quotas = catalog.projects[1].quotas
    assert (quotas.dedicated_hosts, quotas.instances) == (20, 200)
    sim = catalog.driver.simulated
    assert catalog.driver.kind == "simulated"
    assert (sim.action_seconds, sim.disk_copy_mb_per_s, sim.deh_allocate_seconds) == (2.0, 2048, 1)


def test_driver_table_without_kind_or_simulated_subtable_defaults() -> None:
    catalog = parse_catalog(mutated(set_("driver", {})))
    assert catalog.driver.kind == "simulated"
    assert catalog.driver.simulated.action_seconds == 2.0


def test_flavors_host_types_and_pool_may_be_absent() -> None:
    catalog = parse_catalog(mutated(drop("public_pool"), drop("host_types"), drop("flavors")))
    assert (catalog.flavors, catalog.host_types, catalog.public_pool) == ((), (), ())


def test_zero_durations_are_allowed_for_instant_operations() -> None:
    text = mutated(
        set_("driver.simulated", {"action_seconds": 0, "disk_copy_mb_per_s": 0}),
        set_("driver.simulated.deh_allocate_seconds", 0),
    )
    assert parse_catalog(text).driver.simulated.disk_copy_mb_per_s == 0.0


# --------------------------------------------------------------------------------------------
# Semantic rules: each violation names the key.

SEMANTIC_CASES: list[tuple[str, list[Mutation], str]] = [
    # region and zones
    ("empty region id", [set_("region.id", "")], "catalog key region.id: must be a non-empty"),
    ("blank region id", [set_("region.id", "  ")], "catalog key region.id: must be a non-empty"),
    (
        "no zones",
        [set_("availability_zones", []), set_("public_pool", [])],
        "catalog key availability_zones: at least one availability zone",
    ),
    (
        "duplicate zone",
        [set_("availability_zones[1].name", "test-1a"), drop("public_pool[1]")],
        "catalog key availability_zones[1].name: duplicate availability zone name 'test-1a'",
    ),
    ("empty zone", [set_("availability_zones[1].name", "")], "availability_zones[1].name"),
    # flavors
    (
        "duplicate flavor id",
        [append("flavors", "flavors[0]")],
        "catalog key flavors[3].id: duplicate flavor id 's6.large.2' "
        "(already used by flavors[0].id)",
    ),
    ("flavor id shape", [set_("flavors[0].id", "s6-large-2")], "catalog key flavors[0].id:"),
    ("flavor id upper", [set_("flavors[0].id", "S6.large.2")], "catalog key flavors[0].id:"),
    ("flavor id ratio", [set_("flavors[0].id", "s6.large.x")], "catalog key flavors[0].id:"),
    ("flavor id 2 parts", [set_("flavors[0].id", "s6.large")], "catalog key flavors[0].id:"),
    ("flavor id newline", [set_("flavors[0].id", "s6.large.2\n")], "catalog key flavors[0].id:"),
    (
        "zero vcpus",
        [set_("flavors[0].vcpus", 0)],
        "catalog key flavors[0].vcpus: must be a positive integer",
    ),
    (
        "negative ram",
        [set_("flavors[2].ram_mb", -1)],
        "catalog key flavors[2].ram_mb: must be a positive integer",
    ),
    (
        "zero numa nodes",
        [set_("flavors[0].numa_nodes", 0)],
        "catalog key flavors[0].numa_nodes: must be an integer >= 1",
    ),
    (
        "vcpus not divisible by numa nodes",
        [set_("flavors[1].vcpus", 63)],
        "catalog key flavors[1].vcpus: 63 is not divisible by numa_nodes = 2",
    ),
    (
        "ram not divisible by numa nodes",
        [set_("flavors[1].ram_mb", 131071)],
        "catalog key flavors[1].ram_mb: 131071 is not divisible by numa_nodes = 2",
    ),
    # host types
    (
        "duplicate host type",
        [set_("host_types[1].host_type", "s6")],
        "catalog key host_types[1].host_type: duplicate host type 's6'",
    ),
    (
        "empty host type",
        [set_("host_types[1].host_type", "")],
        "catalog key host_types[1].host_type: must be a non-empty string",
    ),
    (
        "zero sockets",
        [set_("host_types[0].sockets", 0)],
        "catalog key host_types[0].sockets: must be an integer >= 1",
    ),
    (
        "zero cores",
        [set_("host_types[0].cores", 0)],
        "catalog key host_types[0].cores: must be an integer >= 1",
    ),
    (
        "zero host vcpus",
        [set_("host_types[0].vcpus", 0)],
        "catalog key host_types[0].vcpus: must be a positive integer",
    ),
    (
        "zero host memory",
        [set_("host_types[0].memory_mb", 0)],
        "catalog key host_types[0].memory_mb: must be a positive integer",
    ),
    (
        "host vcpus not divisible by sockets",
        [set_("host_types[0].vcpus", 81)],
        "catalog key host_types[0].vcpus: 81 is not divisible by sockets = 2",
    ),
    (
        "host memory not divisible by sockets",
        [set_("host_types[0].memory_mb", 327681)],
        "catalog key host_types[0].memory_mb: 327681 is not divisible by sockets = 2",
    ),
    (
        "no supported flavors",
        [set_("host_types[0].flavors", [])],
        "catalog key host_types[0].flavors: must list at least one",
    ),
    (
        "empty flavor pattern",
        [set_("host_types[0].flavors", ["s6.*", ""])],
        "catalog key host_types[0].flavors[1]: must be a non-empty string",
    ),
    (
        "pattern matching nothing",
        [set_("host_types[1].flavors", ["m6.large.8", "x9.*"])],
        "catalog key host_types[1].flavors[1]: 'x9.*' matches no flavor",
    ),
    (
        "flavor id matching nothing",
        [set_("host_types[1].flavors", ["m6.xlarge.8"])],
        "catalog key host_types[1].flavors[0]: 'm6.xlarge.8' matches no flavor",
    ),
    # public pool
    (
        "pool zone undeclared",
        [set_("public_pool[0].availability_zone", "test-1c")],
        "catalog key public_pool[0].availability_zone: 'test-1c' is not a declared availability",
    ),
    (
        "pool host type undeclared",
        [set_("public_pool[1].host_type", "c6")],
        "catalog key public_pool[1].host_type: 'c6' is not a declared host type",
    ),
    (
        "negative pool count",
        [set_("public_pool[0].count", -1)],
        "catalog key public_pool[0].count: must be a non-negative integer",
    ),
    (
        "zero allocation ratio",
        [set_("public_pool[0].cpu_allocation_ratio", 0)],
        "catalog key public_pool[0].cpu_allocation_ratio: must be a number > 0",
    ),
    (
        "negative allocation ratio",
        [set_("public_pool[0].cpu_allocation_ratio", -1.5)],
        "catalog key public_pool[0].cpu_allocation_ratio: must be a number > 0",
    ),
    (
        "duplicate pool pair",
        [append("public_pool", "public_pool[0]", count=7)],
        "catalog key public_pool[2]: duplicate pool for availability zone 'test-1a' and host "
        "type 's6' (already declared by public_pool[0])",
    ),
    # projects
    (
        "no projects",
        [set_("projects", [])],
        "catalog key projects: at least one project is required",
    ),
    (
        "project id uppercase",
        [set_("projects[0].id", DEMO_ID.upper())],
        "catalog key projects[0].id: '0F4B3C0E2A6D4E3F9A1B2C3D4E5F6A7B' is not 32 lowercase hex",
    ),
    ("project id short", [set_("projects[0].id", DEMO_ID[:-1])], "catalog key projects[0].id:"),
    ("project id non-hex", [set_("projects[0].id", "g" * 32)], "catalog key projects[0].id:"),
    (
        "duplicate project id",
        [set_("projects[1].id", DEMO_ID)],
        "catalog key projects[1].id: duplicate project id",
    ),
    (
        "empty project name",
        [set_("projects[0].name", "")],
        "catalog key projects[0].name: must be a non-empty string",
    ),
    (
        "duplicate project name",
        [set_("projects[1].name", "demo")],
        "catalog key projects[1].name: duplicate project name 'demo'",
    ),
    (
        "empty access key",
        [set_("projects[0].access_key", "")],
        "catalog key projects[0].access_key: must be a non-empty string",
    ),
    (
        "duplicate access key",
        [set_("projects[1].access_key", "AK1")],
        "catalog key projects[1].access_key: duplicate access key 'AK1'",
    ),
    (
        "empty secret key",
        [set_("projects[1].secret_key", "")],
        "catalog key projects[1].secret_key: must be a non-empty string",
    ),
    (
        "negative deh quota",
        [set_("projects[0].quotas.dedicated_hosts", -1)],
        "catalog key projects[0].quotas.dedicated_hosts: must be a non-negative integer",
    ),
    (
        "negative instance quota",
        [set_("projects[0].quotas.instances", -5)],
        "catalog key projects[0].quotas.instances: must be a non-negative integer",
    ),
    # driver
    (
        "libvirt driver without its table",
        [set_("driver.kind", "libvirt")],
        "catalog key driver.libvirt: driver.kind = 'libvirt' needs a [driver.libvirt] table",
    ),
    (
        "unknown driver",
        [set_("driver.kind", "xen")],
        "catalog key driver.kind: unknown driver 'xen'; must be 'simulated' or 'libvirt'",
    ),
    (
        "negative action seconds",
        [set_("driver.simulated.action_seconds", -0.5)],
        "catalog key driver.simulated.action_seconds: must be a non-negative number",
    ),
    (
        "negative copy speed",
        [set_("driver.simulated.disk_copy_mb_per_s", -1)],
        "catalog key driver.simulated.disk_copy_mb_per_s: must be a non-negative number",
    ),
    (
        "negative allocate seconds",
        [set_("driver.simulated.deh_allocate_seconds", -1.0)],
        "catalog key driver.simulated.deh_allocate_seconds: must be a non-negative number",
    ),
]


@pytest.mark.parametrize(
    ("mutations", "expected"),
    [pytest.param(m, e, id=name) for name, m, e in SEMANTIC_CASES],
)
def test_semantic_rule_violation_names_the_key(mutations: list[Mutation], expected: str) -> None:
    error = error_of(mutated(*mutations))
    assert expected in str(error)
    assert any(expected in p for p in error.problems)


def test_every_semantic_problem_is_reported_at_once() -> None:
    error = error_of(
        mutated(
            set_("region.id", ""),
            set_("flavors[0].vcpus", 0),
            set_("projects[1].access_key", "AK1"),
        )
    )
    assert len(error.problems) == 3
    assert str(error).startswith("<catalog>: 3 problems:\n")
    for key in ("region.id", "flavors[0].vcpus", "projects[1].access_key"):
        assert f"catalog key {key}:" in str(error)


def test_single_problem_message_format() -> None:
    error = error_of(mutated(set_("flavors[1].vcpus", 0)))
    assert error.problems == ("catalog key flavors[1].vcpus: must be a positive integer",)
    assert str(error) == "<catalog>: catalog key flavors[1].vcpus: must be a positive integer"
    with pytest.raises(CatalogError, match=r"^my\.toml: catalog key"):
        parse_catalog(mutated(set_("flavors[1].vcpus", 0)), source="my.toml")


# --------------------------------------------------------------------------------------------
# Shape and types.

TYPE_CASES: list[tuple[str, list[Mutation], str]] = [
    (
        "unknown top-level key",
        [set_("colour", "blue")],
        "catalog key colour: unknown key",
    ),
    (
        "unknown key in region",
        [set_("region.colour", "blue")],
        "catalog key region.colour: unknown key",
    ),
    (
        "unknown key in a flavor",
        [set_("flavors[2].gpus", 1)],
        "catalog key flavors[2].gpus: unknown key",
    ),
    (
        "unknown key in quotas",
        [set_("projects[0].quotas.volumes", 1)],
        "catalog key projects[0].quotas.volumes: unknown key",
    ),
    (
        "unknown key in driver.simulated",
        [set_("driver.simulated.speed", 1)],
        "catalog key driver.simulated.speed: unknown key",
    ),
    (
        "unknown key in driver.libvirt",
        [set_("driver.libvirt", {"uri": "qemu:///system"})],
        "catalog key driver.libvirt.uri: unknown key",
    ),
    ("missing region", [drop("region")], "catalog key region: required key is missing"),
    ("missing region id", [drop("region.id")], "catalog key region.id: required key is missing"),
    (
        "missing zones",
        [drop("availability_zones")],
        "catalog key availability_zones: required key is missing",
    ),
    ("missing projects", [drop("projects")], "catalog key projects: required key is missing"),
    (
        "missing flavor ram",
        [drop("flavors[0].ram_mb")],
        "catalog key flavors[0].ram_mb: required key is missing",
    ),
    (
        "missing host type name",
        [drop("host_types[0].host_type_name")],
        "catalog key host_types[0].host_type_name: required key is missing",
    ),
    (
        "string for integer",
        [set_("flavors[0].vcpus", "2")],
        "catalog key flavors[0].vcpus: must be an integer",
    ),
    (
        "float for integer",
        [set_("flavors[0].vcpus", 2.0)],
        "catalog key flavors[0].vcpus: must be an integer",
    ),
    (
        "bool for integer",
        [set_("public_pool[0].count", True)],
        "catalog key public_pool[0].count: must be an integer",
    ),
    (
        "integer for string",
        [set_("region.id", 1)],
        "catalog key region.id: must be a string",
    ),
    (
        "string for bool",
        [set_("projects[0].admin", "yes")],
        "catalog key projects[0].admin: must be a boolean",
    ),
    (
        "string for float",
        [set_("driver.simulated.action_seconds", "2.0")],
        "catalog key driver.simulated.action_seconds: must be a number",
    ),
    (
        "bool for float",
        [set_("public_pool[0].cpu_allocation_ratio", True)],
        "catalog key public_pool[0].cpu_allocation_ratio: must be a number",
    ),
    (
        "infinite float",
        [set_("public_pool[0].cpu_allocation_ratio", math.inf)],
        "catalog key public_pool[0].cpu_allocation_ratio: must be a finite number",
    ),
    (
        "string for pattern list",
        [set_("host_types[0].flavors", "s6.*")],
        "catalog key host_types[0].flavors: must be an array",
    ),
    (
        "integer in pattern list",
        [set_("host_types[0].flavors", ["s6.*", 6])],
        "catalog key host_types[0].flavors[1]: must be a string",
    ),
    (
        "table expected",
        [set_("region", "local-1")],
        "catalog key region: must be a table",
    ),
    (
        "array of tables expected",
        [set_("flavors", {"id": "s6.large.2"})],
        "catalog key flavors: must be an array",
    ),
    (
        "table in array expected",
        [set_("projects", ["demo"])],
        "catalog key projects[0]: must be a table",
    ),
]


@pytest.mark.parametrize(
    ("mutations", "expected"),
    [pytest.param(m, e, id=name) for name, m, e in TYPE_CASES],
)
def test_type_and_shape_problem_names_the_key(mutations: list[Mutation], expected: str) -> None:
    error = error_of(mutated(*mutations))
    assert any(expected in p for p in error.problems), error.problems


def test_unknown_keys_in_hand_written_toml() -> None:
    text = DEFAULT_CATALOG_PATH.read_text(encoding="utf-8")
    text = text.replace('[region]\nid = "local-1"\n', '[region]\nid = "local-1"\ncolour = "x"\n')
    text = "motd = 'hi'\n" + text
    error = error_of(text)
    assert set(error.problems) == {
        "catalog key motd: unknown key",
        "catalog key region.colour: unknown key",
    }


def test_every_type_problem_is_reported_at_once() -> None:
    error = error_of(
        mutated(set_("region.colour", 1), set_("flavors[1].vcpus", "x"), drop("projects[0].name"))
    )
    assert set(error.problems) == {
        "catalog key region.colour: unknown key",
        "catalog key flavors[1].vcpus: must be an integer",
        "catalog key projects[0].name: required key is missing",
    }


# --------------------------------------------------------------------------------------------
# TOML syntax and files.


def test_toml_syntax_error_gives_the_line() -> None:
    text = '[region]\nid = "local-1"\nthis is not toml\n'
    error = error_of(text)
    assert "TOML syntax error" in str(error)
    assert "line 3" in str(error)


def test_toml_syntax_error_in_a_file_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text("[region\n", encoding="utf-8")
    with pytest.raises(CatalogError, match=r"bad\.toml: TOML syntax error.*line 1") as info:
        load_catalog(path)
    assert isinstance(info.value.__cause__, tomllib.TOMLDecodeError)


def test_missing_file_names_the_path(tmp_path: Path) -> None:
    path = tmp_path / "nowhere" / "catalog.toml"
    with pytest.raises(CatalogError) as info:
        load_catalog(path)
    assert str(path) in str(info.value)
    assert "cannot read catalog file" in str(info.value)
    assert info.value.source == str(path)


def test_directory_is_not_a_catalog(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match="cannot read catalog file"):
        load_catalog(tmp_path)


def test_non_utf8_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "latin1.toml"
    path.write_bytes(b'[region]\nid = "r\xe9gion"\n')
    with pytest.raises(CatalogError, match="not valid UTF-8"):
        load_catalog(path)


def test_load_catalog_from_a_file_accepts_str_and_path(tmp_path: Path) -> None:
    path = tmp_path / "catalog.toml"
    path.write_text(mutated(), encoding="utf-8")
    assert load_catalog(path) == load_catalog(str(path)) == parse_catalog(mutated())


def test_errors_in_a_file_name_the_file(tmp_path: Path) -> None:
    path = tmp_path / "catalog.toml"
    path.write_text(mutated(set_("region.colour", "x")), encoding="utf-8")
    with pytest.raises(CatalogError) as info:
        load_catalog(path)
    assert str(info.value) == f"{path}: catalog key region.colour: unknown key"
