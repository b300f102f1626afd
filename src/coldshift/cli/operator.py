"""The operator commands (operations.md): migrate, hosts, jobs, why, drain; each a client of a
running region, signed as the SDK signs."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Annotated, Any

import typer
from rich.console import Console, Group
from rich.live import Live
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from coldshift.cli.client import (
    FAILED,
    REFUSED,
    Client,
    CliError,
    credentials,
)
from coldshift.cli.render import (
    advice_lines,
    hosts_table,
    print_json,
    what_if_lines,
)

console = Console(soft_wrap=True)
err_console = Console(stderr=True, soft_wrap=True)

#: seconds between two reads of a job being watched
POLL_SECONDS = 0.5

Endpoint = Annotated[
    str | None,
    typer.Option(
        envvar="COLDSHIFT_ENDPOINT", help="The region's URL [default: http://127.0.0.1:8080]."
    ),
]
Ak = Annotated[str | None, typer.Option("--ak", envvar="HUAWEICLOUD_SDK_AK", help="Access key.")]
Sk = Annotated[
    str | None,
    typer.Option("--sk", envvar="HUAWEICLOUD_SDK_SK", help="Secret key.", show_default=False),
]
ProjectId = Annotated[
    str | None, typer.Option(envvar="HUAWEICLOUD_SDK_PROJECT_ID", help="Project id.")
]
AsJson = Annotated[bool, typer.Option("--json", help="Machine-readable output (stable keys).")]


@contextmanager
def _client(
    endpoint: str | None, ak: str | None, sk: str | None, project: str | None
) -> Iterator[Client]:
    """A client for the command's duration; a CliError ends it with one line and its code."""
    try:
        client = Client(credentials(endpoint, ak, sk, project))
        try:
            yield client
        finally:
            client.close()
    except CliError as exc:
        err_console.print(f"[red]coldshift: {escape(str(exc))}[/red]")
        raise typer.Exit(exc.exit_code) from exc


def register(app: typer.Typer) -> None:
    from coldshift.cli.drain import drain  # it imports this module's options

    for command in (migrate, hosts, jobs, why, drain):
        app.command()(command)


def _migrate_body(to: str | None, to_pool: bool) -> dict[str, Any]:
    if (to is None) == (not to_pool):
        raise CliError("give exactly one of --to DEH and --to-pool", REFUSED)
    return {"migrate": {"dedicated_host_id": to}} if to else {"migrate": None}


def migrate(
    server: Annotated[str, typer.Argument(help="The ECS to migrate (stopped).")],
    to: Annotated[str | None, typer.Option(help="The DeH to move it to.")] = None,
    to_pool: Annotated[bool, typer.Option("--to-pool", help="Move it to the public pool.")] = False,
    wait: Annotated[bool, typer.Option(help="Follow the job until it ends.")] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Only ask whether it fits (the what-if).")
    ] = False,
    as_json: AsJson = False,
    endpoint: Endpoint = None,
    ak: Ak = None,
    sk: Sk = None,
    project_id: ProjectId = None,
) -> None:
    """Cold-migrate a stopped ECS to a DeH or to the public pool."""
    with _client(endpoint, ak, sk, project_id) as client:
        body = _migrate_body(to, to_pool)
        base = f"/v1/{{project_id}}/cloudservers/{server}/migrate"
        if dry_run:
            answer = client.post(base + "/what-if", body)
            _show_what_if(answer, as_json, advice=False)
            if not answer["fits"]:
                raise typer.Exit(FAILED)
            return
        job_id = client.post(base, body)["job_id"]
        if not wait:
            if as_json:
                print_json(console, {"job_id": job_id})
            else:
                console.print(f"migration accepted: job {job_id}")
            return
        if not as_json:
            console.print(f"migration accepted: job {job_id}")
        final = _watch(client, server, job_id, quiet=as_json)
        if not as_json:
            console.print()  # the live line ends where the terminal's line ends
        placed = _server(client, server)
        if as_json:
            print_json(console, {"job": final, "server": _place(placed)})
        elif final["status"] == "SUCCESS":
            console.print(escape(f"done: ECS {server} is on {_place(placed)['host']}"))
        if final["status"] != "SUCCESS":
            err_console.print(
                f"[red]coldshift: job {job_id} FAIL: "
                f"{escape(str(final.get('fail_reason') or final.get('error_code')))}[/red]"
            )
            raise typer.Exit(FAILED)


def _server(client: Client, server_id: str) -> dict[str, Any]:
    found: dict[str, Any] = client.get(f"/v1/{{project_id}}/cloudservers/{server_id}")["server"]
    return found


def _place(server: dict[str, Any]) -> dict[str, Any]:
    hints = server.get("os:scheduler_hints") or {}
    dedicated = hints.get("dedicated_host_id") or []
    return {
        "id": server["id"],
        "status": server["status"],
        "host": f"DeH {dedicated[0]}" if dedicated else "the public pool",
        "dedicated_host_id": dedicated[0] if dedicated else None,
    }


