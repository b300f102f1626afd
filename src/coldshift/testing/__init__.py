"""Fakes shipped with the package, for tests and demos (no mocks needed)."""

from __future__ import annotations

from coldshift.testing.fakes import FrozenClock, InMemoryJobStore

__all__ = ["FrozenClock", "InMemoryJobStore"]
