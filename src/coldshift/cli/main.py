"""`coldshift serve` and friends."""

from __future__ import annotations

import errno
import fcntl
import logging
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, TextIO

import typer
from rich.console import Console
from rich.markup import escape

from coldshift.catalog import CatalogError, load_catalog, load_default_catalog
from coldshift.cli import operator
from coldshift.config import Settings, default_db_url
from coldshift.domain.catalog import Catalog
from coldshift.domain.errors import ColdshiftError
from coldshift.jobs.model import MaintenanceTask

app = typer.Typer(add_completion=False, help="coldshift: a local Huawei Cloud ECS/DeH region.")
console = Console(soft_wrap=True)
DEFAULTS = Settings()


@app.callback()
def _root() -> None:
    """coldshift: cold migration of ECSs between dedicated hosts and the public pool."""


@app.command()
def serve(
    catalog: Annotated[str | None, typer.Option(help="Region catalog (TOML).")] = None,
    db: Annotated[
        str | None, typer.Option(help="sqlite:///PATH or postgresql://USER@HOST:PORT/DB.")
    ] = None,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8080,
    data_dir: Annotated[
        str, typer.Option(help="Where the default SQLite file lives.")
    ] = "coldshift-data",
    workers: Annotated[int, typer.Option(help="Job worker threads.")] = DEFAULTS.workers,
    lease_seconds: Annotated[
        float, typer.Option(help="Job lease (takeover after).")
    ] = DEFAULTS.lease_seconds,
    poll_seconds: Annotated[
        float, typer.Option(help="Idle workers look for jobs this often (besides wake-ups).")
    ] = DEFAULTS.poll_seconds,
    drain_seconds: Annotated[
        float,
        typer.Option(help="On SIGTERM, running jobs may end within this; then handed back."),
    ] = 10.0,
    job_retention_hours: Annotated[
        float, typer.Option(help="How long finished jobs stay queryable.")
    ] = 24.0,
    log_level: Annotated[str, typer.Option(help="Log level.")] = "warning",
) -> None:
    """Start a region: the Huawei ECS, Nova and DeH APIs plus the job workers."""
    # Imported here, not at the top: the web stack and the stores take two seconds to import,
    # which every client command (coldshift jobs, hosts, ...) would pay for nothing.
    import uvicorn

    from coldshift import bootstrap, web

    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(message)s")
    loaded = _load_catalog(catalog)
    settings = Settings(
        catalog_path=catalog,
        db_url=db or default_db_url(data_dir),
        host=host,
        port=port,
        workers=workers,
        lease_seconds=lease_seconds,
        poll_seconds=poll_seconds,
        drain_seconds=drain_seconds,
        job_retention_seconds=job_retention_hours * 3600,
    )
    with _database_errors():
        bootstrap.check_db_url(settings.db_url)
    # Bound before anything is built: a port in use is one line, not a banner, a schema and
    # job workers to undo. The socket is only bound here; uvicorn starts listening on it.
    listening = _bind(host, port)
    lock = _single_process_lock(settings.db_url)
    with _database_errors():
        try:
            container = bootstrap.build(settings, loaded)
        except ColdshiftError as exc:
            console.print(f"[red]coldshift: {exc}[/red]")
            raise typer.Exit(2) from exc
    try:
        bootstrap.start(container)
    except ColdshiftError as exc:
        console.print(f"[red]coldshift: {exc}[/red]")
        raise typer.Exit(2) from exc
    _banner(settings, loaded)
    config = uvicorn.Config(
        web.create_app(container), host=host, port=port, log_level=log_level, access_log=False
    )
    server = uvicorn.Server(config)
    try:
        server.run(sockets=[listening])
    except KeyboardInterrupt:
        pass  # as uvicorn.run: a second Ctrl-C during shutdown ends quietly
    finally:
        # Reached only when uvicorn returns without re-raising a signal; stop is idempotent.
        bootstrap.stop(container)
        listening.close()
        if lock is not None:
            lock.close()
    if not server.started:
        raise typer.Exit(3)  # uvicorn.run's STARTUP_FAILURE, which it exits with itself


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET  # as uvicorn tells them apart
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    # As uvicorn: a port a previous run left in TIME_WAIT is free; one that is listened on is not.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        reason = exc.strerror or os.strerror(exc.errno or errno.EINVAL)
        console.print(
            f"[red]coldshift: cannot listen on {escape(host)}:{port}: {reason.lower()}[/red]"
        )
        raise typer.Exit(2) from exc
    return sock


