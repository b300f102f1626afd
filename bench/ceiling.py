"""The ceiling of bench.api: coldshift's HTTP stack with none of coldshift's routes.

Same framework (FastAPI with the orjson ``JsonResponse`` as default response class), same kind
of pure-ASGI middleware (it buffers the body and stamps ``X-Request-Id``, but checks no
signature), same sync route style (FastAPI runs them in its thread pool), same uvicorn settings,
and for the insert the same engine: ``coldshift.persistence.db.connect`` gives the pragmas, pool
and ``BEGIN IMMEDIATE`` of coldshift's own writes.

Usage: python -m bench.ceiling --db URL --port N
"""

from __future__ import annotations

import argparse
import time
import uuid

import uvicorn
from fastapi import FastAPI, Request
from sqlalchemy import Column, Float, Integer, MetaData, Table, Text
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from coldshift.api.responses import JsonResponse
from coldshift.persistence.db import Database, connect

_metadata = MetaData()
bench_rows = Table(
    "bench_rows",
    _metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("body", Text, nullable=False),
    Column("created_at", Float, nullable=False),
)


class RequestIdMiddleware:
    """Buffers the body and stamps a request id, as coldshift's AuthMiddleware does."""

    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        request_id = uuid.uuid4().hex.encode()
        chunks: list[bytes] = []
        more = True
        while more:
            message = await receive()
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        body = b"".join(chunks)
        scope.setdefault("state", {})["raw_body"] = body

        async def replay() -> Message:
            return {"type": "http.request", "body": body, "more_body": False}

        async def stamped(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [*message.get("headers", []), (b"x-request-id", request_id)]
                message = {**message, "headers": headers}
            await send(message)

        await self._app(scope, replay, stamped)


def create_ceiling_app(db: Database) -> FastAPI:
    app = FastAPI(title="ceiling", default_response_class=JsonResponse)

    @app.get("/trivial")
    def trivial() -> JsonResponse:
        return JsonResponse({"ok": True})

    @app.post("/insert")
    def insert(request: Request) -> JsonResponse:
        return _insert(db, request.state.raw_body.decode())

    app.add_middleware(RequestIdMiddleware)
    return app


def _insert(db: Database, body: str) -> JsonResponse:
    with db.write() as conn:
        result = conn.execute(bench_rows.insert().values(body=body, created_at=time.time()))
    key = result.inserted_primary_key
    assert key is not None
    return JsonResponse({"id": key[0]})


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", required=True)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    db = connect(args.db)
    _metadata.create_all(db.engine)
    try:
        uvicorn.run(
            create_ceiling_app(db),
            host="127.0.0.1",
            port=args.port,
            log_level="warning",
            access_log=False,
        )
    finally:
        db.dispose()


if __name__ == "__main__":
    main()
