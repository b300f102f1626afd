"""Calling a pure-ASGI layer directly, as uvicorn would, and collecting its answer."""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.types import ASGIApp, Message, Scope

REQUEST_ID = "f" * 32


def http_call(
    app: ASGIApp, method: str, path: str, *, query: bytes = b"", body: bytes = b""
) -> tuple[int, bytes, Scope]:
    """The status, the body and the scope (as the layer left it) of one request; the scope's
    state holds what the signature check puts there: the request id and the raw body."""
    sent: list[Message] = []
    scope: dict[str, Any] = {
        "type": "http",
        "method": method,
        "path": path,
        "query_string": query,
        "headers": [],
        "state": {"request_id": REQUEST_ID, "raw_body": body},
    }

    async def receive() -> Message:
        return {"type": "http.request", "body": body}

    async def send(message: Message) -> None:
        sent.append(message)

    async def run() -> None:
        await app(scope, receive, send)

    asyncio.run(run())
    return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:]), scope
