"""The hot write, dispatched without the route table.

``POST .../cloudservers/{server_id}/migrate`` is what a client repeats in a burst (a drain,
a rebalance). This pure-ASGI layer sits behind the signature check, beside the read cache: it
recognises the path by splitting it and calls the route's own function (``routes.servers
.migrate``) in the thread pool, skipping the route table's scan of some sixty patterns, the
dependency solver and Starlette's request objects. Its answers are the route's: the same JSON,
and refusals mapped by ``errors.error_response``, the one place that maps them. Any other
method on the path goes down the ordinary routes (which answer 405).
"""

from __future__ import annotations

import logging

from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Receive, Scope, Send

from coldshift.api import errors
from coldshift.api.read_cache import RouteTemplate
from coldshift.api.responses import JsonResponse
from coldshift.api.routes.servers import migrate
from coldshift.domain.errors import ColdshiftError
from coldshift.services.context import Region

log = logging.getLogger(__name__)

MIGRATE = RouteTemplate("/v1/{project_id}/cloudservers/{server_id}/migrate")


def migrate_path(path: str) -> tuple[str, str] | None:
    """The project and server ids of a migrate path, as the route's pattern would match it."""
    parts = path.split("/")
    if (
        len(parts) != 6
        or parts[0]
        or parts[1] != "v1"
        or parts[3] != "cloudservers"
        or parts[5] != "migrate"
        or not parts[2]
        or not parts[4]
    ):
        return None
    return parts[2], parts[4]


class HotRoutes:
    def __init__(self, app: ASGIApp, region: Region) -> None:
        self._app = app
        self._region = region

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        ids = None
        if scope["type"] == "http" and scope["method"] == "POST":
            ids = migrate_path(scope["path"])
        if ids is None:
            await self._app(scope, receive, send)
            return
        scope["route"] = MIGRATE
        state = scope["state"]
        try:
            answer = await run_in_threadpool(migrate, self._region, *ids, state["raw_body"])
        except Exception as exc:  # every refusal, and a fault, answered as the routes would
            if not isinstance(exc, ColdshiftError):
                log.exception("POST %s failed", scope["path"])
            await errors.error_response(scope["path"], exc, state.get("request_id", ""))(
                scope, receive, send
            )
            return
        await JsonResponse(answer)(scope, receive, send)
