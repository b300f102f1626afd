"""Read your writes: the API's read cache never shows a client state older than its own last
write, in one process (SQLite, PostgreSQL) and across two processes on PostgreSQL (issue 15).

Each round reads a server twice (the second answer comes from the cache), migrates it through
one process, and reads it at once, through the same process or the other one: the server must
no longer look as it did. Then the job is polled through the reader until it ends (the job's
cached answer must move on), and the server must show its new host, in GET server and in the
v1 page alike.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from huaweicloudsdkecs.v2 import ListServersDetailsRequest

from tests.e2e import sdk
from tests.e2e.conftest import Region, region_on
from tests.e2e.harness import ecs_client

SERVERS = 4
ROUNDS = 3  # each server moves this many times, back and forth

View = tuple[str | None, str, str]  # (task state, host, status)


def seen(client: Any, server_id: str) -> View:
    server = sdk.show(client, server_id)
    return server.os_ext_st_stask_state, server.os_ext_srv_att_rhost, server.status


def on_page(client: Any, server_id: str) -> View:
    page = client.list_servers_details(ListServersDetailsRequest(limit=100)).servers
    [server] = [s for s in page if s.id == server_id]
    return server.os_ext_st_stask_state, server.os_ext_srv_att_rhost, server.status


def moves(writer: Any, reader: Any, servers: list[str], dehs: tuple[str, str]) -> None:
    where = dict.fromkeys(servers, dehs[0])
    for _ in range(ROUNDS):
        for server_id in servers:
            before = seen(reader, server_id)
            assert seen(reader, server_id) == before == on_page(reader, server_id)
            target = dehs[1] if where[server_id] == dehs[0] else dehs[0]
            job_id = sdk.migrate(writer, server_id, target)
            assert seen(reader, server_id) != before, "the reader showed the server as before"
            assert on_page(reader, server_id) != before, "the page showed the server as before"
            final = sdk.wait_job(reader, job_id)
            assert final.status == "SUCCESS", (final.error_code, final.fail_reason)
            after = seen(reader, server_id)
            assert after[0] is None and after[1] != before[1], (before, after)
            assert on_page(reader, server_id) == after == seen(writer, server_id)
            where[server_id] = target


def prepare(region: Region) -> tuple[list[str], tuple[str, str]]:
    deh_a, deh_b = sdk.allocate(region.deh(), quantity=2)
    servers = sdk.stopped_servers(
        region.ecs(), count=SERVERS, tenancy="dedicated", dedicated_host_id=deh_a
    )
    return servers, (deh_a, deh_b)


@pytest.fixture
def two_processes(tmp_path: Path) -> Iterator[Region]:
    with region_on("pg", tmp_path) as region:
        region.start()
        region.start()
        yield region


def test_one_process_reads_its_own_writes(region: Region) -> None:
    servers, dehs = prepare(region)
    client = region.ecs()
    moves(client, client, servers, dehs)


@pytest.mark.pg
def test_a_write_through_one_process_is_read_through_the_other(two_processes: Region) -> None:
    region = two_processes
    servers, dehs = prepare(region)
    first, second = (ecs_client(p.url) for p in region.servers)
    moves(first, second, servers[:2], dehs)
    moves(second, first, servers[2:], dehs)
