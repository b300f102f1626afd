"""Fakes shipped with the package, for tests and demos (no mocks needed)."""

from __future__ import annotations

from coldshift.testing.fakes import FrozenClock, InMemoryJobStore
from coldshift.testing.region import InMemoryRegionStore

__all__ = ["FrozenClock", "InMemoryJobStore", "InMemoryRegionStore"]
