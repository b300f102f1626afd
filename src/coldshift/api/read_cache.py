"""The hot reads, answered again from the bytes of their last answer while nothing they were
built from has changed.

``GET job``, ``GET server`` and the v1 server page are what clients poll. This pure-ASGI layer
sits behind the signature check: it recognises those paths by splitting them (no scan of the
route table), and keeps each one's last 200 answer, stamped with the generations of the tables
it was read from (``ChangeStamps``, taken before the read). While the stamp holds it answers
those bytes without routing, a thread-pool hop, a database read or a view (on PostgreSQL the
cross-process barrier is awaited on the event loop); otherwise the request goes down the
ordinary route and its answer is kept. So a cached answer is byte for byte what the route would
answer, and never older than a commit made before the request (persistence/change_feed.py says
why that holds across processes too).
"""

from __future__ import annotations

import re
from collections import OrderedDict
from dataclasses import dataclass

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from coldshift.domain.ids import is_job_id
from coldshift.services.queries import ChangeStamps

_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_SERVER_TABLES = ("servers", "hosts")
_JOB_TABLES = ("jobs",)
#: answers kept; the oldest goes first (a client choosing query strings must not grow it)
MAX_ENTRIES = 20_000
#: bigger answers are not kept (a page of 1,000 servers is about 2 MB)
MAX_BODY = 512 * 1024


@dataclass(frozen=True, slots=True)
class RouteTemplate:
    """What the metrics read from ``scope["route"]``, as the router would have set it."""

    path: str


JOB = RouteTemplate("/v1/{project_id}/jobs/{job_id}")
SERVER = RouteTemplate("/v1/{project_id}/cloudservers/{server_id}")
SERVER_PAGE = RouteTemplate("/v1/{project_id}/cloudservers/detail")


@dataclass(frozen=True, slots=True)
class _Answer:
    stamp: int
    start: Message
    body: bytes


def cacheable(path: str, query: bytes) -> tuple[RouteTemplate, tuple[str, ...]] | None:
    """The route a GET of ``path`` takes and the tables its answer is read from, when it is
    one of the cached ones."""
    parts = path.split("/")
    if len(parts) != 5 or parts[1] != "v1" or not parts[2]:
        return None
    kind, last = parts[3], parts[4]
    if kind == "jobs" and is_job_id(last):
        return JOB, _JOB_TABLES
    if kind != "cloudservers":
        return None
    if _UUID.match(last):
        return SERVER, _SERVER_TABLES
    # ``server_id=`` lists answer unknown ids with the time of asking: not kept.
    if last == "detail" and b"server_id" not in query:
        return SERVER_PAGE, _SERVER_TABLES
    return None


class ReadCache:
    def __init__(self, app: ASGIApp, stamps: ChangeStamps) -> None:
        self._app = app
        self._stamps = stamps
        self._answers: OrderedDict[tuple[str, bytes], _Answer] = OrderedDict()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "GET":
            await self._app(scope, receive, send)
            return
        query: bytes = scope.get("query_string", b"")
        found = cacheable(scope["path"], query)
        if found is None:
            await self._app(scope, receive, send)
            return
        route, tables = found
        stamp = await self._stamps.stamp_async(tables)
        if stamp is None:
            await self._app(scope, receive, send)
            return
        key = (scope["path"], query)
        answer = self._answers.get(key)
        if answer is not None and answer.stamp == stamp:
            scope["route"] = route
            await send(answer.start)
            await send({"type": "http.response.body", "body": answer.body})
            return
        await self._app(scope, receive, self._keeping(key, stamp, scope, send))

    def _keeping(self, key: tuple[str, bytes], stamp: int, scope: Scope, send: Send) -> Send:
        """``send``, keeping a whole 200 answer that does not carry this request's id."""
        start: Message | None = None
        chunks: list[bytes] = []

        async def wrapped(message: Message) -> None:
            nonlocal start
            await send(message)
            if message["type"] == "http.response.start":
                start = message if message["status"] == 200 else None
                return
            if start is None or message["type"] != "http.response.body":
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                self._keep(key, stamp, start, b"".join(chunks), scope)

        return wrapped

    def _keep(
        self, key: tuple[str, bytes], stamp: int, start: Message, body: bytes, scope: Scope
    ) -> None:
        request_id: str = scope.get("state", {}).get("request_id", "")
        if len(body) > MAX_BODY or (request_id and request_id.encode() in body):
            return
        headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"x-request-id"]
        self._answers[key] = _Answer(stamp, {**start, "headers": headers}, body)
        self._answers.move_to_end(key)
        while len(self._answers) > MAX_ENTRIES:
            self._answers.popitem(last=False)
