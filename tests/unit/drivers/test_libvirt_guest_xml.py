"""The libvirt driver's reading of capabilities and its guest definition (libvirt.md), against
captured capabilities: this machine's one-cell TCG host and a two-socket KVM host."""

from __future__ import annotations

from pathlib import Path
from xml.etree import ElementTree

import pytest

from coldshift.drivers.base import DiskSpec, GuestSpec
from coldshift.drivers.libvirt.domain_xml import METADATA_NS, domain_xml, volume_name
from coldshift.drivers.libvirt.topology import (
    HostTopology,
    TopologyError,
    cpu_list,
    parse_capabilities,
)

DATA = Path(__file__).with_name("data")
SERVER = "5a1f3c2e-8b7d-4e6f-9a0b-1c2d3e4f5a6b"
DISKS = (DiskSpec("0f0e0d0c-0b0a-4909-8807-060504030201", 40), DiskSpec("aa11-data", 10))


def capabilities(name: str) -> HostTopology:
    return parse_capabilities((DATA / name).read_text())


def guest(vcpus: int = 4, memory_mb: int = 8192) -> GuestSpec:
    return GuestSpec(
        SERVER,
        "kvm-a01",
        vcpus,
        memory_mb,
        50,
        name="db-node",
        project_id="0f4b3c0e2a6d4e3f9a1b2c3d4e5f6a7b",
        flavor_id="s6.xlarge.2",
        disks=DISKS,
    )


def test_a_two_socket_host_has_two_cells_of_interleaved_cpus_and_offers_kvm() -> None:
    topology = capabilities("capabilities-two-cells-kvm.xml")
    assert topology.cells == {0: (0, 2, 4, 6, 8, 10, 12, 14), 1: (1, 3, 5, 7, 9, 11, 13, 15)}
    assert (topology.domain_type, topology.arch) == ("kvm", "x86_64")


def test_this_machine_has_one_cell_and_tcg_only() -> None:
    topology = capabilities("capabilities-one-cell-tcg.xml")
    assert list(topology.cells) == [0] and len(topology.cells[0]) >= 1
    assert topology.domain_type == "qemu"


def test_capabilities_without_cells_are_refused() -> None:
    with pytest.raises(TopologyError):
        parse_capabilities(
            "<capabilities><host><cpu><arch>x86_64</arch></cpu></host></capabilities>"
        )


@pytest.mark.parametrize(
    ("cpus", "text"),
    [((0, 1, 2, 5), "0-2,5"), ((3,), "3"), ((4, 2, 0), "0,2,4"), ((1, 2, 3, 10, 11), "1-3,10-11")],
)
def test_cpu_lists_fold_runs(cpus: tuple[int, ...], text: str) -> None:
    assert cpu_list(cpus) == text


def test_a_one_node_guest_is_pinned_to_the_cpus_and_memory_of_its_cell() -> None:
    topology = capabilities("capabilities-two-cells-kvm.xml")
    domain = ElementTree.fromstring(domain_xml(guest(), (1,), topology, "coldshift"))
    assert domain.get("type") == "kvm"
    assert domain.findtext("name") == domain.findtext("uuid") == SERVER
    assert domain.findtext("title") == "db-node"
    vcpu = domain.find("vcpu")
    assert vcpu is not None and (vcpu.text, vcpu.get("cpuset")) == ("4", "1,3,5,7,9,11,13,15")
    memory = domain.find("numatune/memory")
    assert memory is not None and (memory.get("mode"), memory.get("nodeset")) == ("strict", "1")
    assert domain.find("cpu/numa") is None
    assert domain.findtext("memory") == "8192" and domain.find("memory").get("unit") == "MiB"  # type: ignore[union-attr]


def test_a_two_node_guest_has_a_cell_per_host_node_each_pinned_there() -> None:
    topology = capabilities("capabilities-two-cells-kvm.xml")
    domain = ElementTree.fromstring(
        domain_xml(guest(vcpus=8, memory_mb=16384), (0, 1), topology, "p")
    )
    cells = [
        (c.get("id"), c.get("cpus"), c.get("memory")) for c in domain.iterfind("cpu/numa/cell")
    ]
    assert cells == [("0", "0-3", "8192"), ("1", "4-7", "8192")]
    pins = {int(p.get("vcpu", "")): p.get("cpuset") for p in domain.iterfind("cputune/vcpupin")}
    assert pins == {v: "0,2,4,6,8,10,12,14" if v < 4 else "1,3,5,7,9,11,13,15" for v in range(8)}
    memnodes = [(m.get("cellid"), m.get("nodeset")) for m in domain.iterfind("numatune/memnode")]
    assert memnodes == [("0", "0"), ("1", "1")]


def test_disks_are_virtio_volumes_of_the_pool_with_their_volume_id_as_serial() -> None:
    topology = capabilities("capabilities-one-cell-tcg.xml")
    domain = ElementTree.fromstring(domain_xml(guest(), (0,), topology, "coldshift"))
    disks = [
        (d.find("source").get("pool"), d.find("source").get("volume"), d.find("target").get("dev"),  # type: ignore[union-attr]
         d.find("target").get("bus"), d.findtext("serial"))  # type: ignore[union-attr]
        for d in domain.iterfind("devices/disk")
    ]  # fmt: skip
    assert disks == [
        ("coldshift", volume_name(DISKS[0]), "vda", "virtio", DISKS[0].volume_id),
        ("coldshift", volume_name(DISKS[1]), "vdb", "virtio", DISKS[1].volume_id),
    ]
    assert domain.get("type") == "qemu"


def test_the_metadata_says_what_the_guest_is() -> None:
    topology = capabilities("capabilities-one-cell-tcg.xml")
    domain = ElementTree.fromstring(domain_xml(guest(), (0,), topology, "coldshift"))
    instance = domain.find(f"metadata/{{{METADATA_NS}}}instance")
    assert instance is not None
    values = {child.tag.split("}")[1]: child.text for child in instance}
    assert values == {
        "server": SERVER,
        "project": "0f4b3c0e2a6d4e3f9a1b2c3d4e5f6a7b",
        "flavor": "s6.xlarge.2",
    }
