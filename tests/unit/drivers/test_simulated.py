"""The simulated driver: catalog timings, injected faults and holds, and what it reports."""

from __future__ import annotations

import threading
import time

import pytest

from coldshift.domain.catalog import SimulatedDriverSettings
from coldshift.drivers.base import ControllableDriver, DriverError, GuestSpec, Spot, no_progress
from coldshift.drivers.simulated import FAULTABLE, OPERATIONS, SimulatedDriver

GUEST = GuestSpec("s1", "host-1", 2, 4096, disk_gb=60)


def driver(copy_mb_per_s: int = 0) -> tuple[SimulatedDriver, list[float]]:
    slept: list[float] = []
    settings = SimulatedDriverSettings(
        action_seconds=0, disk_copy_mb_per_s=copy_mb_per_s, deh_allocate_seconds=0
    )
    return SimulatedDriver(settings, sleep=slept.append), slept


def test_it_is_a_controllable_driver() -> None:
    assert isinstance(driver()[0], ControllableDriver)


def test_copy_takes_the_disk_size_over_the_copy_speed() -> None:
    sim, slept = driver(copy_mb_per_s=1024)
    sim.copy_disks(GUEST, Spot("host-2"), no_progress)
    assert sum(slept) == pytest.approx(60.0)  # 60 GiB at 1 GiB/s, slept in slices


def test_a_copy_tells_its_progress_in_slices_up_to_the_whole() -> None:
    sim, slept = driver(copy_mb_per_s=1024)
    told: list[tuple[int, int]] = []
    sim.copy_disks(GUEST, Spot("host-2"), lambda copied, total: told.append((copied, total)))
    total = 60 * 1024**3
    assert len(told) == 20 and sum(slept) == pytest.approx(60.0)
    assert told[-1] == (total, total)
    assert [c for c, _ in told] == sorted(c for c, _ in told)


def test_zero_copy_speed_means_instant() -> None:
    sim, slept = driver(copy_mb_per_s=0)
    sim.copy_disks(GUEST, Spot("host-2"), no_progress)
    assert slept == []


@pytest.mark.parametrize("operation", ["copy_disks", "define_on_target", "cleanup_source"])
def test_an_injected_fault_fails_the_next_calls_only(operation: str) -> None:
    sim, _ = driver()
    sim.set_operation(operation, fail_next=2)
    call = getattr(sim, operation)
    args: tuple[object, ...] = {
        "copy_disks": (GUEST, Spot("host-2"), no_progress),
        "define_on_target": (GUEST, Spot("host-2")),
        "cleanup_source": (GUEST,),
    }[operation]
    for _ in range(2):
        with pytest.raises(DriverError) as caught:
            call(*args)
        assert caught.value.code == "Ecs.1000" and operation in caught.value.reason
    call(*args)
    state = {s.operation: s for s in sim.operations()}[operation]
    assert (state.fail_next, state.calls, state.in_progress) == (0, 3, 0)


@pytest.mark.parametrize("operation", sorted(set(OPERATIONS) - set(FAULTABLE)))
def test_undo_and_confirm_cannot_be_made_to_fail(operation: str) -> None:
    sim, _ = driver()
    with pytest.raises(ValueError, match="cannot be made to fail"):
        sim.set_operation(operation, fail_next=1)
    assert sim.set_operation(operation, hold_seconds=1).hold_seconds == 1


def test_unknown_operation_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown driver operation"):
        driver()[0].set_operation("explode", fail_next=1)


def in_progress(sim: SimulatedDriver, operation: str) -> int:
    return {s.operation: s for s in sim.operations()}[operation].in_progress


def wait_until_inside(sim: SimulatedDriver, operation: str, count: int) -> None:
    """Poll (generous deadline) until ``count`` calls wait inside ``operation``."""
    deadline = time.monotonic() + 30
    while in_progress(sim, operation) != count:
        assert time.monotonic() < deadline, f"{count} calls never reached {operation}"
        time.sleep(0.001)


def test_a_hold_keeps_calls_inside_until_released() -> None:
    sim, _ = driver()
    sim.set_operation("confirm_migration", hold_seconds=600)
    threads = [threading.Thread(target=sim.confirm_migration, args=(GUEST,)) for _ in range(3)]
    for t in threads:
        t.start()
    wait_until_inside(sim, "confirm_migration", 3)
    assert all(t.is_alive() for t in threads)

    sim.set_operation("confirm_migration", hold_seconds=0)
    for t in threads:
        t.join(10)
    assert not any(t.is_alive() for t in threads)
    assert in_progress(sim, "confirm_migration") == 0


def test_reset_clears_faults_and_releases_holds() -> None:
    sim, _ = driver()
    sim.set_operation("copy_disks", fail_next=5)
    sim.set_operation("define_on_target", hold_seconds=600)
    waiting = threading.Thread(target=sim.define_on_target, args=(GUEST, Spot("h")))
    waiting.start()
    wait_until_inside(sim, "define_on_target", 1)

    sim.reset()
    waiting.join(10)
    assert not waiting.is_alive()
    sim.copy_disks(GUEST, Spot("h"), no_progress)
    assert all(s.fail_next == 0 and s.hold_seconds == 0 for s in sim.operations())
