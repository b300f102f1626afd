"""Domain objects → Huawei wire formats, one module per API family (types as the SDK expects)."""

from __future__ import annotations
