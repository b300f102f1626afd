"""``coldshift drain``: empty a DeH. The plan is shown first; with ``--wait``, the drain job's
progress follows, one line per sub-job, until it ends (Ctrl-C stops watching, not the job)."""

from __future__ import annotations

import time
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.live import Live
from rich.markup import escape
from rich.table import Table

from coldshift.cli.client import FAILED, REFUSED, CliError
from coldshift.cli.operator import (
    POLL_SECONDS,
    Ak,
    AsJson,
    Endpoint,
    ProjectId,
    Sk,
    _client,
    console,
    err_console,
)
from coldshift.cli.render import print_json


def drain(
    deh: Annotated[str, typer.Argument(help="The DeH to empty.")],
    to: Annotated[
        list[str] | None, typer.Option("--to", help="A DeH to move servers to (repeatable).")
    ] = None,
    to_pool: Annotated[
        bool, typer.Option("--to-pool", help="The public pool is a target too.")
    ] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show the plan; run nothing.")] = False,
    restart: Annotated[
        bool, typer.Option(help="Stop running servers, move them, start them again.")
    ] = False,
    partial: Annotated[
        bool, typer.Option(help="Run the placeable part when some servers fit nowhere.")
    ] = False,
    max_parallel: Annotated[
        int, typer.Option("--max-parallel", help="Servers copied at once.", min=1, max=16)
    ] = 2,
    wait: Annotated[bool, typer.Option(help="Follow the drain job until it ends.")] = False,
    as_json: AsJson = False,
    endpoint: Endpoint = None,
    ak: Ak = None,
    sk: Sk = None,
    project_id: ProjectId = None,
) -> None:
    """Move every server off a DeH (NUMA and group rules honoured), as one job."""
    with _client(endpoint, ak, sk, project_id) as client:
        if not to and not to_pool:
            raise CliError("give --to DEH (one or more) or --to-pool", REFUSED)
        body = {
            "targets": list(to or []),
            "to_pool": to_pool,
            "dry_run": dry_run,
            "restart": restart,
            "partial": partial,
            "max_parallel": max_parallel,
        }
        answer = client.post(f"/v1/{{project_id}}/dedicated-hosts/{deh}/drain", body)
        job_id = answer["job_id"]
        if not as_json:
            _show_plan(answer)
        if job_id is None or not wait:
            if as_json:
                print_json(console, answer)
            elif job_id is not None:
                console.print(f"drain accepted: job {job_id}")
            if dry_run and not answer["fits"]:
                raise typer.Exit(FAILED)
            return
        if not as_json:
            console.print(f"drain accepted: job {job_id}")
        final = _watch(client, job_id, quiet=as_json)
        if not as_json:
            console.print()  # the live table ends where the terminal's line ends
        if as_json:
            print_json(console, {"plan": answer, "job": final})
        failed = [s for s in _subs(final) if s["status"] != "SUCCESS"]
        if final["status"] != "SUCCESS":
            for sub in failed:
                err_console.print(
                    f"[red]coldshift: ECS {sub['entities'].get('server_id')} FAIL: "
                    f"{escape(str(sub.get('fail_reason') or sub.get('error_code')))}[/red]"
                )
            raise typer.Exit(FAILED)
        if not as_json:
            console.print(f"done: dedicated host {deh} drained of {len(_subs(final))} server(s)")


def _show_plan(answer: dict[str, Any]) -> None:
    fits = "every server placed" if answer["fits"] else f"{len(answer['left'])} left over"
    console.print(f"drain of DeH {answer['dedicated_host_id']}: {fits}")
    if answer["moves"]:
        table = Table("server", "name", "flavor", "status", "to", "host", "NUMA")
        for m in answer["moves"]:
            to = "pool" if m["to"] == "pool" else "DeH"
            table.add_row(
                m["server_id"], m["name"], m["flavor"], m["status"], to, m["host"],
                ",".join(str(n) for n in m["numa_nodes"]),
            )  # fmt: skip
        console.print(table)
    for left in answer["left"]:
        console.print(escape(f"  left: {left['server_id']} ({left['name']}): {left['reason']}"))


def _subs(job: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = job.get("entities", {}).get("sub_jobs") or []
    return found


def _watch(client: Any, job_id: str, *, quiet: bool) -> dict[str, Any]:
    began = time.monotonic()
    job: dict[str, Any] = client.get(f"/v1/{{project_id}}/jobs/{job_id}")
    try:
        shown = Console(quiet=True) if quiet else console
        with Live(console=shown, auto_refresh=False, vertical_overflow="visible") as live:
            while True:
                job = client.get(f"/v1/{{project_id}}/jobs/{job_id}")
                if not quiet:
                    live.update(_progress(job, time.monotonic() - began), refresh=True)
                if job["status"] in ("SUCCESS", "FAIL"):
                    return job
                time.sleep(POLL_SECONDS)
    except KeyboardInterrupt:
        err_console.print(f"stopped watching; job {job_id} goes on (coldshift jobs)")
        raise typer.Exit(130) from None


def _progress(job: dict[str, Any], elapsed: float) -> Table:
    table = Table("server", "status", "copied", title=f"{job['status']}  elapsed {elapsed:.1f}s")
    for sub in _subs(job):
        copied, total = sub["entities"].get("bytes_copied"), sub["entities"].get("bytes_total")
        copy = f"{100 * copied / total:.0f}%" if copied is not None and total else "-"
        table.add_row(sub["entities"].get("server_id", "?"), sub["status"], copy)
    return table
