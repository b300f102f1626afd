"""Does a no-room answer stall placement? The placements/s one thread gets alone, then beside
another thread asking no-room questions back to back, for a bounded wall-clock time each.

Both threads share one core (bench.placement pins the process) and the GIL: even an answer
that holds no lock takes CPU from the placing thread, so "beside" is never quite "alone".
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from typing import Any

#: decide where a flavor goes and take its room (None: no room); give that room back
Decide = Callable[[Any], Any]
Release = Callable[[Any], None]


def placements_beside(
    decide: Decide,
    release: Release,
    flavors: Sequence[object],
    seconds: float,
    ask: Callable[[], object] | None,
    window: int = 200,
) -> tuple[float, float]:
    """(placements/s, no-room answers/s) over ``seconds`` of wall clock while ``ask`` (if
    any) runs in a loop in another thread; the placing thread releases as bench.placement
    does, keeping ``window`` servers outstanding."""
    stop = threading.Event()
    answers = 0

    def asking() -> None:
        nonlocal answers
        while not stop.is_set() and ask is not None:
            ask()
            answers += 1

    asker = threading.Thread(target=asking, daemon=True)
    outstanding: deque[object] = deque()
    placed = 0
    started = time.perf_counter()
    asker.start()
    for flavor in flavors:
        if time.perf_counter() - started > seconds:
            break
        token = decide(flavor)
        if token is not None:
            placed += 1
            outstanding.append(token)
        if len(outstanding) > window:
            release(outstanding.popleft())
    elapsed = time.perf_counter() - started
    stop.set()
    asker.join()  # an old no-room answer may take seconds: it ends its last one
    while outstanding:
        release(outstanding.popleft())
    return placed / elapsed, answers / elapsed


def print_stall(
    decide: Decide,
    release: Release,
    flavors: Sequence[object],
    askers: Mapping[str, Callable[[], object]],
    seconds: float,
) -> None:
    alone, _ = placements_beside(decide, release, flavors, seconds, None)
    print(f"  stall: durable placements alone {alone:,.0f}/s (wall, {seconds:.0f} s)")
    for name, ask in askers.items():
        rate, answers = placements_beside(decide, release, flavors, seconds, ask)
        print(
            f"         beside {name:<14} {rate:>8,.0f}/s ({rate / alone:.0%} of alone), "
            f"{answers:,.1f} no-room answers/s"
        )
