"""The Huawei-compatible HTTP layer."""

from __future__ import annotations
