"""The domain model: plain Python, no framework, no database."""

from __future__ import annotations
