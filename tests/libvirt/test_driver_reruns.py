"""Every libvirt driver operation run twice, as a job step run again after a crash does: the
second run finds the first one's work and ends in the same state (libvirt.md: "Every operation
must be idempotent and re-entrant"). The driver is called directly, on two real daemons."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import libvirt
from coldshift.catalog import parse_catalog
from coldshift.drivers.base import DiskSpec, GuestSpec, Spot, no_progress
from coldshift.drivers.libvirt.driver import LibvirtDriver
from coldshift.testing.hypervisors import SessionDaemon, start_daemons, stop_daemons
from tests.libvirt.kvm_region import MIB, Machine, catalog_text, file_digest, require_libvirt

SERVER = "7d1c6a0e-5b4f-4c3d-9e2a-1b0c9d8e7f6a"
ROOT = DiskSpec("3a2b1c0d-9e8f-4a7b-8c6d-5e4f3a2b1c0d", 1)


@pytest.fixture(scope="module")
def hosts() -> Iterator[tuple[LibvirtDriver, dict[str, SessionDaemon]]]:
    require_libvirt()
    base = Path(tempfile.mkdtemp(prefix="coldshift-reruns-"))
    machines = (Machine("src", "pool"), Machine("dst", "deh"))
    daemons = start_daemons([m.name for m in machines], base)
    try:
        catalog = parse_catalog(catalog_text(daemons, machines))
        assert catalog.driver.libvirt is not None
        driver = LibvirtDriver(catalog.driver.libvirt, catalog)
        assert all(status.reachable for status in driver.probe())
        yield driver, {d.name: d for d in daemons}
    finally:
        stop_daemons(daemons)
        shutil.rmtree(base, ignore_errors=True)


def guest_on(host: str) -> GuestSpec:
    return GuestSpec(SERVER, host, 1, 128, 1, name="rerun", disks=(ROOT,))


def domains(daemon: SessionDaemon) -> dict[str, int]:
    conn = libvirt.open(daemon.uri)
    try:
        return {d.name(): d.state()[0] for d in conn.listAllDomains()}
    finally:
        conn.close()


def volume(daemon: SessionDaemon) -> Path:
    return daemon.pool_path / f"{ROOT.volume_id}.img"


def twice(call: Any, *args: Any) -> None:
    call(*args)
    call(*args)


def test_each_step_run_twice_ends_as_run_once(
    hosts: tuple[LibvirtDriver, dict[str, SessionDaemon]],
) -> None:
    driver, daemons = hosts
    source, target = guest_on("src"), Spot("dst", (0,))
    twice(driver.boot, source)
    assert domains(daemons["src"]) == {SERVER: libvirt.VIR_DOMAIN_RUNNING}
    with volume(daemons["src"]).open("r+b") as disk:  # the guest's data, kept by a re-boot
        disk.write(os.urandom(MIB))
    data = file_digest(volume(daemons["src"]))
    driver.boot(source)
    assert file_digest(volume(daemons["src"])) == data
    twice(driver.power_off, source)
    twice(driver.copy_disks, source, target, no_progress)
    twice(driver.define_on_target, source, target)
    twice(driver.cleanup_source, source)
    assert domains(daemons["dst"]) == {SERVER: libvirt.VIR_DOMAIN_SHUTOFF}
    assert domains(daemons["src"]) == {}
    twice(driver.confirm_migration, source)
    assert not volume(daemons["src"]).exists()
    assert file_digest(volume(daemons["dst"])) == data


def test_an_undo_run_twice_leaves_the_source_as_it_was(
    hosts: tuple[LibvirtDriver, dict[str, SessionDaemon]],
) -> None:
    driver, daemons = hosts
    on_target = guest_on("dst")  # the first test left the guest there
    back = Spot("src", (0,))
    driver.copy_disks(on_target, back, no_progress)
    driver.define_on_target(on_target, back)
    driver.cleanup_source(on_target)
    twice(driver.restore_source, on_target)
    twice(driver.discard_target, on_target, back)
    assert domains(daemons["src"]) == {}
    assert not volume(daemons["src"]).exists()
    assert domains(daemons["dst"]) == {SERVER: libvirt.VIR_DOMAIN_SHUTOFF}
    twice(driver.destroy, on_target)
    assert domains(daemons["dst"]) == {} and not volume(daemons["dst"]).exists()
