"""ASGI middleware: every HTTP request counted and timed by method, route template, status.

The route template is the one the router matched (``scope["route"]``), never the raw path, so
ids do not multiply the series; a request no route took (refused before routing, or unknown)
is ``route="unmatched"``. The hot path is a dict lookup and two updates of cached children.
"""

from __future__ import annotations

import time

from prometheus_client import Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from coldshift.metrics.registry import Metrics

UNMATCHED = "unmatched"
#: methods counted by name; any other is "other" (a client chooses it: it must not add series)
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_Children = tuple[Counter, Histogram]


class HttpMetrics:
    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self._app = app
        self._metrics = metrics
        self._children: dict[tuple[str, str, int], _Children] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def sent(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self._app(scope, receive, sent)
        finally:
            route = getattr(scope.get("route"), "path", UNMATCHED)
            method = scope["method"] if scope["method"] in METHODS else "other"
            count, seconds = self._child(method, route, status)
            count.inc()
            seconds.observe(time.perf_counter() - started)

    def _child(self, method: str, route: str, status: int) -> _Children:
        key = (method, route, status)
        children = self._children.get(key)
        if children is None:
            children = (
                self._metrics.http_requests.labels(method, route, str(status)),
                self._metrics.http_seconds.labels(method, route),
            )
            self._children[key] = children
        return children