@contextmanager
def _database_errors() -> Iterator[None]:
    """A database URL that is wrong is bad usage (2); one that is right but does not answer
    is an unreachable region (3). Either is one line, with the URL's password hidden."""
    from coldshift import bootstrap

    try:
        yield
    except bootstrap.DatabaseUrlError as exc:
        console.print(f"[red]coldshift: {escape(str(exc))}[/red]")
        raise typer.Exit(2) from exc
    except bootstrap.DatabaseUnreachable as exc:
        console.print(f"[red]coldshift: {escape(str(exc))}[/red]")
        raise typer.Exit(3) from exc


def _load_catalog(path: str | None) -> Catalog:
    try:
        return load_catalog(path) if path else load_default_catalog()
    except CatalogError as exc:
        console.print(f"[red]coldshift: {exc}[/red]")
        raise typer.Exit(2) from exc


def _single_process_lock(db_url: str) -> TextIO | None:
    """One process per SQLite file: a second one would run the same jobs twice."""
    from coldshift import bootstrap

    database = bootstrap.sqlite_path(db_url)
    if database is None:
        return None
    path = database + ".lock"
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    handle = open(path, "w")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError as exc:
        console.print(
            f"[red]coldshift: another coldshift process already serves {db_url}; "
            "SQLite supports one process; use PostgreSQL for several.[/red]"
        )
        raise typer.Exit(3) from exc
    return handle


def _banner(settings: Settings, catalog: Catalog) -> None:
    url = f"http://{settings.host}:{settings.port}"
    console.print(f"coldshift region [bold]{catalog.region_id}[/bold] listening on {url}")
    from coldshift.persistence.db import display_url

    console.print(f"database: {escape(display_url(settings.db_url))}")  # never its password
    console.print(
        "[yellow]demo keys below are for local use only; never expose this region[/yellow]"
    )
    for project in catalog.projects:
        role = " (admin)" if project.admin else ""
        console.print(
            f"  project {project.name}{role}: project_id={project.id} "
            f"ak={project.access_key} sk={project.secret_key}"
        )


def main() -> None:
    app()


operator.register(app)  # the client commands: migrate, hosts, jobs, why, drain


@app.command()
def check(
    db: Annotated[str, typer.Option(help="Database URL of the region to check.")] = default_db_url(
        "coldshift-data"
    ),
) -> None:
    """Verify the invariants of docs/cold-migration.md; exit 1 and list the drift if any."""
    from coldshift import bootstrap

    try:
        with _database_errors():
            report = bootstrap.check_database(db)
    except bootstrap.NoDatabase as exc:
        console.print(f"[red]coldshift: {escape(str(exc))}[/red]")
        raise typer.Exit(2) from exc
    for item in report.drift:
        console.print(f"[red]{escape(item)}[/red]")  # ids in [...] are not markup
    for task in report.maintenance:
        console.print(escape(_maintenance_line(task)))
    if report.drift:
        raise typer.Exit(1)
    console.print("no drift: capacity, placement and jobs are consistent")


def _maintenance_line(task: MaintenanceTask) -> str:
    """A pending clean-up is no drift (the invariants hold): it is shown, not failed on."""
    server = task.job.entities.get("server_id", "-")
    return (
        f"maintenance pending: {task.work.value} {task.job.job_type}.{task.step} of job "
        f"{task.job.id} (ECS {server}), {task.attempts} tries, last error: {task.last_error}"
    )
