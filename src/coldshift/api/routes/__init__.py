"""HTTP routes, one module per Huawei resource; thin: parse, call a service, render."""

from __future__ import annotations
