"""Replay pre-built raw HTTP requests with wrk (Debian's ``wrk``: ``apt-get install wrk``).

bench.loadgen is a Python process on the same cores as the server: its own ceiling (about
4,500 req/s here) flatters slow endpoints. wrk is C and event-driven, so the ratios it measures
are the server's. The requests are written to a file, NUL-separated, and a Lua script hands
them out: each wrk thread takes every n-th one; ``cycle`` repeats them, else each is sent once
and a thread stops when all of its own were answered (POST migrate names a different server in
each request).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

WRK = "wrk"
THREADS = 2

_SCRIPT = r"""
local path = os.getenv("COLDSHIFT_WRK_REQUESTS")
local cycle = os.getenv("COLDSHIFT_WRK_CYCLE") == "1"
local expect = tonumber(os.getenv("COLDSHIFT_WRK_EXPECT"))
local nthreads = tonumber(os.getenv("COLDSHIFT_WRK_THREADS"))
local threads = {}
local counter = 0

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  local f = assert(io.open(path, "rb"))
  local data = f:read("*a")
  f:close()
  mine = {}
  local i = 0
  for r in string.gmatch(data, "([^%z]+)") do
    if i % nthreads == id then mine[#mine + 1] = r end
    i = i + 1
  end
  nxt, ok, bad, answered, first_bad = 0, 0, 0, 0, ""
end

function request()
  nxt = nxt + 1
  if nxt > #mine then
    if cycle then nxt = 1 else nxt = #mine end
  end
  return mine[nxt]
end

function response(status, headers, body)
  answered = answered + 1
  if cycle or answered <= #mine then
    if status == expect then
      ok = ok + 1
    else
      bad = bad + 1
      if first_bad == "" then first_bad = status .. " " .. string.sub(body or "", 1, 200) end
    end
  end
  if not cycle and answered >= #mine then wrk.thread:stop() end
end

function done(summary, latency, requests)
  local ok_all, bad_all, first = 0, 0, ""
  for _, t in ipairs(threads) do
    ok_all = ok_all + t:get("ok")
    bad_all = bad_all + t:get("bad")
    if first == "" then first = t:get("first_bad") end
  end
  first = string.gsub(first, "[^%w %.:,_%-]", " ")
  local e = summary.errors
  io.write("COLDSHIFT-WRK ", string.format(
    '{"ok": %d, "bad": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, ' ..
    '"socket_errors": %d, "first_bad": "%s"}',
    ok_all, bad_all, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write + e.timeout, first), "\n")
end
"""


def available() -> bool:
    return shutil.which(WRK) is not None


def run(
    port: int, requests: list[bytes], expect: int, concurrency: int, seconds: float, cycle: bool
) -> dict[str, Any]:
    """One wrk run; the answer has ``ok`` (answers of the expected status), ``bad``,
    ``elapsed`` (s), ``p50``/``p99`` (s) and ``first_bad`` (status and start of a body)."""
    if not available():
        raise SystemExit("wrk is not installed: apt-get install wrk (or pass --tool loadgen)")
    threads = min(THREADS, concurrency, len(requests)) if not cycle else min(THREADS, concurrency)
    with tempfile.TemporaryDirectory() as tmp:
        script, bodies = Path(tmp) / "replay.lua", Path(tmp) / "requests.bin"
        script.write_text(_SCRIPT)
        bodies.write_bytes(b"\0".join(requests))
        env = {
            **os.environ,
            "COLDSHIFT_WRK_REQUESTS": str(bodies),
            "COLDSHIFT_WRK_CYCLE": "1" if cycle else "0",
            "COLDSHIFT_WRK_EXPECT": str(expect),
            "COLDSHIFT_WRK_THREADS": str(threads),
        }
        args = [
            WRK,
            f"-t{threads}",
            f"-c{concurrency}",
            f"-d{max(1, round(seconds))}s",  # wrk takes whole seconds
            "--timeout",
            "10s",
            "-s",
            str(script),
            f"http://127.0.0.1:{port}/",
        ]
        done = subprocess.run(
            args, env=env, capture_output=True, text=True, timeout=seconds + 120, check=False
        )
    lines = [x for x in done.stdout.splitlines() if x.startswith("COLDSHIFT-WRK ")]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stdout}{done.stderr}")
    line = lines[0]
    figures = json.loads(line.removeprefix("COLDSHIFT-WRK "))
    return {
        "ok": figures["ok"],
        "bad": figures["bad"] + figures["socket_errors"],
        "elapsed": figures["duration_us"] / 1e6,
        "p50": figures["p50_us"] / 1e6,
        "p99": figures["p99_us"] / 1e6,
        "first_bad": figures["first_bad"],
    }
