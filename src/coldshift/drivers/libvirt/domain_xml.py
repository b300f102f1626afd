"""The guest definition (libvirt.md, "The guest definition"): a server as a libvirt domain,
pinned to the host NUMA node(s) that placement chose."""

from __future__ import annotations

from xml.etree import ElementTree
from xml.etree.ElementTree import Element, SubElement

from coldshift.drivers.base import DiskSpec, GuestSpec
from coldshift.drivers.libvirt.topology import HostTopology, cpu_list

#: the namespace of coldshift's <metadata> element, so `virsh dumpxml` shows what a guest is
METADATA_NS = "https://coldshift.dev/xmlns/guest/1"


def volume_name(disk: DiskSpec) -> str:
    """A disk's volume in the host's storage pool (the same on every host it lives on)."""
    return f"{disk.volume_id}.img"


def domain_xml(
    guest: GuestSpec, nodes: tuple[int, ...], topology: HostTopology, storage_pool: str
) -> str:
    """The domain of ``guest`` on a host of ``topology``, pinned to its cells ``nodes``."""
    domain = Element("domain", type=topology.domain_type)
    SubElement(domain, "name").text = guest.server_id
    SubElement(domain, "uuid").text = guest.server_id
    SubElement(domain, "title").text = guest.name or guest.server_id
    _metadata(domain, guest)
    SubElement(domain, "memory", unit="MiB").text = str(guest.memory_mb)
    if len(nodes) == 1:
        _pin_to_one_node(domain, guest, nodes[0], topology)
    else:
        _split_over_nodes(domain, guest, nodes, topology)
    os_ = SubElement(domain, "os")
    SubElement(os_, "type", arch=topology.arch, machine="pc").text = "hvm"
    SubElement(os_, "boot", dev="hd")
    SubElement(SubElement(domain, "features"), "acpi")
    SubElement(domain, "on_poweroff").text = "destroy"
    SubElement(domain, "on_reboot").text = "restart"
    SubElement(domain, "on_crash").text = "destroy"
    _devices(domain, guest, storage_pool)
    return ElementTree.tostring(domain, encoding="unicode")


def _metadata(domain: Element, guest: GuestSpec) -> None:
    ElementTree.register_namespace("coldshift", METADATA_NS)
    instance = SubElement(SubElement(domain, "metadata"), f"{{{METADATA_NS}}}instance")
    for key, value in (
        ("server", guest.server_id),
        ("project", guest.project_id),
        ("flavor", guest.flavor_id),
    ):
        SubElement(instance, f"{{{METADATA_NS}}}{key}").text = value


def _pin_to_one_node(domain: Element, guest: GuestSpec, node: int, topology: HostTopology) -> None:
    cpuset = cpu_list(topology.cpus_of((node,)))
    SubElement(domain, "vcpu", placement="static", cpuset=cpuset).text = str(guest.vcpus)
    SubElement(SubElement(domain, "numatune"), "memory", mode="strict", nodeset=str(node))


def _split_over_nodes(
    domain: Element, guest: GuestSpec, nodes: tuple[int, ...], topology: HostTopology
) -> None:
    """A guest NUMA cell per host node, its vCPUs and memory pinned there (numa_nodes = 2)."""
    SubElement(domain, "vcpu", placement="static").text = str(guest.vcpus)
    per_cell_vcpus = guest.vcpus // len(nodes)
    per_cell_memory = guest.memory_mb // len(nodes)
    cputune = SubElement(domain, "cputune")
    for cell, node in enumerate(nodes):
        cpuset = cpu_list(topology.cpus_of((node,)))
        for vcpu in range(cell * per_cell_vcpus, (cell + 1) * per_cell_vcpus):
            SubElement(cputune, "vcpupin", vcpu=str(vcpu), cpuset=cpuset)
    numa = SubElement(SubElement(domain, "cpu"), "numa")
    for cell in range(len(nodes)):
        first = cell * per_cell_vcpus
        SubElement(
            numa,
            "cell",
            id=str(cell),
            cpus=f"{first}-{first + per_cell_vcpus - 1}",
            memory=str(per_cell_memory),
            unit="MiB",
        )
    numatune = SubElement(domain, "numatune")
    nodeset = ",".join(str(node) for node in nodes)
    SubElement(numatune, "memory", mode="strict", nodeset=nodeset)
    for cell, node in enumerate(nodes):
        SubElement(numatune, "memnode", cellid=str(cell), mode="strict", nodeset=str(node))


def _devices(domain: Element, guest: GuestSpec, storage_pool: str) -> None:
    devices = SubElement(domain, "devices")
    for index, disk in enumerate(guest.disks):
        element = SubElement(devices, "disk", type="volume", device="disk")
        SubElement(element, "driver", name="qemu", type="raw")
        SubElement(element, "source", pool=storage_pool, volume=volume_name(disk))
        SubElement(element, "target", dev=f"vd{chr(ord('a') + index)}", bus="virtio")
        SubElement(element, "serial").text = disk.volume_id
    SubElement(devices, "memballoon", model="none")
