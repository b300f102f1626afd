"""What a host's capabilities say about it: its NUMA cells and their CPUs, and whether guests
can use KVM there (libvirt.md: "NUMA comes from the host as well as the type")."""

from __future__ import annotations

from dataclasses import dataclass
from xml.etree import ElementTree


@dataclass(frozen=True, slots=True)
class HostTopology:
    #: NUMA cell id → the host CPU ids of that cell
    cells: dict[int, tuple[int, ...]]
    #: "kvm" where the host offers it, else "qemu" (TCG, as on a machine without /dev/kvm)
    domain_type: str
    arch: str

    def cpus_of(self, cells: tuple[int, ...]) -> tuple[int, ...]:
        return tuple(cpu for cell in cells for cpu in self.cells[cell])


class TopologyError(Exception):
    """The capabilities XML cannot be understood."""


def parse_capabilities(xml: str) -> HostTopology:
    root = ElementTree.fromstring(xml)
    arch = root.findtext("host/cpu/arch") or "x86_64"
    cells: dict[int, tuple[int, ...]] = {}
    for cell in root.iterfind("host/topology/cells/cell"):
        cpus = tuple(
            int(cpu.attrib["id"]) for cell_cpus in cell.iterfind("cpus") for cpu in cell_cpus
        )
        cells[int(cell.attrib["id"])] = cpus
    if not cells:
        raise TopologyError("the host's capabilities list no NUMA cell")
    return HostTopology(cells, _domain_type(root, arch), arch)


def _domain_type(root: ElementTree.Element, arch: str) -> str:
    types = {
        domain.attrib.get("type", "")
        for guest in root.iterfind("guest")
        if guest.findtext("os_type") == "hvm"
        for guest_arch in guest.iterfind("arch")
        if guest_arch.attrib.get("name") == arch
        for domain in guest_arch.iterfind("domain")
    }
    return "kvm" if "kvm" in types else "qemu"


def cpu_list(cpus: tuple[int, ...]) -> str:
    """Host CPU ids in libvirt's cpuset syntax, runs folded: (0, 1, 2, 5) → "0-2,5"."""
    runs: list[list[int]] = []
    for cpu in sorted(set(cpus)):
        if runs and cpu == runs[-1][-1] + 1:
            runs[-1].append(cpu)
        else:
            runs.append([cpu])
    return ",".join(f"{run[0]}-{run[-1]}" if len(run) > 1 else str(run[0]) for run in runs)
