"""The libvirt driver: real hypervisors reached through libvirt-python (libvirt.md)."""

from __future__ import annotations
