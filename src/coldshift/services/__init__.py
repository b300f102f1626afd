"""Use cases: the synchronous rules of each request, and the workflows its job runs."""

from __future__ import annotations
