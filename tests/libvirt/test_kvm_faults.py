"""The libvirt driver when things go wrong (libvirt.md): a host that dies mid-copy, a target
pool that fills up, coldshift killed (-9) mid-copy and mid-clean-up. Each time the job ends,
the guest is on exactly one host with its disks intact, and no volume is left anywhere."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from coldshift.testing.hypervisors import SessionDaemon
from tests.e2e import admin
from tests.e2e.harness import wait_for
from tests.e2e.sdk import allocate, job, migrate, raw, stop, wait_job
from tests.e2e.test_durability import coldshift_check
from tests.libvirt.kvm_region import (
    MIB,
    KvmRegion,
    Machine,
    create_server,
    file_digest,
    kvm_region,
    write_random,
)
from tests.libvirt.test_kvm_region import (
    assert_lives_only_on,
    host_of,
    succeeded,
    volume_ids,
)

MACHINES = (
    Machine("kvm-p1", "pool"),
    Machine("kvm-d1", "deh"),
    Machine("kvm-d2", "deh", pool_mib=48),  # a pool that a 64 MiB disk does not fit in
)
#: random data written at the start of a server's data disk: long enough to copy that a
#: test can act while it moves
DENSE_MIB = 384


@pytest.fixture(scope="module")
def kvm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KvmRegion]:
    with kvm_region(tmp_path_factory.mktemp("kvm-faults"), MACHINES) as region:
        region.region.start()
        deh_client = region.region.deh()
        allocated = allocate(deh_client, quantity=2, host_type="k1")
        region.dehs = dict(zip(("kvm-d1", "kvm-d2"), allocated, strict=True))
        yield region


def deh_of(kvm: KvmRegion, machine: str) -> str:
    return kvm.dehs[machine]


def stopped_pool_server(kvm: KvmRegion, dense_mib: int = DENSE_MIB) -> tuple[str, dict[str, str]]:
    client = kvm.region.ecs()
    response = create_server(client)
    succeeded(client, response.job_id)
    server_id = str(response.server_ids[0])
    succeeded(client, stop(client, server_id).job_id)
    host = host_of(kvm, server_id)
    root, data = volume_ids(kvm, server_id)
    write_random(kvm.volume_path(host, root), [(0, 1)])
    write_random(kvm.volume_path(host, data), [(0, dense_mib)])
    return server_id, {v: file_digest(kvm.volume_path(host, v)) for v in (root, data)}


def wait_until_copying(kvm: KvmRegion, host: str, volume_id: str) -> None:
    """Until the copy has written some MiB of the volume on ``host``, but not all of it."""
    path = kvm.volume_path(host, volume_id)

    def copying() -> bool:
        try:
            written = os.stat(path).st_blocks * 512
        except FileNotFoundError:
            return False
        return written > 16 * MIB

    wait_for(copying, 60, f"the copy of {volume_id} to {host} to be under way")


def relays_of(parent: int) -> list[int]:
    """The copy processes (drivers/libvirt/relay.py) that coldshift process ``parent`` started."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            args = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"coldshift.drivers.libvirt.relay" in args and str(parent).encode() in args:
            found.append(int(proc.name))
    return found


def failed(client: object, job_id: str) -> dict[str, object]:
    final = wait_job(client, job_id, 90)
    assert final.status == "FAIL", (final.status, final.fail_reason)
    return dict(raw(job(client, job_id))["entities"]["sub_jobs"][0])


def test_a_source_host_that_dies_mid_copy_fails_the_job_with_the_server_intact(
    kvm: KvmRegion,
) -> None:
    client = kvm.region.ecs()
    server_id, digests = stopped_pool_server(kvm)
    source: SessionDaemon = kvm.daemon(host_of(kvm, server_id))
    job_id = migrate(client, server_id, deh_of(kvm, "kvm-d1"))
    wait_until_copying(kvm, "kvm-d1", volume_ids(kvm, server_id)[1])
    source.stop()
    try:
        sub = failed(client, job_id)
    finally:
        source.start()
    assert sub["error_code"] == "Ecs.1000" and source.name in str(sub["fail_reason"])
    assert_lives_only_on(kvm, server_id, source.name, digests)


def test_a_full_target_pool_fails_the_job_and_leaves_nothing_there(kvm: KvmRegion) -> None:
    client = kvm.region.ecs()
    server_id, digests = stopped_pool_server(kvm, dense_mib=64)
    sub = failed(client, migrate(client, server_id, deh_of(kvm, "kvm-d2")))
    assert "kvm-d2" in str(sub["fail_reason"]), sub
    assert_lives_only_on(kvm, server_id, host_of(kvm, server_id), digests)
    assert kvm.volume_files("kvm-d2") == []


def test_coldshift_killed_mid_copy_ends_the_job_with_the_guest_on_one_host(
    kvm: KvmRegion,
) -> None:
    client = kvm.region.ecs()
    server_id, digests = stopped_pool_server(kvm)
    source = host_of(kvm, server_id)
    job_id = migrate(client, server_id, deh_of(kvm, "kvm-d1"))
    wait_until_copying(kvm, "kvm-d1", volume_ids(kvm, server_id)[1])
    killed = kvm.region.server.proc.pid  # type: ignore[union-attr]
    assert relays_of(killed), "the copy runs in a relay process of its own"
    kvm.region.restart(kill=True)
    wait_for(lambda: not relays_of(killed), 10, "the killed process's relay to die with it")
    final = wait_job(client, job_id, 90)
    # interrupted before its commit point, the job is undone
    assert final.status == "FAIL", final.fail_reason
    assert_lives_only_on(kvm, server_id, source, digests)
    assert coldshift_check(kvm.region.db_url).returncode == 0


def test_coldshift_killed_mid_clean_up_leaves_no_volume_once_restarted(kvm: KvmRegion) -> None:
    client = kvm.region.ecs()
    server_id, digests = stopped_pool_server(kvm, dense_mib=8)
    source = kvm.daemon(host_of(kvm, server_id))
    # the source's volumes cannot be deleted: the clean-up past the commit point is left
    # to maintenance, where coldshift is killed
    source.pool_path.chmod(0o555)
    try:
        succeeded(client, migrate(client, server_id, deh_of(kvm, "kvm-d1")))
        wait_for(lambda: _pending_clean_up(kvm), 60, "the clean-up left to maintenance")
        kvm.region.restart(kill=True)
    finally:
        source.pool_path.chmod(0o755)
    wait_for(lambda: not _pending_clean_up(kvm), 90, "maintenance to delete the source's disks")
    assert_lives_only_on(kvm, server_id, "kvm-d1", digests)
    assert coldshift_check(kvm.region.db_url).returncode == 0


def _pending_clean_up(kvm: KvmRegion) -> bool:
    return bool(admin.maintenance(kvm.region.url))


def test_a_target_that_cannot_define_the_guest_fails_the_job_and_is_emptied(
    kvm: KvmRegion,
) -> None:
    client = kvm.region.ecs()
    server_id, digests = stopped_pool_server(kvm, dense_mib=8)
    source = host_of(kvm, server_id)
    # the target daemon cannot write guest definitions: the disks copy, the define fails
    definitions = kvm.daemon("kvm-d1").root / "config" / "libvirt" / "qemu"
    definitions.chmod(0o555)
    try:
        sub = failed(client, migrate(client, server_id, deh_of(kvm, "kvm-d1")))
    finally:
        definitions.chmod(0o755)
    assert "kvm-d1" in str(sub["fail_reason"]) and "define" in str(sub["fail_reason"]), sub
    assert_lives_only_on(kvm, server_id, source, digests)
