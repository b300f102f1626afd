"""The ASGI composition of one built container: the Huawei APIs, the dashboard and /metrics."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from coldshift import bootstrap
from coldshift.api.app import create_app as create_api
from coldshift.dashboard import PREFIX as DASHBOARD
from coldshift.dashboard import dashboard_routes
from coldshift.domain.commands import MigrateServer
from coldshift.metrics import CONTENT_TYPE, HttpMetrics, Metrics
from coldshift.services.what_if import WhatIf, what_if
from coldshift.services.workflows import build_registry

METRICS = "/metrics"


def create_app(container: bootstrap.Container) -> FastAPI:
    """The application ``coldshift serve`` runs; stopping it stops the container's jobs."""
    settings = container.settings
    region = container.region
    app = create_api(
        region,
        max_body=settings.max_body_bytes,
        max_skew=settings.signature_skew_seconds,
        on_shutdown=lambda: bootstrap.stop(container),
        public_prefixes=(DASHBOARD, METRICS),
    )
    registry = build_registry(region)

    def step_names(job_type: str) -> Sequence[str]:
        workflow = registry.get(job_type)
        return [step.name for step in workflow.steps] if workflow else []

    def ask_what_if(command: MigrateServer) -> WhatIf:
        return what_if(region, command)

    app.router.routes.extend(
        dashboard_routes(region.queries, region.catalog, step_names, ask_what_if)
    )
    app.add_route(METRICS, _metrics_endpoint(container.metrics), include_in_schema=False)
    app.add_middleware(HttpMetrics, metrics=container.metrics)  # outermost: sees every answer
    return app


def _metrics_endpoint(metrics: Metrics) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(_: Request) -> Response:
        # the region's gauges read the database: off the event loop
        return Response(await run_in_threadpool(metrics.render), media_type=CONTENT_TYPE)

    return endpoint
