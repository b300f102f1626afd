"""The catalog's ``[driver.libvirt]`` section (libvirt.md): its shape, its rules, its value.

Kept apart from the loader, which stays about the region itself; the loader calls
``libvirt_problems`` among its semantic rules and ``libvirt_settings`` when it converts.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from pydantic import BaseModel, ConfigDict, Field, StrictStr

from coldshift.domain.catalog import LibvirtSettings, Machine, MachineUse

_DEFAULTS: Final = LibvirtSettings()
_USES: Final = tuple(u.value for u in MachineUse)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False, frozen=True)


class LibvirtHostKeys(_Model):
    name: StrictStr
    uri: StrictStr
    availability_zone: StrictStr
    host_type: StrictStr
    use: StrictStr
    pool_path: StrictStr = ""


class LibvirtKeys(_Model):
    storage_pool: StrictStr = _DEFAULTS.storage_pool
    image_dir: StrictStr = _DEFAULTS.image_dir
    shutdown_seconds: float = _DEFAULTS.shutdown_seconds
    call_timeout_seconds: float = _DEFAULTS.call_timeout_seconds
    copy_stall_seconds: float = _DEFAULTS.copy_stall_seconds
    hosts: list[LibvirtHostKeys] = Field(default_factory=list)


Problem = tuple[str, str]  # (key path, what is wrong)


def libvirt_problems(
    kind: str,
    keys: LibvirtKeys | None,
    *,
    zones: Sequence[str],
    host_types: Sequence[str],
    public_pool_entries: int,
) -> list[Problem]:
    """What is wrong with the libvirt section, given the driver kind and the region."""
    if kind != "libvirt":
        if keys is None:
            return []
        return [("driver.libvirt", f"is set but driver.kind is {kind!r}; set kind = 'libvirt'")]
    if keys is None:
        return [("driver.libvirt", "driver.kind = 'libvirt' needs a [driver.libvirt] table")]
    problems: list[Problem] = []
    if public_pool_entries:
        problems.append(
            (
                "public_pool",
                "a libvirt region's public pool is its [[driver.libvirt.hosts]] with "
                "use = 'pool'; remove [[public_pool]]",
            )
        )
    if not keys.storage_pool.strip():
        problems.append(("driver.libvirt.storage_pool", "must be a non-empty string"))
    for key in ("shutdown_seconds", "call_timeout_seconds", "copy_stall_seconds"):
        if getattr(keys, key) <= 0:
            problems.append((f"driver.libvirt.{key}", "must be a number > 0"))
    if not keys.hosts:
        problems.append(("driver.libvirt.hosts", "at least one [[driver.libvirt.hosts]] is needed"))
    problems += _host_problems(keys.hosts, zones, host_types)
    return problems


def _host_problems(
    hosts: Sequence[LibvirtHostKeys], zones: Sequence[str], host_types: Sequence[str]
) -> list[Problem]:
    problems: list[Problem] = []
    seen: dict[str, str] = {}
    for i, host in enumerate(hosts):
        base = f"driver.libvirt.hosts[{i}]"
        if not host.name.strip():
            problems.append((f"{base}.name", "must be a non-empty string"))
        elif host.name in seen:
            problems.append(
                (
                    f"{base}.name",
                    f"duplicate host name {host.name!r} (already used by {seen[host.name]})",
                )
            )
        else:
            seen[host.name] = f"{base}.name"
        if not host.uri.strip():
            problems.append(
                (f"{base}.uri", "must be a libvirt URI, e.g. 'qemu+ssh://root@kvm-a01/system'")
            )
        if host.availability_zone not in zones:
            problems.append(
                (
                    f"{base}.availability_zone",
                    f"{host.availability_zone!r} is not a declared availability zone",
                )
            )
        if host.host_type not in host_types:
            problems.append(
                (f"{base}.host_type", f"{host.host_type!r} is not a declared host type")
            )
        if host.use not in _USES:
            problems.append(
                (f"{base}.use", f"{host.use!r} must be one of {', '.join(map(repr, _USES))}")
            )
    return problems


def libvirt_settings(keys: LibvirtKeys) -> LibvirtSettings:
    return LibvirtSettings(
        storage_pool=keys.storage_pool,
        image_dir=keys.image_dir,
        shutdown_seconds=float(keys.shutdown_seconds),
        call_timeout_seconds=float(keys.call_timeout_seconds),
        copy_stall_seconds=float(keys.copy_stall_seconds),
        hosts=tuple(
            Machine(
                name=h.name,
                uri=h.uri,
                availability_zone=h.availability_zone,
                host_type=h.host_type,
                use=MachineUse(h.use),
                pool_path=h.pool_path,
            )
            for h in keys.hosts
        ),
    )
