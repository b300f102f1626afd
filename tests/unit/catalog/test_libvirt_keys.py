"""The catalog's [driver.libvirt] section (libvirt.md): keys, rules and the region it makes."""

from __future__ import annotations

from typing import Any

import pytest

from coldshift.catalog import CatalogError, parse_catalog
from coldshift.domain.catalog import MachineUse
from tests.unit.catalog.test_catalog import base_data, to_toml


def libvirt_data(**section: Any) -> dict[str, Any]:
    data = base_data()
    del data["public_pool"]
    data["driver"] = {
        "kind": "libvirt",
        "libvirt": {
            "storage_pool": "coldshift",
            "hosts": [
                _host("kvm-a01", "pool"),
                _host("kvm-a02", "pool"),
                _host("kvm-b01", "deh", az="test-1b"),
            ],
            **section,
        },
    }
    return data


def _host(name: str, use: str, az: str = "test-1a", host_type: str = "s6") -> dict[str, Any]:
    return {
        "name": name,
        "uri": f"qemu+ssh://root@{name}/system",
        "availability_zone": az,
        "host_type": host_type,
        "use": use,
    }


def problems_of(data: dict[str, Any]) -> tuple[str, ...]:
    with pytest.raises(CatalogError) as caught:
        parse_catalog(to_toml(data))
    return caught.value.problems


def test_the_pool_hosts_become_the_public_pool_by_zone_and_type() -> None:
    catalog = parse_catalog(to_toml(libvirt_data()))
    (pool,) = catalog.public_pool
    assert (pool.availability_zone, pool.host_type) == ("test-1a", "s6")
    assert pool.host_names() == ["kvm-a01", "kvm-a02"]
    settings = catalog.driver.libvirt
    assert settings is not None
    assert [m.name for m in settings.hosts if m.use is MachineUse.DEH] == ["kvm-b01"]
    assert settings.machine("kvm-b01") is not None and settings.machine("nope") is None
    assert settings.shutdown_seconds > 0 and settings.image_dir == ""


def test_a_libvirt_region_with_a_public_pool_as_well_is_refused_naming_the_keys() -> None:
    data = libvirt_data()
    data["public_pool"] = [{"availability_zone": "test-1a", "host_type": "s6", "count": 2}]
    (problem,) = problems_of(data)
    assert problem.startswith("catalog key public_pool: a libvirt region's public pool is its")


def test_every_bad_host_key_is_named() -> None:
    data = libvirt_data()
    hosts = data["driver"]["libvirt"]["hosts"]
    hosts[1]["name"] = "kvm-a01"
    hosts[2].update(availability_zone="mars-1a", host_type="z9", use="spare", uri=" ")
    assert problems_of(data) == (
        "catalog key driver.libvirt.hosts[1].name: duplicate host name 'kvm-a01' "
        "(already used by driver.libvirt.hosts[0].name)",
        "catalog key driver.libvirt.hosts[2].uri: must be a libvirt URI, "
        "e.g. 'qemu+ssh://root@kvm-a01/system'",
        "catalog key driver.libvirt.hosts[2].availability_zone: 'mars-1a' is not a declared "
        "availability zone",
        "catalog key driver.libvirt.hosts[2].host_type: 'z9' is not a declared host type",
        "catalog key driver.libvirt.hosts[2].use: 'spare' must be one of 'pool', 'deh'",
    )


def test_a_libvirt_section_needs_hosts_and_positive_bounds() -> None:
    data = libvirt_data(hosts=[], shutdown_seconds=0, storage_pool="")
    assert problems_of(data) == (
        "catalog key driver.libvirt.storage_pool: must be a non-empty string",
        "catalog key driver.libvirt.shutdown_seconds: must be a number > 0",
        "catalog key driver.libvirt.hosts: at least one [[driver.libvirt.hosts]] is needed",
    )


def test_a_libvirt_section_under_the_simulated_driver_is_refused() -> None:
    data = libvirt_data()
    data["driver"]["kind"] = "simulated"
    data["public_pool"] = []
    (problem,) = problems_of(data)
    assert problem == (
        "catalog key driver.libvirt: is set but driver.kind is 'simulated'; set kind = 'libvirt'"
    )


def test_an_unknown_host_key_is_named() -> None:
    data = libvirt_data()
    data["driver"]["libvirt"]["hosts"][0]["ssh_key"] = "x"
    (problem,) = problems_of(data)
    assert problem == "catalog key driver.libvirt.hosts[0].ssh_key: unknown key"
