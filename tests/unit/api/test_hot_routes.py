"""The hot-route layer's own rules, over a stand-in application behind it and a stand-in for
the route's function: which paths it answers itself, that everything else goes down the ordinary
routes untouched, and that its refusals and faults are the error bodies the routes would give."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from starlette.types import Receive, Scope, Send

from coldshift.api import hot_routes
from coldshift.api.hot_routes import MIGRATE, HotRoutes, migrate_path
from coldshift.domain.errors import ServerNotFound
from tests.unit.api.asgi import http_call

PROJECT = "0" * 32
SERVER_ID = "9b6f2c1e-6a7d-4c35-9a47-1d0c0d3b7e21"
PATH = f"/v1/{PROJECT}/cloudservers/{SERVER_ID}/migrate"
REGION: Any = object()  # the layer hands it on to the route's function, nothing more


class Routes:
    """The ordinary routes behind the layer: count what reaches them."""

    def __init__(self) -> None:
        self.calls = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.calls += 1
        await send({"type": "http.response.start", "status": 299, "headers": []})
        await send({"type": "http.response.body", "body": b"routes"})


def call(layer: HotRoutes, method: str, path: str, body: bytes = b"") -> tuple[int, bytes, Scope]:
    return http_call(layer, method, path, body=body)


@pytest.fixture
def routes() -> Routes:
    return Routes()


@pytest.fixture
def layer(routes: Routes) -> HotRoutes:
    return HotRoutes(routes, REGION)


def test_the_migrate_path_is_recognised_as_the_route_pattern_would() -> None:
    assert migrate_path(PATH) == (PROJECT, SERVER_ID)
    assert migrate_path("/v1/p/cloudservers/any-id/migrate") == ("p", "any-id")
    for path in [
        PATH + "/",
        f"/v1//cloudservers/{SERVER_ID}/migrate",
        f"/v1/{PROJECT}/cloudservers//migrate",
        f"/v1.1/{PROJECT}/cloudservers/{SERVER_ID}/migrate",
        f"/v1/{PROJECT}/servers/{SERVER_ID}/migrate",
        f"/v1/{PROJECT}/cloudservers/{SERVER_ID}/action",
        f"v1/{PROJECT}/cloudservers/{SERVER_ID}/migrate",
        f"/v1/{PROJECT}/cloudservers/{SERVER_ID}",
    ]:
        assert migrate_path(path) is None, path


def test_a_migrate_post_is_answered_by_the_route_function(
    layer: HotRoutes, routes: Routes, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[tuple[Any, ...]] = []

    def migrate(region: Any, project_id: str, server_id: str, body: bytes) -> dict[str, str]:
        seen.append((region, project_id, server_id, body))
        return {"job_id": "j" * 32}

    monkeypatch.setattr(hot_routes, "migrate", migrate)
    status, body, scope = call(layer, "POST", PATH, b'{"migrate": {}}')
    assert (status, orjson.loads(body)) == (200, {"job_id": "j" * 32})
    assert seen == [(REGION, PROJECT, SERVER_ID, b'{"migrate": {}}')]
    assert scope["route"] is MIGRATE  # what the metrics label the request with
    assert routes.calls == 0


def test_other_methods_and_paths_go_down_the_ordinary_routes(
    layer: HotRoutes, routes: Routes
) -> None:
    assert call(layer, "GET", PATH)[:2] == (299, b"routes")  # the router answers its 405
    assert call(layer, "POST", PATH + "/")[:2] == (299, b"routes")
    assert call(layer, "POST", f"/v1/{PROJECT}/cloudservers")[:2] == (299, b"routes")
    assert routes.calls == 3


def test_a_refusal_is_the_mapped_error_body(
    layer: HotRoutes, monkeypatch: pytest.MonkeyPatch
) -> None:
    def migrate(*_: Any) -> dict[str, str]:
        raise ServerNotFound(f"server {SERVER_ID} does not exist")

    monkeypatch.setattr(hot_routes, "migrate", migrate)
    status, body, _ = call(layer, "POST", PATH)
    error = orjson.loads(body)["error"]
    assert status == 404
    assert error["code"] and SERVER_ID in error["message"]


def test_a_fault_is_an_internal_error_that_names_nothing_inside(
    layer: HotRoutes, monkeypatch: pytest.MonkeyPatch
) -> None:
    def migrate(*_: Any) -> dict[str, str]:
        raise RuntimeError("secret detail of the fault")

    monkeypatch.setattr(hot_routes, "migrate", migrate)
    status, body, _ = call(layer, "POST", PATH)
    error = orjson.loads(body)["error"]
    assert status == 500
    assert error["code"] and error["message"] == "internal error"
