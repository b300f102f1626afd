"""A coldshift region over real libvirt daemons (libvirt.md, "How it is tested").

Each physical host is a session ``libvirtd`` of its own (``coldshift.testing.hypervisors``);
the catalog points at their sockets; a real ``coldshift serve`` drives them, and the tests
speak to it through the official SDK, and look at the hosts through libvirt and the files of
their storage pools.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

from coldshift.testing.hypervisors import (
    SessionDaemon,
    start_daemons,
    stop_daemons,
    unavailable_reason,
)
from tests.conftest import skip_unless_ci
from tests.e2e.conftest import Region
from tests.e2e.harness import sqlite_url
from tests.e2e.sdk import create_servers

POOL = "coldshift"
FLAVOR = "k1.small.1"
MIB = 1024 * 1024


def require_libvirt() -> None:
    skip_unless_ci(unavailable_reason(), "the libvirt driver's tests")


@dataclass(frozen=True)
class Machine:
    name: str
    use: str  # "pool" | "deh"
    #: a tmpfs of this many MiB as its storage pool (a host whose pool fills up), else 0
    pool_mib: int = 0


DEFAULT_MACHINES = (
    Machine("kvm-p1", "pool"),
    Machine("kvm-p2", "pool"),
    Machine("kvm-d1", "deh"),
    Machine("kvm-d2", "deh"),
)


def catalog_text(
    daemons: list[SessionDaemon], machines: tuple[Machine, ...], image_dir: Path | None = None
) -> str:
    uses = {m.name: m.use for m in machines}
    hosts = "".join(
        f"""
[[driver.libvirt.hosts]]
name = "{d.name}"
uri = "{d.uri}"
availability_zone = "az-a"
host_type = "k1"
use = "{uses[d.name]}"
pool_path = "{d.pool_path}"
"""
        for d in daemons
    )
    return f"""# A libvirt test region: one-socket hosts (this machine has one NUMA cell).
[region]
id = "kvm-1"

[[availability_zones]]
name = "az-a"

[[flavors]]
id = "k1.small.1"
vcpus = 1
ram_mb = 128

[[flavors]]
id = "k1.medium.1"
vcpus = 2
ram_mb = 256

[[host_types]]
host_type = "k1"
host_type_name = "Test KVM"
sockets = 1
cores = 2
vcpus = 4
memory_mb = 1024
flavors = ["k1.*"]

[[projects]]
id = "11111111111111111111111111111111"
name = "alpha"
access_key = "TESTALPHAKEY00000001"
secret_key = "alpha-secret"

[[projects]]
id = "99999999999999999999999999999999"
name = "root"
access_key = "TESTADMINKEY00000009"
secret_key = "admin-secret"
admin = true

[driver]
kind = "libvirt"

