"""Quotas: how many ECSs and DeHs a project may hold.

The decision lives here; the store counts what is used inside the transaction that writes
(so that concurrent requests cannot overrun a quota together) and asks ``QuotaGuard.check``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from coldshift.domain.errors import QuotaExceeded


class Resource(StrEnum):
    INSTANCES = "instances"
    DEDICATED_HOSTS = "dedicated_hosts"


_WHAT = {Resource.INSTANCES: "instance", Resource.DEDICATED_HOSTS: "DeH"}


@dataclass(frozen=True, slots=True)
class QuotaGuard:
    """``adding`` more of ``resource`` for the project, within ``limit``."""

    project_id: str
    resource: Resource
    limit: int
    adding: int

    def check(self, used: int) -> None:
        """Refuse (QuotaExceeded) unless ``used + adding <= limit``."""
        if used + self.adding > self.limit:
            raise QuotaExceeded(
                f"{_WHAT[self.resource]} quota exceeded: {used} used + {self.adding} "
                f"requested > {self.limit}"
            )
