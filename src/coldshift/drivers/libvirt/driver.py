"""The libvirt driver: every operation of the driver port on real hosts (libvirt.md).

A server is a domain named by its id whose disks are raw volumes (``<volume id>.img``) in the
storage pool of its host. Every operation is idempotent, because a job may run a step again
after a crash at any instant: a volume found half-written is written again from the start, a
domain defined again with the same uuid is replaced, a domain or volume already gone is
success. Each libvirt call is bounded in time (``links``); a disk copy is bounded by how long
it may go without moving a byte (``streams``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import libvirt
from coldshift.domain.catalog import Catalog, LibvirtSettings, Machine, MachineUse
from coldshift.drivers.base import (
    CopyProgress,
    DiskSpec,
    DriverError,
    GuestSpec,
    HostRefused,
    HostStatus,
    NoFreeMachines,
    Spot,
)
from coldshift.drivers.libvirt.domain_xml import domain_xml, volume_name
from coldshift.drivers.libvirt.links import FAULT_CODE, HostLink, error_code
from coldshift.drivers.libvirt.relay import copy_in_child
from coldshift.drivers.libvirt.streams import StreamFailed
from coldshift.drivers.libvirt.topology import HostTopology, parse_capabilities

log = logging.getLogger(__name__)

GIB = 1024**3
_POLL_SECONDS = 0.1
#: where a storage pool that coldshift creates keeps its volumes, unless the host says
DEFAULT_POOL_ROOT = "/var/lib/coldshift/pools"


class LibvirtDriver:
    def __init__(self, settings: LibvirtSettings, catalog: Catalog) -> None:
        self._settings = settings
        self._catalog = catalog
        self._machines = {m.name: m for m in settings.hosts}
        timeout = settings.call_timeout_seconds
        self._links = {m.name: HostLink(m.name, m.uri, timeout) for m in settings.hosts}
        self._topologies: dict[str, HostTopology] = {}
        self._unreachable: set[str] = set()
        self._statuses: list[HostStatus] = []

    # ---- start-up ----------------------------------------------------------------------

    def probe(self) -> list[HostStatus]:
        """Read every host's NUMA cells and make sure its storage pool is there. A host that
        does not answer is reported (and left out of DeH allocation); one with fewer cells
        than its type's sockets raises HostRefused."""
        with ThreadPoolExecutor(max_workers=16, thread_name_prefix="libvirt-probe") as probes:
            statuses = list(probes.map(self._probe, self._settings.hosts))
        self._unreachable = {s.name for s in statuses if not s.reachable}
        self._statuses = statuses
        return statuses

    def host_statuses(self) -> list[HostStatus]:
        return list(self._statuses)

    def _probe(self, machine: Machine) -> HostStatus:
        try:
            topology = self._topology(machine.name)
            self._link(machine.name).call("prepare the storage pool", self._ensure_pool(machine))
        except DriverError as exc:
            log.warning("host %s is unavailable: %s", machine.name, exc.reason)
            return _status(machine, False, reason=exc.reason)
        host_type = self._catalog.host_type(machine.host_type)
        assert host_type is not None, "the catalog loader checks host types"
        if len(topology.cells) < host_type.sockets:
            raise HostRefused(
                f"host {machine.name} has {len(topology.cells)} NUMA cell(s) but its type "
                f"{machine.host_type} has {host_type.sockets} sockets: fix its host_type"
            )
        return _status(machine, True, cells=len(topology.cells))

    def _ensure_pool(self, machine: Machine) -> Callable[[Any], None]:
        name = self._settings.storage_pool
        path = machine.pool_path or f"{DEFAULT_POOL_ROOT}/{name}"

        def ensure(conn: Any) -> None:
            try:
                pool = conn.storagePoolLookupByName(name)
            except libvirt.libvirtError as exc:
                if error_code(exc) != libvirt.VIR_ERR_NO_STORAGE_POOL:
                    raise
                pool = conn.storagePoolDefineXML(_pool_xml(name, path), 0)
                pool.build(0)
                pool.setAutostart(1)
            if not pool.isActive():
                pool.create(0)

        return ensure

    # ---- inventory ---------------------------------------------------------------------

    def allocate_machines(
        self, host_type: str, availability_zone: str, quantity: int, in_use: Collection[str]
    ) -> list[str | None]:
        free = [
            m.name
            for m in self._settings.hosts
            if m.use is MachineUse.DEH
            and (m.host_type, m.availability_zone) == (host_type, availability_zone)
            and m.name not in in_use
            and m.name not in self._unreachable
        ]
        if len(free) < quantity:
            raise NoFreeMachines(len(free))
        return list(free[:quantity])

    # ---- the guest's life --------------------------------------------------------------

    def boot(self, guest: GuestSpec) -> None:
        # Volumes come before the definition: a guest already defined (a boot run again after
        # a crash) has all its disks, and may be running on them, so they are kept.
        link = self._link(guest.host_name)
        if link.call("look up", lambda conn: _domain(conn, guest.server_id)) is None:
            for disk in guest.disks:
                self._fresh_volume(guest.host_name, disk, self._image(guest, disk))
            self._define(guest.host_name, guest, guest.numa_nodes)
        self.power_on(guest)

    def power_on(self, guest: GuestSpec) -> None:
        def start(conn: Any) -> None:
            domain = _domain(conn, guest.server_id, required=True)
            if not domain.isActive():
                domain.create()

        self._link(guest.host_name).call(f"start {guest.server_id}", start)

    def power_off(self, guest: GuestSpec, *, forced: bool = False) -> None:
        """ACPI shutdown; the guest is destroyed if it has not stopped after the bounded wait
        (at once when ``forced``: a HARD stop)."""
        link = self._link(guest.host_name)
        if forced:
            link.call(f"destroy {guest.server_id}", lambda conn: _destroy(conn, guest.server_id))
            return
        if not link.call("shut down", lambda conn: _shut_down(conn, guest.server_id)):
            return
        deadline = time.monotonic() + self._settings.shutdown_seconds
        while time.monotonic() < deadline:
            if not link.call("read state", lambda conn: _is_active(conn, guest.server_id)):
                return
            time.sleep(_POLL_SECONDS)
        log.info(
            "guest %s did not stop in %g s: destroyed",
            guest.server_id,
            self._settings.shutdown_seconds,
        )
        link.call(f"destroy {guest.server_id}", lambda conn: _destroy(conn, guest.server_id))

    def reboot(self, guest: GuestSpec, *, forced: bool = False) -> None:
        def reboot(conn: Any) -> None:
            domain = _domain(conn, guest.server_id, required=True)
            if not domain.isActive():
                domain.create()
            elif forced:  # a HARD reboot: reset, as the reset button does
                domain.reset(0)
            else:
                domain.reboot(0)

        self._link(guest.host_name).call(f"reboot {guest.server_id}", reboot)

    def destroy(self, guest: GuestSpec) -> None:
        """Delete the guest: stopped at once, undefined, its volumes deleted."""
        self._remove(guest.host_name, guest)

    # ---- a cold migration --------------------------------------------------------------

    def copy_disks(self, guest: GuestSpec, target: Spot, progress: CopyProgress) -> None:
        source_link, target_link = self._link(guest.host_name), self._link(target.host_name)
        sizes = [self._volume_size(guest.host_name, disk) for disk in guest.disks]
        tally = _Tally(sum(sizes), progress)
        for disk, size in zip(guest.disks, sizes, strict=True):
            self._fresh_volume(target.host_name, disk, size_bytes=size)
            self._copy(disk, source_link, target_link, tally.counter(size))
            tally.complete()
        for disk, size in zip(guest.disks, sizes, strict=True):
            found = self._volume_size(target.host_name, disk)
            if found != size:
                raise DriverError(
                    FAULT_CODE,
                    f"host {target.host_name}: volume {volume_name(disk)} is {found} bytes "
                    f"after the copy, {size} expected",
                )

    def define_on_target(self, guest: GuestSpec, target: Spot) -> None:
        self._define(target.host_name, guest, target.numa_nodes)

    def cleanup_source(self, guest: GuestSpec) -> None:
        """Undefine the guest on the source; its disks stay until the migration is confirmed."""
        self._link(guest.host_name).call(
            f"undefine {guest.server_id}", lambda conn: _undefine(conn, guest.server_id)
        )

    def restore_source(self, guest: GuestSpec) -> None:
        self._define(guest.host_name, guest, guest.numa_nodes)

    def discard_target(self, guest: GuestSpec, target: Spot) -> None:
        self._remove(target.host_name, guest)

    def confirm_migration(self, guest: GuestSpec) -> None:
        self._remove(guest.host_name, guest)

    # ---- helpers -----------------------------------------------------------------------

    def _link(self, host: str) -> HostLink:
        link = self._links.get(host)
        if link is None:
            raise DriverError(FAULT_CODE, f"host {host} is not in the catalog's libvirt hosts")
        return link

    def _topology(self, host: str) -> HostTopology:
        topology = self._topologies.get(host)
        if topology is None:
            xml = self._link(host).call("read capabilities", lambda conn: conn.getCapabilities())
            topology = self._topologies[host] = parse_capabilities(xml)
        return topology

    def _define(self, host: str, guest: GuestSpec, nodes: tuple[int, ...]) -> None:
        xml = domain_xml(guest, nodes, self._topology(host), self._settings.storage_pool)
        self._link(host).call(f"define {guest.server_id}", lambda conn: conn.defineXML(xml))

    def _remove(self, host: str, guest: GuestSpec) -> None:
        """The guest and its volumes gone from ``host``; what is already gone is skipped."""

        def remove(conn: Any) -> None:
            _destroy(conn, guest.server_id)
            _undefine(conn, guest.server_id)
            pool = conn.storagePoolLookupByName(self._settings.storage_pool)
            for disk in guest.disks:
                volume = _volume(pool, volume_name(disk))
                if volume is not None:
                    volume.delete(0)

        self._link(host).call(f"delete {guest.server_id}", remove)

    def _fresh_volume(
        self, host: str, disk: DiskSpec, image: Path | None = None, size_bytes: int | None = None
    ) -> None:
        """An empty volume for ``disk`` (or holding ``image``); one left by an earlier try is
        replaced, as it may be half-written."""
        size = size_bytes if size_bytes is not None else disk.size_gb * GIB
        name, pool_name = volume_name(disk), self._settings.storage_pool

        def create(conn: Any) -> None:
            pool = conn.storagePoolLookupByName(pool_name)
            old = _volume(pool, name)
            if old is not None:
                old.delete(0)
            pool.createXML(_volume_xml(name, size), 0)

        self._link(host).call(f"create volume {name}", create)
        if image is not None:
            self._upload_image(host, disk, image)

    def _upload_image(self, host: str, disk: DiskSpec, image: Path) -> None:
        name, pool_name = volume_name(disk), self._settings.storage_pool

        def upload(conn: Any) -> None:
            volume = conn.storagePoolLookupByName(pool_name).storageVolLookupByName(name)
            stream = conn.newStream(0)
            volume.upload(stream, 0, image.stat().st_size, 0)
            with image.open("rb") as data:
                stream.sendAll(lambda _stream, count, _opaque: data.read(count), None)
            stream.finish()

        self._link(host).call(f"copy image {image.name} into {name}", upload)

    def _image(self, guest: GuestSpec, disk: DiskSpec) -> Path | None:
        """The base image of the root disk, when image_dir has a file named like image_ref."""
        if not self._settings.image_dir or not guest.disks or disk != guest.disks[0]:
            return None
        path = Path(self._settings.image_dir) / guest.image_ref
        return path if path.is_file() else None

    def _volume_size(self, host: str, disk: DiskSpec) -> int:
        name, pool_name = volume_name(disk), self._settings.storage_pool

        def size(conn: Any) -> int:
            volume = _volume(conn.storagePoolLookupByName(pool_name), name)
            if volume is None:
                raise DriverError(FAULT_CODE, f"host {host}: volume {name} is missing")
            return int(volume.info()[1])

        return self._link(host).call(f"read volume {name}", size)

    def _copy(
        self, disk: DiskSpec, source: HostLink, target: HostLink, moved: Callable[[int], None]
    ) -> None:
        """Stream one volume, in a process of its own (``relay``: not in this one's GIL)."""
        name = volume_name(disk)
        try:
            copy_in_child(
                source.uri,
                target.uri,
                self._settings.storage_pool,
                name,
                progress=moved,
                stall_seconds=self._settings.copy_stall_seconds,
            )
        except StreamFailed as exc:
            failed = source if exc.side == "source" else target
            failed.drop()
            raise DriverError(
                FAULT_CODE, f"host {failed.name}: copying {name} failed: {exc}", transient=True
            ) from exc


