"""Flavor and availability-zone views."""

from __future__ import annotations

from typing import Any

from coldshift.domain.catalog import Flavor


def flavor_view(
    flavor: Flavor, base_url: str, project_id: str, zones: tuple[str, ...]
) -> dict[str, Any]:
    link = f"{base_url}/v1/{project_id}/flavors/{flavor.id}"
    return {
        "id": flavor.id,
        "name": flavor.id,
        "vcpus": str(flavor.vcpus),
        "ram": flavor.ram_mb,
        "disk": "0",
        "swap": "",
        "OS-FLV-EXT-DATA:ephemeral": 0,
        "OS-FLV-DISABLED:disabled": False,
        "rxtx_factor": 1.0,
        "rxtx_quota": None,
        "rxtx_cap": None,
        "os-flavor-access:is_public": True,
        "links": [
            {"rel": "self", "href": link, "type": None},
            {"rel": "bookmark", "href": link, "type": None},
        ],
        "os_extra_specs": extra_specs(flavor, zones),
    }


def extra_specs(flavor: Flavor, zones: tuple[str, ...]) -> dict[str, str]:
    """A flavor's extra specs (all strings), as the flavor list and Nova >= 2.47 show them."""
    return {
        "ecs:performancetype": "normal",
        "resource_type": f"IES-{flavor.family}",
        "ecs:generation": flavor.family,
        "ecs:virtualization_env_types": "CloudCompute",
        "cond:operation:status": "normal",
        "cond:operation:az": ", ".join(f"{z}(normal)" for z in zones),
        "hw:numa_nodes": str(flavor.numa_nodes),
    }