def _watch(client: Client, server_id: str, job_id: str, *, quiet: bool) -> dict[str, Any]:
    """Poll the job until it ends, drawing its step, bytes copied and elapsed time live.
    Ctrl-C stops watching; the job goes on in the region."""
    began = time.monotonic()
    job: dict[str, Any] = client.get(f"/v1/{{project_id}}/jobs/{job_id}")
    try:
        shown = Console(quiet=True) if quiet else console
        # visible: a line longer than the terminal folds instead of being cut off
        with Live(console=shown, auto_refresh=False, vertical_overflow="visible") as live:
            while True:
                task = _server(client, server_id).get("OS-EXT-STS:task_state")
                job = client.get(f"/v1/{{project_id}}/jobs/{job_id}")
                live.update(_progress(job, task, time.monotonic() - began), refresh=True)
                if job["status"] in ("SUCCESS", "FAIL"):
                    return job
                time.sleep(POLL_SECONDS)
    except KeyboardInterrupt:
        err_console.print(
            f"stopped watching; job {job_id} goes on (coldshift jobs, or GET /v1/.../jobs/{job_id})"
        )
        raise typer.Exit(130) from None


def _progress(job: dict[str, Any], task: str | None, elapsed: float) -> Group:
    subs = job.get("entities", {}).get("sub_jobs") or []
    sub = subs[0] if subs else {"entities": {}}
    copied, total = sub["entities"].get("bytes_copied"), sub["entities"].get("bytes_total")
    if copied is None or not total:
        copy = "bytes: not reported yet"
    else:
        mib = f"{copied / 2**20:,.0f} of {total / 2**20:,.0f} MiB"
        copy = f"copied {mib} ({100 * copied / total:.0f}%)"
    line = Text(
        f"{job['status']}  step {task or '-'}  {copy}  elapsed {elapsed:.1f}s",
        overflow="fold",
    )
    return Group(line)


def _show_what_if(answer: dict[str, Any], as_json: bool, *, advice: bool) -> None:
    if as_json:
        print_json(console, answer)
        return
    for line in what_if_lines(answer):
        console.print(line)
    if advice:
        for line in advice_lines(answer):
            console.print(line)


def why(
    server: Annotated[str, typer.Argument(help="The ECS that does not fit.")],
    to: Annotated[
        str | None,
        typer.Option(help="The DeH it should go to (default: where a migration without one goes)."),
    ] = None,
    as_json: AsJson = False,
    endpoint: Endpoint = None,
    ak: Ak = None,
    sk: Sk = None,
    project_id: ProjectId = None,
) -> None:
    """Why a server fits nowhere (or not on that DeH), and the fewest moves that make room."""
    with _client(endpoint, ak, sk, project_id) as client:
        body = {"migrate": {"dedicated_host_id": to}} if to else {"migrate": None}
        answer = client.post(f"/v1/{{project_id}}/cloudservers/{server}/migrate/what-if", body)
        _show_what_if(answer, as_json, advice=True)


def hosts(
    az: Annotated[str | None, typer.Option("--az", help="Only this availability zone.")] = None,
    deh_only: Annotated[bool, typer.Option("--deh-only", help="Only dedicated hosts.")] = False,
    as_json: AsJson = False,
    endpoint: Endpoint = None,
    ak: Ak = None,
    sk: Sk = None,
    project_id: ProjectId = None,
) -> None:
    """Every host the key may see: per NUMA node, used and free vCPUs and memory, its servers."""
    with _client(endpoint, ak, sk, project_id) as client:
        found = client.get("/v1/{project_id}/hosts", availability_zone=az)["hosts"]
    found = [h for h in found if not deh_only or h["kind"] == "deh"]
    if as_json:
        print_json(console, {"hosts": found})
        return
    if not found:
        console.print("no hosts")
    for host in found:
        console.print(hosts_table(host))


def jobs(
    status: Annotated[str | None, typer.Option(help="INIT, RUNNING, SUCCESS or FAIL.")] = None,
    limit: Annotated[int, typer.Option(help="How many, newest first.")] = 20,
    as_json: AsJson = False,
    endpoint: Endpoint = None,
    ak: Ak = None,
    sk: Sk = None,
    project_id: ProjectId = None,
) -> None:
    """Recent jobs, newest first: type, status, server, duration, error code."""
    with _client(endpoint, ak, sk, project_id) as client:
        found = client.get("/v1/{project_id}/jobs", limit=limit, status=status)["jobs"]
    if as_json:
        print_json(console, {"jobs": found})
        return
    table = Table()
    for column in ("job", "type", "status", "server", "began", "took", "error"):
        table.add_column(column)
    for job in found:
        table.add_row(
            job["job_id"],
            job["job_type"],
            _coloured(job["status"]),
            escape(_servers_of(job)),
            job["begin_time"],
            _took(job),
            escape(job.get("error_code") or ""),
        )
    console.print(table)


def _coloured(status: str) -> str:
    colour = {"SUCCESS": "green", "FAIL": "red", "RUNNING": "yellow"}.get(status, "white")
    return f"[{colour}]{status}[/{colour}]"


def _servers_of(job: dict[str, Any]) -> str:
    entities = job.get("entities", {})
    if entities.get("server_id"):
        return str(entities["server_id"])
    subs = entities.get("sub_jobs") or []
    ids = [s["entities"].get("server_id") for s in subs if s["entities"].get("server_id")]
    return ", ".join(ids[:2]) + (f" +{len(ids) - 2}" if len(ids) > 2 else "")


def _took(job: dict[str, Any]) -> str:
    def parsed(value: str) -> datetime:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))

    if not job.get("end_time"):
        return "running"
    seconds = (parsed(job["end_time"]) - parsed(job["begin_time"])).total_seconds()
    return f"{seconds:.1f}s"