def _status(machine: Machine, reachable: bool, cells: int = 0, reason: str = "") -> HostStatus:
    return HostStatus(
        machine.name,
        machine.availability_zone,
        machine.host_type,
        machine.use.value,
        reachable,
        cells,
        reason,
    )


class _Tally:
    """Bytes copied over all of a guest's volumes, for the caller's progress."""

    def __init__(self, total: int, progress: CopyProgress) -> None:
        self.total, self.done, self._end, self._progress = total, 0, 0, progress
        progress(0, total)

    def counter(self, size: int) -> Callable[[int], None]:
        """Counts the bytes of the next volume (of ``size`` bytes) as the copy moves them."""
        self._end = self.done + size

        def moved(count: int) -> None:
            self.done = min(self._end, self.done + count)
            self._progress(self.done, self.total)

        return moved

    def complete(self) -> None:
        self.done = self._end
        self._progress(self.done, self.total)


def _pool_xml(name: str, path: str) -> str:
    return f"<pool type='dir'><name>{name}</name><target><path>{path}</path></target></pool>"


def _volume_xml(name: str, size: int) -> str:
    return (
        f"<volume><name>{name}</name><capacity unit='bytes'>{size}</capacity>"
        "<allocation unit='bytes'>0</allocation><target><format type='raw'/></target></volume>"
    )


