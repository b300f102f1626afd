"""Hypervisor drivers: the port (base) and its implementations."""

from __future__ import annotations
