"""What-if: a migration's synchronous checks and placement decision, claiming nothing.

The checks are ``migration.accept`` (the very ones a migrate call runs, refusing alike), the
decision is ``claims.preview_room`` (the candidates a claim would try, in its order). When the
guest does not fit, the answer carries the rule and numbers a FAIL would, and the
defragmentation advice (``services.advice``). Nothing is written: no job, no task, no claim.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from coldshift.domain.catalog import Flavor
from coldshift.domain.commands import MigrateServer
from coldshift.domain.hosts import Host
from coldshift.domain.servers import Server
from coldshift.placement import Rejection
from coldshift.placement.advice import Advice
from coldshift.services.advice import advice_for
from coldshift.services.claims import (
    PUBLIC_POOL,
    ClaimedHost,
    NamedDedicatedHost,
    NoCapacity,
    preview_room,
)
from coldshift.services.context import Region
from coldshift.services.migration import accept


@dataclass(frozen=True, slots=True)
class WhatIf:
    server: Server
    flavor: Flavor
    #: the named DeH; None: the public pool
    target: Host | None
    #: where the claim would go now; None: it would FAIL (``reason``)
    host: ClaimedHost | None
    #: the FAIL's reason, as the job's fail_reason would carry it
    reason: str | None = None
    #: the closest host's numbers (the rule, per node needed and free)
    closest: Rejection | None = None
    #: the fewest moves after which it fits (None: no advice, or it fits already)
    advice: Advice | None = None
    #: the hosts the advice may name, by id
    hosts: dict[str, Host] = field(default_factory=dict)

    @property
    def fits(self) -> bool:
        return self.host is not None


def what_if(region: Region, cmd: MigrateServer) -> WhatIf:
    """What ``migrate_server(region, cmd)`` would do now; refuses exactly as it would."""
    accepted = accept(region, cmd)
    server, target = accepted.server, accepted.target
    flavor = region.flavor(server.flavor_id)
    where = NamedDedicatedHost(target.id) if target is not None else PUBLIC_POOL
    try:
        host = preview_room(
            region, server.id, flavor, availability_zone=server.availability_zone, where=where
        )
    except NoCapacity as exc:
        advice, hosts = advice_for(region.store, region.catalog, server, flavor, target)
        return WhatIf(server, flavor, target, None, exc.reason, exc.closest, advice, hosts)
    return WhatIf(server, flavor, target, host)
