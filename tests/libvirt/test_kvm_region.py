"""The libvirt driver end to end: a real `coldshift serve` over real libvirt daemons, driven by
the official SDK (libvirt.md). Guests really start (TCG) and disks really move."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from huaweicloudsdkdeh.v1 import model as deh
from huaweicloudsdkecs.v2 import model as ecs

import libvirt
from tests.e2e.sdk import (
    IMAGE,
    allocate,
    delete,
    expect_error,
    job,
    migrate,
    raw,
    release_deh,
    show,
    start,
    stop,
    wait_job,
)
from tests.libvirt.kvm_region import (
    MIB,
    KvmRegion,
    create_server,
    file_digest,
    kvm_region,
    write_random,
)

RUNNING, SHUT_OFF = libvirt.VIR_DOMAIN_RUNNING, libvirt.VIR_DOMAIN_SHUTOFF


#: the base image every server of this module boots from (image_dir/<image_ref>)
IMAGE_BYTES = os.urandom(MIB + 4096)


@pytest.fixture(scope="module")
def kvm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KvmRegion]:
    tmp = tmp_path_factory.mktemp("kvm")
    images = tmp / "images"
    images.mkdir()
    (images / IMAGE).write_bytes(IMAGE_BYTES)
    with kvm_region(tmp, image_dir=images) as region:
        region.region.start()
        yield region


def succeeded(client: Any, job_id: str, timeout: float = 90.0) -> Any:
    final = wait_job(client, job_id, timeout)
    assert final.status == "SUCCESS", (final.error_code, final.fail_reason)
    return final


def new_server(kvm: KvmRegion, dedicated_host_id: str | None = None) -> str:
    client = kvm.region.ecs()
    response = create_server(client, dedicated_host_id=dedicated_host_id)
    succeeded(client, response.job_id)
    return str(response.server_ids[0])


def volume_ids(kvm: KvmRegion, server_id: str) -> list[str]:
    view = show(kvm.region.ecs(), server_id)
    return [v.id for v in view.os_extended_volumesvolumes_attached]


def host_of(kvm: KvmRegion, server_id: str) -> str:
    (host,) = kvm.hosts_with_guest(server_id)
    return host


def power(client: Any, server_id: str, action: str, kind: str) -> Any:
    """A SOFT or HARD stop ("os_stop") or reboot ("reboot") through the SDK."""
    servers = [ecs.ServerId(id=server_id)]
    if action == "reboot":
        body = ecs.BatchRebootServersRequestBody(
            reboot=ecs.BatchRebootSeversOption(servers=servers, type=kind)
        )
        return client.batch_reboot_servers(ecs.BatchRebootServersRequest(body=body))
    stop_body = ecs.BatchStopServersRequestBody(
        os_stop=ecs.BatchStopServersOption(servers=servers, type=kind)
    )
    return client.batch_stop_servers(ecs.BatchStopServersRequest(body=stop_body))


def reboot(client: Any, server_id: str, kind: str) -> Any:
    return power(client, server_id, "reboot", kind)


def test_a_server_lives_as_a_real_guest_from_boot_to_delete(kvm: KvmRegion) -> None:
    client = kvm.region.ecs()
    server_id = new_server(kvm)
    host = host_of(kvm, server_id)
    assert host in ("kvm-p1", "kvm-p2")
    assert kvm.domain_state(host, server_id) == RUNNING
    volumes = volume_ids(kvm, server_id)
    assert kvm.volume_files(host) == sorted(f"{v}.img" for v in volumes)
    for kind in ("SOFT", "HARD"):
        succeeded(client, reboot(client, server_id, kind).job_id)
        assert kvm.domain_state(host, server_id) == RUNNING
    # a guest with no OS ignores the ACPI shutdown: destroyed after shutdown_seconds (SOFT),
    # or at once (HARD)
    for kind in ("SOFT", "HARD"):
        succeeded(client, power(client, server_id, "os_stop", kind).job_id)
        assert kvm.domain_state(host, server_id) == SHUT_OFF
        succeeded(client, start(client, server_id).job_id)
        assert kvm.domain_state(host, server_id) == RUNNING
    succeeded(client, delete(client, server_id).job_id)
    assert server_id not in kvm.domain_names(host)
    assert not set(kvm.volume_files(host)) & {f"{v}.img" for v in volumes}


def test_the_root_disk_starts_as_a_copy_of_its_image_and_data_disks_empty(
    kvm: KvmRegion,
) -> None:
    server_id = new_server(kvm)
    host = host_of(kvm, server_id)
    root, data = volume_ids(kvm, server_id)
    with kvm.volume_path(host, root).open("rb") as disk:
        assert disk.read(len(IMAGE_BYTES)) == IMAGE_BYTES
    assert kvm.volume_path(host, root).stat().st_size == 1024 * MIB  # the size asked for
    assert kvm.volume_path(host, data).stat().st_blocks == 0
    succeeded(kvm.region.ecs(), delete(kvm.region.ecs(), server_id).job_id)


def test_the_guest_is_pinned_to_the_numa_node_placement_chose(kvm: KvmRegion) -> None:
    server_id = new_server(kvm)
    domain = kvm.domain_xml(host_of(kvm, server_id), server_id)
    memory = domain.find("numatune/memory")
    assert memory is not None and (memory.get("mode"), memory.get("nodeset")) == ("strict", "0")
    vcpu = domain.find("vcpu")
    assert vcpu is not None and vcpu.get("cpuset") and vcpu.text == "1"
    serials = [d.findtext("serial") for d in domain.iterfind("devices/disk")]
    assert serials == volume_ids(kvm, server_id)
    succeeded(kvm.region.ecs(), delete(kvm.region.ecs(), server_id).job_id)


def test_dehs_take_free_physical_hosts_and_release_gives_them_back(kvm: KvmRegion) -> None:
    client = kvm.region.deh()

    def allocate_k1(quantity: int = 1) -> list[str]:
        return allocate(client, quantity=quantity, host_type="k1")

    err = expect_error(lambda: allocate_k1(3), 403, "DEH.0018", "three DeHs of two free hosts")
    assert "insufficient capacity: 2 free host(s) of type k1" in err.error_msg
    listed = raw(client.list_dedicated_hosts(deh.ListDedicatedHostsRequest()))
    assert listed["dedicated_hosts"] == []  # nothing was allocated
    first, second = allocate_k1(2)
    expect_error(allocate_k1, 403, "DEH.0018", "a third DeH")
    release_deh(client, first)
    (again,) = allocate_k1()  # the released DeH's host is free again
    for host_id in (again, second):
        release_deh(client, host_id)


def stopped_server(kvm: KvmRegion, chunks: list[tuple[int, int]]) -> tuple[str, dict[str, str]]:
    """A stopped pool server whose volumes hold random data at ``chunks``; their digests."""
    client = kvm.region.ecs()
    server_id = new_server(kvm)
    succeeded(client, stop(client, server_id).job_id)
    host = host_of(kvm, server_id)
    digests = {}
    for volume_id in volume_ids(kvm, server_id):
        path = kvm.volume_path(host, volume_id)
        write_random(path, chunks)
        digests[volume_id] = file_digest(path)
    return server_id, digests


def assert_lives_only_on(
    kvm: KvmRegion, server_id: str, host: str, digests: dict[str, str]
) -> None:
    assert kvm.hosts_with_guest(server_id) == [host]
    assert kvm.domain_state(host, server_id) == SHUT_OFF
    for name in kvm.daemons:
        files = {f"{v}.img" for v in digests} & set(kvm.volume_files(name))
        assert files == (set() if name != host else {f"{v}.img" for v in digests}), name
    for volume_id, digest in digests.items():
        assert file_digest(kvm.volume_path(host, volume_id)) == digest, volume_id


def test_migrations_move_the_disks_byte_for_byte_between_pool_and_dehs(kvm: KvmRegion) -> None:
    client, deh_client = kvm.region.ecs(), kvm.region.deh()
    first, second = allocate(deh_client, quantity=2, host_type="k1")
    machines = {first: "kvm-d1", second: "kvm-d2"}
    server_id, digests = stopped_server(kvm, [(0, 4), (300, 8), (900, 1)])
    total = sum(kvm.volume_path(host_of(kvm, server_id), v).stat().st_size for v in digests)
    for target in (first, second, None):  # pool → DeH, DeH → DeH, DeH → pool
        final = succeeded(client, migrate(client, server_id, target))
        sub = raw(job(client, final.job_id))["entities"]["sub_jobs"][0]["entities"]
        assert (sub["bytes_copied"], sub["bytes_total"]) == (total, total)
        host = machines[target] if target else host_of(kvm, server_id)
        assert_lives_only_on(kvm, server_id, host, digests)
    assert host_of(kvm, server_id) in ("kvm-p1", "kvm-p2")
    succeeded(client, delete(client, server_id).job_id)
    for host_id in (first, second):
        release_deh(deh_client, host_id)
