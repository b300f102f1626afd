"""The load generator of bench.api, run in its own process: pre-built raw HTTP/1.1 requests sent
over keep-alive connections with asyncio streams (uvloop when installed), so that a request
costs the generator a write, a read and a clock reading, and nothing is signed while timing.

Usage: python -m bench.loadgen SPEC.json   (writes its JSON result to the file SPEC names)

SPEC: {"port", "requests": [latin-1 text of each whole request], "expect": status,
"concurrency", "max_requests", "seconds", "cycle": reuse requests round-robin (else each once),
"out": the result's path}.
Bounded: it stops after ``max_requests`` requests or ``seconds`` seconds, whichever comes first.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Load:
    port: int
    requests: list[bytes]
    expect: int
    concurrency: int
    max_requests: int
    seconds: float
    cycle: bool
    issued: int = 0
    deadline: float = 0.0
    latencies: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    bodies: list[str] = field(default_factory=list)  # first answers of unexpected status

    def next_request(self) -> bytes | None:
        if self.issued >= self.max_requests or time.perf_counter() >= self.deadline:
            return None
        if not self.cycle and self.issued >= len(self.requests):
            return None
        request = self.requests[self.issued % len(self.requests)]
        self.issued += 1
        return request

    def error(self, what: str, body: bytes = b"") -> None:
        self.errors[what] = self.errors.get(what, 0) + 1
        if body and len(self.bodies) < 3:
            self.bodies.append(body[:300].decode("utf-8", "replace"))


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes, bool]:
    """(status, body, server keeps the connection open) of one Content-Length response."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split(b" ", 2)[1])
    length = 0
    keep = True
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"connection" and value.strip().lower() == b"close":
            keep = False
    body = await reader.readexactly(length) if length else b""
    return status, body, keep


async def connection(
    load: Load, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    try:
        while (request := load.next_request()) is not None:
            started = time.perf_counter()
            writer.write(request)
            status, body, keep = await read_response(reader)
            load.latencies.append(time.perf_counter() - started)
            if status != load.expect:
                load.error(str(status), body)
            if not keep:
                writer.close()
                reader, writer = await asyncio.open_connection("127.0.0.1", load.port)
    except (OSError, asyncio.IncompleteReadError) as exc:
        load.error(type(exc).__name__)
    finally:
        writer.close()


async def run(load: Load) -> dict[str, Any]:
    # Connections open before the clock starts.
    opened = await asyncio.gather(
        *(asyncio.open_connection("127.0.0.1", load.port) for _ in range(load.concurrency))
    )
    started = time.perf_counter()
    load.deadline = started + load.seconds
    await asyncio.gather(*(connection(load, reader, writer) for reader, writer in opened))
    elapsed = time.perf_counter() - started
    return {
        "completed": len(load.latencies),
        "elapsed": elapsed,
        "latencies": load.latencies,
        "errors": load.errors,
        "error_bodies": load.bodies,
    }


def main() -> None:
    with open(sys.argv[1], encoding="utf-8") as handle:
        spec = json.load(handle)
    load = Load(
        port=spec["port"],
        requests=[r.encode("latin-1") for r in spec["requests"]],
        expect=spec["expect"],
        concurrency=spec["concurrency"],
        max_requests=spec["max_requests"],
        seconds=spec["seconds"],
        cycle=spec["cycle"],
    )
    try:
        import uvloop

        result = uvloop.run(run(load))
    except ImportError:
        result = asyncio.run(run(load))
    with open(spec["out"], "w", encoding="utf-8") as out:
        json.dump(result, out)


if __name__ == "__main__":
    main()
