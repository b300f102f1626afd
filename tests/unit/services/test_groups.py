"""ECS groups over the in-memory region: membership, spread at create, and the anti-affinity
rule of cold migration (the fake's semantics are the SQL store's: test_store_contract)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from coldshift.domain.codes import Code
from coldshift.domain.commands import MigrateServer
from coldshift.domain.errors import (
    BadRequest,
    GroupFull,
    GroupHostTaken,
    GroupMembershipRefused,
    ServerBusy,
    ServerGroupNotFound,
    ServerNotFound,
)
from coldshift.domain.groups import MAX_MEMBERS
from coldshift.jobs.model import JobStatus
from coldshift.services import groups
from coldshift.services.migration import migrate_server
from coldshift.services.servers import batch_action, create_servers
from tests.unit.services.world import ALPHA, BETA, World, build_world, create_command


@pytest.fixture
def world() -> World:
    return build_world()


def _group(world: World, *members: str) -> str:
    group = groups.create_group(world.region, ALPHA, "ha", ["anti-affinity"])
    if members:
        groups.add_members(world.region, ALPHA, group.id, list(members))
    return group.id


def _members_on_dehs(world: World, count: int) -> tuple[str, list[str], list[str]]:
    dehs = world.dehs(count + 1)
    members = [world.servers(deh=deh)[0] for deh in dehs[:count]]
    return _group(world, *members), members, dehs


@pytest.mark.parametrize(
    ("name", "policies"),
    [
        ("", ["anti-affinity"]),
        ("n" * 256, ["anti-affinity"]),
        ("ha", ["affinity"]),
        ("ha", []),
        ("ha", "anti-affinity"),
        (None, ["anti-affinity"]),
    ],
)
def test_a_bad_group_is_refused_and_nothing_is_created(
    world: World, name: object, policies: object
) -> None:
    with pytest.raises(BadRequest):
        groups.create_group(world.region, ALPHA, name, policies)
    assert world.store.list_groups(ALPHA) == []


def test_another_projects_group_is_unknown(world: World) -> None:
    group_id = _group(world)
    with pytest.raises(ServerGroupNotFound):
        groups.show_group(world.region, BETA, group_id)
    with pytest.raises(ServerGroupNotFound):
        groups.delete_group(world.region, BETA, group_id)
    (betas,) = world.servers(project_id=BETA)
    world.refused(
        ServerNotFound, lambda: groups.add_members(world.region, ALPHA, group_id, [betas])
    )


def test_members_join_stopped_once_and_on_a_host_of_their_own(world: World) -> None:
    deh_a, deh_b = world.dehs(2)
    first, second = world.servers(2, deh=deh_a)
    (third,) = world.servers(deh=deh_b)
    group_id, other = _group(world, first), _group(world)
    region = world.region
    world.refused(
        GroupMembershipRefused, lambda: groups.add_members(region, ALPHA, group_id, [second])
    )
    world.refused(GroupMembershipRefused, lambda: groups.add_members(region, ALPHA, other, [first]))
    batch_action(region, ALPHA, "start", [third])
    world.run()
    world.refused(ServerBusy, lambda: groups.add_members(region, ALPHA, group_id, [third]))
    assert groups.show_group(region, ALPHA, group_id).members == (first,)
    groups.remove_members(region, ALPHA, group_id, [first])
    groups.add_members(region, ALPHA, group_id, [second])  # the host is free for it now
    assert groups.show_group(region, ALPHA, group_id).members == (second,)


def test_members_spread_at_create_and_the_one_without_a_host_fails_naming_the_rule(
    world: World,
) -> None:
    group_id = _group(world)
    cmd = replace(create_command(ALPHA, "t1.large.2", 3, az="az-a"), group_id=group_id)
    job_id = create_servers(world.region, cmd).job_id
    world.run()
    _, subs = world.job(job_id)
    failed = [s for s in subs if s.status is JobStatus.FAIL]
    assert len(failed) == 1 and failed[0].error_code == Code.NO_CAPACITY
    assert f"ECS group {group_id}" in (failed[0].fail_reason or "")
    members = groups.show_group(world.region, ALPHA, group_id).members
    assert len(members) == 2 and len({world.server(m).host_id for m in members}) == 2


def test_a_create_over_the_member_limit_is_refused(world: World) -> None:
    group_id = _group(world)
    cmd = replace(create_command(ALPHA, "t1.large.2", MAX_MEMBERS + 1), group_id=group_id)
    world.refused(GroupFull, lambda: create_servers(world.region, cmd))
    unknown = replace(cmd, group_id="no-such-group", count=1)
    world.refused(BadRequest, lambda: create_servers(world.region, unknown))


def test_a_migration_onto_a_members_deh_is_refused_at_once(world: World) -> None:
    group_id, (first, _second), dehs = _members_on_dehs(world, 2)
    message = world.refused(
        GroupHostTaken, lambda: migrate_server(world.region, MigrateServer(ALPHA, first, dehs[1]))
    )
    assert group_id in message and dehs[1] in message


def test_members_racing_for_one_deh_leave_one_winner_and_the_rest_in_place(world: World) -> None:
    group_id, members, dehs = _members_on_dehs(world, 3)
    jobs = [migrate_server(world.region, MigrateServer(ALPHA, m, dehs[3])) for m in members]
    world.run()  # accepted while the DeH was free: the claims decide
    outcomes = [world.job(j)[0] for j in jobs]
    assert sorted(j.status for j in outcomes) == [JobStatus.FAIL, JobStatus.FAIL, JobStatus.SUCCESS]
    for member, deh, job in zip(members, dehs[:3], outcomes, strict=True):
        if job.status is JobStatus.FAIL:
            assert job.error_code == Code.NO_CAPACITY and group_id in (job.fail_reason or "")
            assert world.server(member).host_id == deh
    assert world.store.group_rule(members[0]) is not None


def test_the_pool_skips_the_hosts_of_other_members(world: World) -> None:
    (in_pool,) = world.servers(az="az-a")
    # a bigger outsider makes the pool's other host the more loaded one: spread alone would
    # pick the member's host
    (outsider,) = world.servers(flavor="t1.xlarge.2", az="az-a")
    busy = world.server(outsider).host_id
    assert busy != world.server(in_pool).host_id
    group_id, (on_deh,), _ = _members_on_dehs(world, 1)
    groups.add_members(world.region, ALPHA, group_id, [in_pool])
    migrate_server(world.region, MigrateServer(ALPHA, on_deh, None))
    world.run()
    assert world.server(on_deh).host_id == busy
    (third,) = world.servers(deh=world.dehs(1)[0])
    groups.add_members(world.region, ALPHA, group_id, [third])
    job_id = migrate_server(world.region, MigrateServer(ALPHA, third, None))
    world.run()
    job, _ = world.job(job_id)
    assert job.status is JobStatus.FAIL and group_id in (job.fail_reason or "")


def test_deleting_a_member_or_its_group_sets_the_others_free(world: World) -> None:
    group_id, (first, second), dehs = _members_on_dehs(world, 2)
    batch_action(world.region, ALPHA, "delete", [second])
    world.run()
    assert groups.show_group(world.region, ALPHA, group_id).members == (first,)
    (newcomer,) = world.servers(deh=dehs[0])
    groups.delete_group(world.region, ALPHA, group_id)
    assert world.store.group_rule(first) is None
    other = _group(world, newcomer)
    assert groups.show_group(world.region, ALPHA, other).members == (newcomer,)