def _volume(pool: Any, name: str) -> Any:
    try:
        return pool.storageVolLookupByName(name)
    except libvirt.libvirtError as exc:
        if error_code(exc) == libvirt.VIR_ERR_NO_STORAGE_VOL:
            return None
        raise


def _domain(conn: Any, server_id: str, *, required: bool = False) -> Any:
    try:
        return conn.lookupByUUIDString(server_id)
    except libvirt.libvirtError as exc:
        if error_code(exc) == libvirt.VIR_ERR_NO_DOMAIN and not required:
            return None
        raise


def _is_active(conn: Any, server_id: str) -> bool:
    domain = _domain(conn, server_id)
    return domain is not None and bool(domain.isActive())


def _shut_down(conn: Any, server_id: str) -> bool:
    """Ask a running guest to stop; False when it is not running (nothing to wait for)."""
    domain = _domain(conn, server_id)
    if domain is None or not domain.isActive():
        return False
    domain.shutdown()
    return True


def _destroy(conn: Any, server_id: str) -> None:
    domain = _domain(conn, server_id)
    if domain is not None and domain.isActive():
        domain.destroy()


def _undefine(conn: Any, server_id: str) -> None:
    domain = _domain(conn, server_id)
    if domain is not None:
        domain.undefineFlags(libvirt.VIR_DOMAIN_UNDEFINE_NVRAM)
