"""The ASGI application: routes, the auth middleware and the one exception handler."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from coldshift.api import docs, errors, openapi
from coldshift.api.auth import AuthMiddleware
from coldshift.api.hot_routes import HotRoutes
from coldshift.api.read_cache import ReadCache
from coldshift.api.responses import JsonResponse
from coldshift.api.routes import (
    admin,
    catalog,
    dedicated_hosts,
    groups,
    jobs,
    nova,
    operations,
    servers,
)
from coldshift.domain.errors import BadRequest, ColdshiftError, MethodNotAllowed, UnknownApi
from coldshift.services.context import Region


def create_app(
    region: Region,
    *,
    max_body: int = 1024 * 1024,
    max_skew: float = 900.0,
    on_shutdown: Callable[[], None] | None = None,
    public_prefixes: tuple[str, ...] = (),
) -> FastAPI:
    """``on_shutdown`` runs when the server stops (SIGTERM), after in-flight requests.
    Paths under ``public_prefixes`` are not signed (the dashboard and metrics: see web.py)."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        if on_shutdown is not None:
            await run_in_threadpool(on_shutdown)

    app = FastAPI(
        title="coldshift",
        version="0.1.0",
        default_response_class=JsonResponse,
        lifespan=lifespan,
        docs_url=None,  # served by install_docs, from the package's files instead of a CDN
        redoc_url=None,
    )
    app.state.region = region
    # catalog and groups first: their /v1/{p}/cloudservers/flavors and .../os-server-groups
    # must win over /v1/{p}/cloudservers/{id}
    for module in (catalog, groups, servers, jobs, nova, dedicated_hosts, admin, operations):
        app.include_router(module.router)
    app.add_api_route("/healthz", _health, methods=["GET"], include_in_schema=False)
    openapi.install(app)
    docs.install_docs(app)
    app.add_exception_handler(ColdshiftError, errors.handle)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, errors.handle)
    # inside the signature check: the hot paths, answered without the route table
    app.add_middleware(HotRoutes, region=region)
    app.add_middleware(ReadCache, stamps=region.changes)
    app.add_middleware(
        AuthMiddleware,
        catalog=region.catalog,
        max_body=max_body,
        max_skew=max_skew,
        public_prefixes=public_prefixes,
    )
    return app


def _health() -> dict[str, str]:
    return {"status": "ok"}


async def _http_error(request: Request, exc: Exception) -> Response:
    status = getattr(exc, "status_code", 500)
    route = f"{request.method} {request.url.path}"
    if status == 404:
        mapped: ColdshiftError = UnknownApi(f"the API {route} does not exist")
    elif status == 405:
        mapped = MethodNotAllowed(f"the API {route} does not exist: the path takes other methods")
    else:
        mapped = BadRequest(str(getattr(exc, "detail", "bad request")))
    response = errors.error_response(
        request.url.path, mapped, getattr(request.state, "request_id", "")
    )
    if status == 405:
        response.status_code = 405
    return response


async def _validation_error(request: Request, exc: Exception) -> Response:
    return errors.error_response(
        request.url.path,
        BadRequest(f"invalid request: {exc}"),
        getattr(request.state, "request_id", ""),
    )
