"""The read cache's own rules, over a stand-in application that counts what reaches it: which
paths it keeps, that a changed stamp sends the request down the route again, and what it never
keeps (errors, answers carrying the request's id, queries listing server ids)."""

from __future__ import annotations

from collections.abc import Iterable

import pytest
from starlette.types import Receive, Scope, Send

from coldshift.api import read_cache
from coldshift.api.read_cache import JOB, SERVER, SERVER_PAGE, ReadCache, cacheable
from tests.unit.api.asgi import http_call

PROJECT = "0" * 32
SERVER_ID = "9b6f2c1e-6a7d-4c35-9a47-1d0c0d3b7e21"
JOB_ID = "a" * 32


class Stamps:
    def __init__(self) -> None:
        self.generation: int | None = 0

    def stamp(self, tables: Iterable[str]) -> int | None:
        return self.generation

    async def stamp_async(self, tables: Iterable[str]) -> int | None:
        return self.generation


class Route:
    """The application behind the cache: answers ``status`` with a body naming its call."""

    def __init__(self) -> None:
        self.calls = 0
        self.status = 200
        self.body = b""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.calls += 1
        body = self.body or f'{{"call": {self.calls}}}'.encode()
        headers = [(b"content-type", b"application/json")]
        await send({"type": "http.response.start", "status": self.status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def get(cache: ReadCache, path: str, query: bytes = b"") -> tuple[int, bytes, Scope]:
    return http_call(cache, "GET", path, query=query)


@pytest.fixture
def route() -> Route:
    return Route()


@pytest.fixture
def stamps() -> Stamps:
    return Stamps()


@pytest.fixture
def cache(route: Route, stamps: Stamps) -> ReadCache:
    return ReadCache(route, stamps)


def test_the_hot_paths_are_recognised_without_the_route_table() -> None:
    assert cacheable(f"/v1/{PROJECT}/jobs/{JOB_ID}", b"") == (JOB, ("jobs",))
    assert cacheable(f"/v1/{PROJECT}/cloudservers/{SERVER_ID}", b"")[0] is SERVER  # type: ignore[index]
    assert cacheable(f"/v1/{PROJECT}/cloudservers/detail", b"limit=100")[0] is SERVER_PAGE  # type: ignore[index]
    for path, query in [
        (f"/v1/{PROJECT}/cloudservers/detail", b"server_id=" + SERVER_ID.encode()),
        (f"/v1/{PROJECT}/cloudservers/flavors", b""),
        (f"/v1/{PROJECT}/jobs/not-a-job", b""),
        (f"/v1.1/{PROJECT}/cloudservers/detail", b""),
        (f"/v1/{PROJECT}/cloudservers/{SERVER_ID}/os-interface", b""),
        (f"/v1//cloudservers/{SERVER_ID}", b""),
    ]:
        assert cacheable(path, query) is None, path


def test_an_answer_is_served_again_until_the_stamp_changes(
    cache: ReadCache, route: Route, stamps: Stamps
) -> None:
    path = f"/v1/{PROJECT}/cloudservers/{SERVER_ID}"
    assert get(cache, path)[:2] == (200, b'{"call": 1}')
    status, body, scope = get(cache, path)
    assert (status, body, route.calls) == (200, b'{"call": 1}', 1)
    assert scope["route"].path == SERVER.path  # what the metrics label the request with
    stamps.generation = 1
    assert get(cache, path)[1] == b'{"call": 2}'
    assert get(cache, path + "x")[1] == b'{"call": 3}'  # not a server id: never kept
    assert get(cache, path + "x")[1] == b'{"call": 4}'


def test_no_stamp_means_no_cache(cache: ReadCache, route: Route, stamps: Stamps) -> None:
    stamps.generation = None
    path = f"/v1/{PROJECT}/jobs/{JOB_ID}"
    get(cache, path)
    get(cache, path)
    assert route.calls == 2


def test_errors_and_answers_carrying_the_request_id_are_not_kept(
    cache: ReadCache, route: Route
) -> None:
    path = f"/v1/{PROJECT}/jobs/{JOB_ID}"
    route.status = 400
    get(cache, path)
    get(cache, path)
    assert route.calls == 2
    route.status, route.body = 200, b'{"request_id": "' + b"f" * 32 + b'"}'
    get(cache, path)
    get(cache, path)
    assert route.calls == 4


def test_the_cache_is_bounded(
    cache: ReadCache, route: Route, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(read_cache, "MAX_ENTRIES", 3)
    page = f"/v1/{PROJECT}/cloudservers/detail"
    for n in range(10):
        get(cache, page, f"limit={n}".encode())
    get(cache, page, b"limit=9")
    assert route.calls == 10  # the newest is kept
    get(cache, page, b"limit=0")
    assert route.calls == 11  # the oldest went
