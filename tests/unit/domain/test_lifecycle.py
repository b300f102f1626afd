"""The server's task-state machine (domain.lifecycle): which changes exist, and that they form
the paths cold-migration.md and api.md describe."""

from __future__ import annotations

import pytest

from coldshift.domain import lifecycle as lc
from coldshift.domain.servers import POWER_RUNNING, RESIZE_TASKS, TaskState, VmState

IDLE = frozenset({None})


def test_names_are_unique() -> None:
    names = [t.name for t in lc.TRANSITIONS]
    assert len(names) == len(set(names))


def test_every_task_is_entered_and_left() -> None:
    entered = {t.target for t in lc.TRANSITIONS if t.target is not None}
    left = {s for t in lc.TRANSITIONS for s in t.sources if s is not None}
    assert entered == set(TaskState)
    assert left == set(TaskState)


@pytest.mark.parametrize(
    "transition",
    [
        lc.START_ACCEPTED,
        lc.STOP_ACCEPTED,
        lc.REBOOT_ACCEPTED,
        lc.DELETE_ACCEPTED,
        lc.MIGRATION_ACCEPTED,
    ],
    ids=lambda t: t.name,
)
def test_a_request_starts_a_task_only_on_an_idle_server(transition: lc.Transition) -> None:
    assert transition.sources == IDLE
    assert transition.target is not None


# (transition, the one before it on the path): each step starts where the previous one ended
PATHS = [
    (lc.PLACED, lc.CREATE_ACCEPTED),
    (lc.CREATED, lc.PLACED),
    (lc.STARTED, lc.START_ACCEPTED),
    (lc.STOPPED, lc.STOP_ACCEPTED),
    (lc.REBOOTED, lc.REBOOT_ACCEPTED),
    (lc.TARGET_CLAIMED, lc.MIGRATION_ACCEPTED),
    (lc.DISKS_COPIED, lc.TARGET_CLAIMED),
    (lc.SWITCHED_OVER, lc.DISKS_COPIED),
    (lc.MIGRATION_ENDED, lc.SWITCHED_OVER),
]


@pytest.mark.parametrize(("transition", "previous"), PATHS, ids=lambda t: t.name)
def test_each_step_starts_where_the_previous_ended(
    transition: lc.Transition, previous: lc.Transition
) -> None:
    assert previous.target in transition.sources


def test_a_migration_is_undone_from_any_task_before_the_switch_over_and_never_after() -> None:
    assert lc.MIGRATION_UNDONE.sources == RESIZE_TASKS - {TaskState.RESIZE_FINISH}
    assert not lc.MIGRATION_UNDONE.allows(TaskState.RESIZE_FINISH.value)
    assert lc.MIGRATION_UNDONE.target is None


def test_an_action_is_undone_from_its_own_tasks_only() -> None:
    assert lc.ACTION_UNDONE.sources == {
        TaskState.POWERING_ON,
        TaskState.POWERING_OFF,
        TaskState.DELETING,
    }
    assert not lc.ACTION_UNDONE.allows(TaskState.RESIZE_MIGRATING.value)


def test_a_step_may_be_run_again_once_its_change_is_made() -> None:
    # after a crash, a step re-runs although its change was committed
    assert lc.DISKS_COPIED.allows(TaskState.RESIZE_MIGRATING.value)
    assert lc.DISKS_COPIED.allows(TaskState.RESIZE_MIGRATED.value)
    assert lc.MIGRATION_ENDED.allows(None)
    assert not lc.DISKS_COPIED.allows(TaskState.RESIZE_PREP.value)
    assert not lc.DISKS_COPIED.allows(None)


def test_an_ended_task_writes_its_stable_state() -> None:
    assert lc.CREATED.change.values() == {
        "task_state": None,
        "vm_state": VmState.ACTIVE,
        "power_state": POWER_RUNNING,
    }
    assert lc.MIGRATION_ENDED.change.values() == {"task_state": None, "migrating_to": None}


def test_with_adds_fields_and_keeps_the_transitions_own() -> None:
    change = lc.MIGRATION_ACCEPTED.with_(migrating_to="deh-b")
    assert change.values() == {"task_state": "resize_prep", "migrating_to": "deh-b"}
    switched = lc.SWITCHED_OVER.with_(host_id="h", tenancy="shared", dedicated_host_id=None)
    assert switched.values() == {
        "task_state": "resize_finish",
        "host_id": "h",
        "tenancy": "shared",
        "dedicated_host_id": None,
    }


def test_an_untouched_field_is_not_written() -> None:
    assert lc.ServerChange().values() == {}
    assert lc.TARGET_CLAIMED.change.values() == {"task_state": "resize_migrating"}


def test_the_lock_is_frozen_during_a_cold_migration_only() -> None:
    assert lc.LOCK_FROZEN_DURING == RESIZE_TASKS


def test_an_illegal_transition_names_the_server_the_change_and_the_task() -> None:
    error = lc.IllegalTransition("s-1", lc.SWITCHED_OVER, "resize_prep")
    assert "s-1" in str(error) and "switched_over" in str(error) and "resize_prep" in str(error)
