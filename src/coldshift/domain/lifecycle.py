"""The server's task-state machine: every task change that exists, from which states, by what.

A server is idle when its ``task_state`` is empty and the job of its last task has ended. A
request starts a task on an idle server (in the transaction that records its job); the job's
steps move it on; its last step, or its undo, ends it. Nothing else changes a task:
the store applies a ``TaskChange`` as one guarded statement, ``task_state`` must be one of the
transition's sources (or already its target: steps are re-run after a crash) or the change is
refused.

    request                 job step                       task (after)
    ───────                 ────────                       ────────────
    create                                                 scheduling
                            createSingleServer.claim_capacity    spawning
                            createSingleServer.mark_active       (none)  vm active
    start / reboot                                         powering-on
    stop                                                   powering-off
    delete                                                 deleting
                            start/stop/rebootServer.record_state (none)  vm active|stopped
                            (undo of power_on/power_off/reboot/destroy)  (none)
    migrate                                                resize_prep
                            migrateSingleServer.claim_target     resize_migrating
                            migrateSingleServer.copy_disks       resize_migrated
                            migrateSingleServer.switch_over      resize_finish
                            migrateSingleServer.release_source   (none)
                            (undo of claim_target)               (none)
    drain --restart (a running server: migrateSingleServer's steps and two more)
                                                           resize_prep  vm active
                            restartMigrateServer.claim_target    resize_migrating
                            restartMigrateServer.stop_guest      resize_migrating  vm stopped
                            (undo of stop_guest)                 resize_migrating  vm active
                            restartMigrateServer.start_guest     resize_finish  vm active
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from enum import Enum
from typing import Any

from coldshift.domain.errors import ColdshiftError
from coldshift.domain.servers import (
    POWER_RUNNING,
    POWER_SHUTDOWN,
    RESIZE_TASKS,
    TaskState,
    VmState,
)


class _Keep(Enum):
    KEEP = "keep"


#: a ServerChange field left as it is
KEEP = _Keep.KEEP


@dataclass(frozen=True, slots=True)
class ServerChange:
    """Placement and state fields a task change writes with the task (KEEP: untouched)."""

    vm_state: VmState | _Keep = KEEP
    power_state: int | _Keep = KEEP
    host_id: str | _Keep | None = KEEP
    tenancy: str | _Keep = KEEP
    dedicated_host_id: str | _Keep | None = KEEP
    migrating_to: str | _Keep | None = KEEP
    launched_at: float | _Keep | None = KEEP

    def values(self) -> dict[str, Any]:
        """The fields to write, by name (the row's column names)."""
        written = {f.name: getattr(self, f.name) for f in fields(self)}
        return {k: v for k, v in written.items() if v is not KEEP}


@dataclass(frozen=True, slots=True)
class Transition:
    """One task change: from ``sources`` to ``target``, made by ``by`` (a request or a step).

    ``sets`` is what every such change writes besides the task (e.g. the stable state an
    action leads to)."""

    name: str
    sources: frozenset[TaskState | None]
    target: TaskState | None
    by: str
    sets: ServerChange = field(default_factory=ServerChange)

    def allows(self, task_state: str | None) -> bool:
        """Whether a server with ``task_state`` may take this change (again)."""
        current = TaskState(task_state) if task_state is not None else None
        return current in self.sources or current == self.target

    def with_(self, **also: Any) -> TaskChange:
        """This transition, writing ``also`` (ServerChange fields) too."""
        return TaskChange(self, ServerChange(**{**self.sets.values(), **also}))

    @property
    def change(self) -> TaskChange:
        return TaskChange(self, self.sets)


@dataclass(frozen=True, slots=True)
class TaskChange:
    """A transition as the store applies it: the task, and the fields written with it."""

    transition: Transition
    also: ServerChange

    def values(self) -> dict[str, Any]:
        target = self.transition.target
        return {"task_state": target.value if target else None, **self.also.values()}


class IllegalTransition(ColdshiftError):
    """A task change asked of a server in a state it does not start from (a bug)."""

    def __init__(self, server_id: str, transition: Transition, task_state: str | None) -> None:
        super().__init__(
            f"the ECS {server_id} cannot take {transition.name} ({transition.by}) from "
            f"task {task_state or '(none)'}"
        )


_IDLE: frozenset[TaskState | None] = frozenset({None})
_ACTIONS = frozenset({TaskState.POWERING_ON, TaskState.POWERING_OFF, TaskState.DELETING})
_RUNNING = ServerChange(vm_state=VmState.ACTIVE, power_state=POWER_RUNNING)
_STOPPED = ServerChange(vm_state=VmState.STOPPED, power_state=POWER_SHUTDOWN)

# ---- create --------------------------------------------------------------------------------
#: a new server row is recorded with this task (the create request)
CREATE_ACCEPTED = Transition("create_accepted", frozenset(), TaskState.SCHEDULING, "create")
PLACED = Transition(
    "placed",
    frozenset({TaskState.SCHEDULING}),
    TaskState.SPAWNING,
    "createSingleServer.claim_capacity",
)
CREATED = Transition(
    "created",
    frozenset({TaskState.SPAWNING}),
    None,
    "createSingleServer.mark_active",
    sets=_RUNNING,
)

# ---- power actions and delete --------------------------------------------------------------
START_ACCEPTED = Transition("start_accepted", _IDLE, TaskState.POWERING_ON, "start")
STOP_ACCEPTED = Transition("stop_accepted", _IDLE, TaskState.POWERING_OFF, "stop")
REBOOT_ACCEPTED = Transition("reboot_accepted", _IDLE, TaskState.POWERING_ON, "reboot")
DELETE_ACCEPTED = Transition("delete_accepted", _IDLE, TaskState.DELETING, "delete")
STARTED = Transition(
    "started", frozenset({TaskState.POWERING_ON}), None, "startServer.record_state", _RUNNING
)
STOPPED = Transition(
    "stopped", frozenset({TaskState.POWERING_OFF}), None, "stopServer.record_state", _STOPPED
)
REBOOTED = Transition(
    "rebooted", frozenset({TaskState.POWERING_ON}), None, "rebootServer.record_state", _RUNNING
)
ACTION_UNDONE = Transition("action_undone", _ACTIONS, None, "undo of a power action or delete")

# ---- cold migration ------------------------------------------------------------------------
MIGRATION_ACCEPTED = Transition("migration_accepted", _IDLE, TaskState.RESIZE_PREP, "migrate")
TARGET_CLAIMED = Transition(
    "target_claimed",
    frozenset({TaskState.RESIZE_PREP}),
    TaskState.RESIZE_MIGRATING,
    "migrateSingleServer.claim_target",
)
DISKS_COPIED = Transition(
    "disks_copied",
    frozenset({TaskState.RESIZE_MIGRATING}),
    TaskState.RESIZE_MIGRATED,
    "migrateSingleServer.copy_disks",
)
SWITCHED_OVER = Transition(
    "switched_over",
    frozenset({TaskState.RESIZE_MIGRATED}),
    TaskState.RESIZE_FINISH,
    "migrateSingleServer.switch_over",
)
MIGRATION_ENDED = Transition(
    "migration_ended",
    frozenset({TaskState.RESIZE_FINISH}),
    None,
    "migrateSingleServer.release_source",
    sets=ServerChange(migrating_to=None),
)
MIGRATION_UNDONE = Transition(
    "migration_undone",
    frozenset(RESIZE_TASKS - {TaskState.RESIZE_FINISH}),
    None,
    "undo of migrateSingleServer.claim_target",
    sets=ServerChange(migrating_to=None),
)

# ---- a drain's migration of a running server (--restart) ---------------------------------
STOPPED_FOR_MIGRATION = Transition(
    "stopped_for_migration",
    frozenset({TaskState.RESIZE_MIGRATING}),
    TaskState.RESIZE_MIGRATING,
    "restartMigrateServer.stop_guest",
    sets=_STOPPED,
)
RESTARTED_ON_SOURCE = Transition(
    "restarted_on_source",
    frozenset({TaskState.RESIZE_MIGRATED}),
    TaskState.RESIZE_MIGRATING,
    "undo of restartMigrateServer.stop_guest",
    sets=_RUNNING,
)
RESTARTED_ON_TARGET = Transition(
    "restarted_on_target",
    frozenset({TaskState.RESIZE_FINISH}),
    TaskState.RESIZE_FINISH,
    "restartMigrateServer.start_guest",
    sets=_RUNNING,
)

#: every transition, for the table above and its tests
TRANSITIONS = (
    CREATE_ACCEPTED,
    PLACED,
    CREATED,
    START_ACCEPTED,
    STOP_ACCEPTED,
    REBOOT_ACCEPTED,
    DELETE_ACCEPTED,
    STARTED,
    STOPPED,
    REBOOTED,
    ACTION_UNDONE,
    MIGRATION_ACCEPTED,
    TARGET_CLAIMED,
    DISKS_COPIED,
    SWITCHED_OVER,
    MIGRATION_ENDED,
    MIGRATION_UNDONE,
    STOPPED_FOR_MIGRATION,
    RESTARTED_ON_SOURCE,
    RESTARTED_ON_TARGET,
)

#: a server's lock cannot change while one of these tasks runs: the lock a cold migration
#: started under must still hold when it ends
LOCK_FROZEN_DURING = RESIZE_TASKS
