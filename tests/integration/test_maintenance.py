"""Issue 10's retry policy on the real store: a host that stops answering after the
switch-over (or during an undo) never keeps a job RUNNING; what it could not clean up becomes
a maintenance task that ends once the host answers again, and the invariants hold throughout."""

from __future__ import annotations

from coldshift.domain.commands import MigrateServer
from coldshift.domain.servers import TaskState
from coldshift.drivers.simulated import FAULT_CODE
from coldshift.jobs.model import JobStatus, LeftWork, MaintenanceTask
from coldshift.persistence.db import Database
from coldshift.persistence.invariants import check
from coldshift.services.admin import maintenance_tasks
from coldshift.services.migration import migrate_server
from tests.integration.test_migration_recovery import (
    PROJECT,
    Cluster,
    Move,
    Process,
    build_region,
    job_tree,
    submit,
)


def host_name(process: Process, host_id: str) -> str:
    host = process.region.store.get_host(host_id)
    assert host is not None
    return host.name


def pending(process: Process) -> list[MaintenanceTask]:
    return maintenance_tasks(process.region)


def deh_to_deh(moves: list[Move]) -> Move:
    return next(m for m in moves if m.direction == "deh-to-deh")


def migrate_from_a_source_that_does_not_answer(db: Database) -> tuple[Cluster, Process, Move, str]:
    """A DeH-to-DeH migration whose source host stops answering after the switch-over."""
    cluster = Cluster(db)
    process = cluster.start()
    move = deh_to_deh(build_region(process))
    cluster.unreachable.add(host_name(process, move.source))
    (job_id,) = submit(process, cluster.clock, [move])
    process.worker.run_until_idle()
    return cluster, process, move, job_id


def test_a_source_that_stops_answering_after_the_switch_over_leaves_maintenance(
    db: Database,
) -> None:
    cluster, process, move, job_id = migrate_from_a_source_that_does_not_answer(db)
    source = host_name(process, move.source)

    job = job_tree(process.region, job_id)[1]
    assert (job.status, job.error_code) == (JobStatus.SUCCESS, None)
    server = process.region.store.get_server(PROJECT, move.server_id)
    assert server is not None
    assert (server.host_id, server.task_state) == (move.target, None)
    assert check(db) == []  # the leftover disks are not capacity: nothing drifts
    (task,) = pending(process)
    assert (task.step, task.work, task.job.id) == ("delete_source_copies", LeftWork.RUN, job.id)
    assert f"host {source} does not answer" in task.last_error
    assert (move.server_id, source) not in cluster.deletions

    assert process.worker.run_maintenance() == 1  # still unreachable: tried, kept
    (task,) = pending(process)
    assert task.attempts == 1

    cluster.unreachable.clear()
    restarted = cluster.restart()  # the task outlives the process that made it
    assert restarted.worker.run_maintenance() == 1
    assert pending(restarted) == []
    assert (move.server_id, source) in cluster.deletions


def test_an_undo_that_cannot_reach_the_target_fails_the_job_and_leaves_maintenance(
    db: Database,
) -> None:
    cluster = Cluster(db)
    process = cluster.start()
    move = deh_to_deh(build_region(process))
    assert move.target is not None
    target = host_name(process, move.target)
    process.driver.set_operation("define_on_target", fail_next=1)
    cluster.unreachable.add(target)

    (job_id,) = submit(process, cluster.clock, [move])
    process.worker.run_until_idle()

    job = job_tree(process.region, job_id)[1]
    assert (job.status, job.error_code) == (JobStatus.FAIL, FAULT_CODE)
    server = process.region.store.get_server(PROJECT, move.server_id)
    assert server is not None and (server.host_id, server.task_state) == (move.source, None)
    assert check(db) == []
    undone = sorted((t.step, t.work) for t in pending(process))  # one instant: any order
    assert undone == [
        ("copy_disks", LeftWork.COMPENSATE),
        ("define_on_target", LeftWork.COMPENSATE),
    ]

    cluster.unreachable.clear()
    assert process.worker.run_maintenance() == 2
    assert pending(process) == []


def test_a_late_clean_up_never_deletes_the_disks_of_a_server_that_came_back(
    db: Database,
) -> None:
    cluster, process, move, _ = migrate_from_a_source_that_does_not_answer(db)
    assert len(pending(process)) == 1
    cluster.unreachable.clear()

    # Moved back before the clean-up ran: the source's copy is the live one again.
    migrate_server(process.region, MigrateServer(PROJECT, move.server_id, move.source))
    process.worker.run_until_idle()
    server = process.region.store.get_server(PROJECT, move.server_id)
    assert server is not None and server.host_id == move.source
    deleted_before = list(cluster.deletions)

    assert process.worker.run_maintenance() == 1

    assert pending(process) == []
    assert cluster.deletions == deleted_before  # nothing deleted on the source
    assert server.task_state is not TaskState.RESIZE_FINISH
    assert check(db) == []
