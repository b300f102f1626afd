"""The operator command line."""

from __future__ import annotations
