"""Real hypervisors for the libvirt driver's tests: session daemons (testing/hypervisors.py),
each with a directory pool, no mocks of libvirt."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from coldshift.testing.hypervisors import SessionDaemon, start_daemons, stop_daemons
from tests.libvirt.kvm_region import require_libvirt

POOL_NAME = "coldshift"


@dataclass
class Host:
    """One stand-in host: its daemon, a connection, and its directory pool."""

    daemon: SessionDaemon
    conn: Any
    pool: Any

    def create_volume(self, capacity: int, name: str | None = None) -> Any:
        """An empty raw volume, sparse (allocation 0) as the driver creates them."""
        name = name or f"vol-{uuid.uuid4().hex[:8]}.raw"
        xml = (
            f"<volume><name>{name}</name><capacity unit='bytes'>{capacity}</capacity>"
            "<allocation>0</allocation><target><format type='raw'/></target></volume>"
        )
        return self.pool.createXML(xml, 0)

    def write(self, volume: Any, offset: int, data: bytes) -> None:
        """Write straight into the volume's file (faster than an upload), owned as the
        daemon's user."""
        path = Path(volume.path())
        with path.open("r+b") as file:
            file.seek(offset)
            file.write(data)
        if os.geteuid() == 0:
            os.chown(path, self.daemon.uid, self.daemon.gid)

    def close(self) -> None:
        try:
            self.conn.close()
        except Exception:
            pass


def connect_host(daemon: SessionDaemon) -> Host:
    import libvirt

    conn = libvirt.open(daemon.uri)
    xml = (
        f"<pool type='dir'><name>{POOL_NAME}</name>"
        f"<target><path>{daemon.pool_path}</path></target></pool>"
    )
    try:
        pool = conn.storagePoolLookupByName(POOL_NAME)
    except libvirt.libvirtError:
        pool = conn.storagePoolDefineXML(xml, 0)
        pool.build(0)
    if not pool.isActive():
        pool.create(0)
    return Host(daemon, conn, pool)


@contextmanager
def host_pair() -> Iterator[tuple[Host, Host]]:
    """Two fresh hosts, stopped and removed at the end (also for tests that break them)."""
    require_libvirt()
    import libvirt

    # Not under pytest's tmp_path: its root (/tmp/pytest-of-root) is private to the user
    # running the tests, and the daemons run as another one.
    base = Path(tempfile.mkdtemp(prefix="coldshift-hosts-"))

    # libvirt prints every error on stderr by default; the tests look at the exceptions.
    libvirt.registerErrorHandler(lambda _ctx, _err: None, None)
    daemons = start_daemons(["a", "b"], base)
    hosts: list[Host] = []
    try:
        hosts = [connect_host(daemon) for daemon in daemons]
        yield hosts[0], hosts[1]
    finally:
        for host in hosts:
            host.close()
        stop_daemons(daemons)
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="module")
def hosts() -> Iterator[tuple[Host, Host]]:
    """A source and a target host shared by a module's tests."""
    with host_pair() as pair:
        yield pair
