"""Derived server status, status filters, and how a host's capacity is split over NUMA nodes."""

from __future__ import annotations

import pytest

from coldshift.domain.catalog import HostType
from coldshift.domain.hosts import NumaNode, new_numa_nodes, split_evenly
from coldshift.domain.servers import (
    RESIZE_TASKS,
    TaskState,
    VmState,
    derive_status,
    status_filter_matches,
)

# --- derive_status ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("vm_state", "task_state", "status"),
    [
        *[("stopped", t.value, "RESIZE") for t in sorted(RESIZE_TASKS)],
        *[("active", t.value, "RESIZE") for t in sorted(RESIZE_TASKS)],
        ("stopped", None, "SHUTOFF"),
        ("stopped", "powering-on", "SHUTOFF"),
        ("active", None, "ACTIVE"),
        ("active", "powering-off", "ACTIVE"),
        ("building", None, "BUILD"),
        ("building", "scheduling", "BUILD"),
        ("building", "spawning", "BUILD"),
        ("error", None, "ERROR"),
        ("error", "resize_prep", "ERROR"),
        ("deleted", None, "DELETED"),
        ("something-else", None, "UNKNOWN"),
        ("", "resize_prep", "UNKNOWN"),
    ],
)
def test_derive_status(vm_state: str, task_state: str | None, status: str) -> None:
    assert derive_status(vm_state, task_state) == status


def test_derive_status_accepts_enum_members() -> None:
    assert derive_status(VmState.STOPPED, TaskState.RESIZE_MIGRATING) == "RESIZE"
    assert derive_status(VmState.STOPPED, None) == "SHUTOFF"


def test_every_cold_migration_phase_is_resize_then_shutoff() -> None:
    # cold-migration.md "What a user sees while it runs"
    phases = ["resize_prep", "resize_migrating", "resize_migrated", "resize_finish"]
    assert [derive_status("stopped", t) for t in phases] == ["RESIZE"] * 4
    assert derive_status("stopped", None) == "SHUTOFF"


# --- status_filter_matches ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("wanted", "actual", "vm_state", "matches"),
    [
        # a stopped server being cold-migrated is SHUTOFF for filtering
        ("SHUTOFF", "RESIZE", "stopped", True),
        ("ACTIVE", "RESIZE", "stopped", False),
        ("RESIZE", "RESIZE", "stopped", True),
        # a running server in RESIZE is ACTIVE for filtering
        ("ACTIVE", "RESIZE", "active", True),
        ("SHUTOFF", "RESIZE", "active", False),
        ("RESIZE", "RESIZE", "active", True),
        # RESIZE matches only RESIZE
        ("RESIZE", "SHUTOFF", "stopped", False),
        ("RESIZE", "ACTIVE", "active", False),
        ("RESIZE", "BUILD", "building", False),
        # stable states
        ("SHUTOFF", "SHUTOFF", "stopped", True),
        ("ACTIVE", "SHUTOFF", "stopped", False),
        ("ACTIVE", "ACTIVE", "active", True),
        ("SHUTOFF", "ACTIVE", "active", False),
        ("ERROR", "ERROR", "error", True),
        ("ERROR", "ACTIVE", "active", False),
        ("BUILD", "BUILD", "building", True),
        ("BUILD", "ACTIVE", "active", False),
        # a RESIZE server matches no filter but its stable one and RESIZE
        ("ERROR", "RESIZE", "stopped", False),
        ("BUILD", "RESIZE", "stopped", False),
    ],
)
def test_status_filter_matches(wanted: str, actual: str, vm_state: str, matches: bool) -> None:
    assert status_filter_matches(wanted, actual, vm_state) is matches


@pytest.mark.parametrize("task_state", [None, *sorted(RESIZE_TASKS)])
def test_a_migrating_stopped_server_answers_shutoff_filter_all_along(
    task_state: str | None,
) -> None:
    status = derive_status("stopped", task_state)

    assert status_filter_matches("SHUTOFF", status, "stopped")
    assert not status_filter_matches("ACTIVE", status, "stopped")
    assert status_filter_matches("RESIZE", status, "stopped") is (task_state is not None)


# --- split_evenly / new_numa_nodes --------------------------------------------------------------


@pytest.mark.parametrize(
    ("total", "parts", "expected"),
    [
        (64, 2, [32, 32]),
        (10, 3, [4, 3, 3]),
        (11, 3, [4, 4, 3]),
        (7, 4, [2, 2, 2, 1]),
        (3, 4, [1, 1, 1, 0]),
        (0, 2, [0, 0]),
        (5, 1, [5]),
    ],
)
def test_split_evenly_gives_remainder_to_lowest_nodes(
    total: int, parts: int, expected: list[int]
) -> None:
    result = split_evenly(total, parts)

    assert result == expected
    assert sum(result) == total
    assert max(result) - min(result) <= 1
    assert result == sorted(result, reverse=True)


def host_type(vcpus: int, memory_mb: int, sockets: int) -> HostType:
    return HostType(
        host_type="c6",
        host_type_name="C6",
        sockets=sockets,
        cores=vcpus // 2,
        vcpus=vcpus,
        memory_mb=memory_mb,
        flavor_patterns=("c6.*",),
    )


def test_new_numa_nodes_split_evenly_and_start_free() -> None:
    nodes = new_numa_nodes(host_type(vcpus=64, memory_mb=262144, sockets=2))

    assert nodes == (
        NumaNode(0, 32, 131072, 32, 131072),
        NumaNode(1, 32, 131072, 32, 131072),
    )


def test_new_numa_nodes_remainder_to_lowest_nodes() -> None:
    nodes = new_numa_nodes(host_type(vcpus=10, memory_mb=1001, sockets=3))

    assert [(n.index, n.vcpus_total, n.memory_total) for n in nodes] == [
        (0, 4, 334),
        (1, 3, 334),
        (2, 3, 333),
    ]
    assert all((n.vcpus_free, n.memory_free) == (n.vcpus_total, n.memory_total) for n in nodes)


@pytest.mark.parametrize(
    ("ratio", "per_node_vcpus"),
    [
        (1.0, [32, 32]),
        (2.0, [64, 64]),
        (1.5, [48, 48]),
        (1.25, [40, 40]),
        (1.1, [35, 35]),
        (1.3, [42, 41]),
    ],
)
def test_new_numa_nodes_apply_the_cpu_allocation_ratio_to_vcpus_only(
    ratio: float, per_node_vcpus: list[int]
) -> None:
    nodes = new_numa_nodes(host_type(vcpus=64, memory_mb=262144, sockets=2), ratio)

    assert [n.vcpus_total for n in nodes] == per_node_vcpus
    assert [n.vcpus_free for n in nodes] == per_node_vcpus
    assert [n.memory_total for n in nodes] == [131072, 131072]


def test_single_socket_host_has_one_node_with_everything() -> None:
    (only,) = new_numa_nodes(host_type(vcpus=16, memory_mb=32768, sockets=1))

    assert only == NumaNode(0, 16, 32768, 16, 32768)