[driver.libvirt]
storage_pool = "{POOL}"
image_dir = "{image_dir or ""}"
shutdown_seconds = 1
call_timeout_seconds = 20
copy_stall_seconds = 10
{hosts}"""


@dataclass
class KvmRegion:
    region: Region
    daemons: dict[str, SessionDaemon]
    #: DeH id by the physical host it stands on, for the tests that allocate them up front
    dehs: dict[str, str] = field(default_factory=dict)
    libvirt_handles: list[Any] = field(default_factory=list)

    def daemon(self, name: str) -> SessionDaemon:
        return self.daemons[name]

    def connect(self, name: str) -> Any:
        import libvirt

        conn = libvirt.open(self.daemons[name].uri)
        self.libvirt_handles.append(conn)
        return conn

    def domain_names(self, host: str) -> list[str]:
        return sorted(d.name() for d in self.connect(host).listAllDomains())

    def domain_state(self, host: str, server_id: str) -> int:
        return int(self.connect(host).lookupByName(server_id).state()[0])

    def domain_xml(self, host: str, server_id: str) -> ElementTree.Element:
        return ElementTree.fromstring(self.connect(host).lookupByName(server_id).XMLDesc(0))

    def volume_files(self, host: str) -> list[str]:
        return sorted(p.name for p in self.daemons[host].pool_path.glob("*.img"))

    def volume_path(self, host: str, volume_id: str) -> Path:
        return self.daemons[host].pool_path / f"{volume_id}.img"

    def hosts_with_guest(self, server_id: str) -> list[str]:
        return [name for name in self.daemons if server_id in self.domain_names(name)]

    def close(self) -> None:
        for conn in self.libvirt_handles:
            try:
                conn.close()
            except Exception:
                pass
        self.libvirt_handles.clear()


@contextmanager
def kvm_region(
    tmp: Path, machines: tuple[Machine, ...] = DEFAULT_MACHINES, image_dir: Path | None = None
) -> Iterator[KvmRegion]:
    require_libvirt()
    with ExitStack() as stack:
        # not under pytest's own temporary directory: the hosts' user could not reach it
        base = Path(tempfile.mkdtemp(prefix="coldshift-kvm-"))
        stack.callback(shutil.rmtree, base, ignore_errors=True)
        for machine in machines:
            if machine.pool_mib:
                stack.enter_context(_tmpfs(base / machine.name / "pool", machine.pool_mib))
        daemons = start_daemons([m.name for m in machines], base)
        stack.callback(stop_daemons, daemons)
        catalog = tmp / "kvm-catalog.toml"
        catalog.write_text(catalog_text(daemons, machines, image_dir))
        region = Region("sqlite", sqlite_url(tmp), tmp, catalog)
        stack.callback(region.stop_all)
        kvm = KvmRegion(region, {d.name: d for d in daemons})
        stack.callback(kvm.close)
        yield kvm


@contextmanager
def _tmpfs(path: Path, mib: int) -> Iterator[None]:
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={mib}m", "tmpfs", str(path)], check=True)
    try:
        yield
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def create_server(
    client: Any, *, data_gb: int = 10, dedicated_host_id: str | None = None, name: str = "vm"
) -> Any:
    """A server with a 1 GB root disk and a (sparse) data disk, as the SDK creates one."""
    return create_servers(
        client,
        name=name,
        flavor=FLAVOR,
        tenancy="dedicated" if dedicated_host_id else None,
        dedicated_host_id=dedicated_host_id,
        data_gb=data_gb,
        root_gb=1,
    )


def write_random(path: Path, chunks: list[tuple[int, int]]) -> None:
    """Write random bytes at (offset MiB, length MiB) places of a volume file."""
    with path.open("r+b") as volume:
        for offset, length in chunks:
            volume.seek(offset * MIB)
            for _ in range(length):
                volume.write(os.urandom(MIB))


def file_digest(path: Path) -> str:
    """A digest of the file's bytes that reads only its data, not its holes: blocks of zeros
    count alike whether stored or a hole, so two files with equal bytes have equal digests."""
    digest = hashlib.sha256(str(path.stat().st_size).encode())
    zeros = bytes(MIB)
    with path.open("rb") as volume:
        fd = volume.fileno()
        end = os.fstat(fd).st_size
        offset = 0
        while offset < end:
            try:
                offset = os.lseek(fd, offset, os.SEEK_DATA)
            except OSError:  # no data after offset
                break
            hole = os.lseek(fd, offset, os.SEEK_HOLE)
            offset = _digest_data(volume, digest, offset, hole, zeros)
    return digest.hexdigest()


def _digest_data(volume: Any, digest: Any, start: int, end: int, zeros: bytes) -> int:
    block_start = start - start % MIB  # whole MiB blocks, so that layouts compare alike
    volume.seek(block_start)
    while block_start < end:
        block = volume.read(MIB)
        if not block:
            break
        if block != zeros[: len(block)]:
            digest.update(block_start.to_bytes(8, "big") + block)
        block_start += len(block)
    return block_start
