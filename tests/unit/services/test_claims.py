"""The claim service's pure parts: where a create claims, and the one retry policy."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from coldshift.domain.catalog import Flavor
from coldshift.domain.lifecycle import PLACED, TaskChange
from coldshift.domain.servers import DEDICATED, SHARED, Server
from coldshift.placement import NoRoom, NumaFit, Placement
from coldshift.services.claims import (
    MAX_LOST_CLAIMS,
    PUBLIC_POOL,
    AutoPlacedDedicatedHost,
    NamedDedicatedHost,
    NoCapacity,
    Where,
    claim_first,
    where_created,
)

FLAVOR = Flavor("s6.large.2", 2, 4096)


def server(tenancy: str, dedicated_host_id: str | None = None) -> Server:
    return Server(
        id="s-1",
        project_id="p-1",
        name="web",
        flavor_id=FLAVOR.id,
        availability_zone="local-1a",
        vm_state="building",
        task_state="scheduling",
        power_state=0,
        locked=False,
        host_id=None,
        tenancy=tenancy,
        dedicated_host_id=dedicated_host_id,
        image_ref="img",
        vpc_id="vpc",
        details={},
        created_at=0.0,
        updated_at=0.0,
        launched_at=None,
    )


@pytest.mark.parametrize(
    ("tenancy", "host_id", "where"),
    [
        (SHARED, None, PUBLIC_POOL),
        (DEDICATED, "deh-1", NamedDedicatedHost("deh-1")),
        (DEDICATED, None, AutoPlacedDedicatedHost("p-1")),
    ],
    ids=["shared: the pool", "a named DeH", "any auto-placement DeH of the project"],
)
def test_a_create_claims_where_its_tenancy_says(
    tenancy: str, host_id: str | None, where: Where
) -> None:
    assert where_created(server(tenancy, host_id)) == where


def placement(host_id: str) -> Placement:
    return Placement(host_id, NumaFit((0,), 2, 4096))


@dataclass
class Offered:
    """Candidates offering ``hosts`` in turn, then, endlessly, a fresher read of the last."""

    hosts: list[str]
    claimed_ids: list[str] = field(default_factory=list)
    lost_ids: list[str] = field(default_factory=list)

    def next(self) -> Placement | None:
        return placement(self.hosts.pop(0) if len(self.hosts) > 1 else self.hosts[0])

    def no_room(self) -> NoRoom:
        return NoRoom("no room", "no_host")

    def claimed(self, placement: Placement) -> None:
        self.claimed_ids.append(placement.host_id)

    def lost(self, placement: Placement) -> None:
        self.lost_ids.append(placement.host_id)


@dataclass
class Nothing:
    def next(self) -> Placement | None:
        return None

    def no_room(self) -> NoRoom:
        return NoRoom("2 candidate hosts: flavor s6.large.2 does not fit (…)", "numa_split")

    def claimed(self, placement: Placement) -> None:
        raise AssertionError("nothing was offered")

    def lost(self, placement: Placement) -> None:
        raise AssertionError("nothing was offered")


@dataclass
class Store:
    """The guarded claim: the first ``losses`` claims lose to a concurrent claim."""

    losses: int
    claims: list[tuple[str, str, str, TaskChange | None]] = field(default_factory=list)

    def claim(self, server_id: str, at: Placement, role: str, then: TaskChange | None) -> bool:
        self.claims.append((server_id, at.host_id, role, then))
        return len(self.claims) > self.losses


def values(host_id: str) -> TaskChange:
    return PLACED.with_(host_id=host_id)


def test_a_lost_claim_falls_through_to_the_next_candidate() -> None:
    store, offered = Store(losses=2), Offered(["a", "b", "c"])

    chosen = claim_first(store.claim, "s-1", FLAVOR, offered, "placed", values)

    assert chosen == placement("c")
    assert store.claims == [("s-1", h, "placed", values(h)) for h in ("a", "b", "c")]
    assert (offered.lost_ids, offered.claimed_ids) == (["a", "b"], ["c"])


def test_claims_lost_up_to_the_bound_still_end_in_a_claim() -> None:
    store, offered = Store(losses=MAX_LOST_CLAIMS - 1), Offered(["a"])

    assert claim_first(store.claim, "s-1", FLAVOR, offered, "incoming", values) == placement("a")
    assert len(offered.lost_ids) == MAX_LOST_CLAIMS - 1


def test_a_claim_that_keeps_losing_gives_up_after_the_bound() -> None:
    store, offered = Store(losses=MAX_LOST_CLAIMS + 5), Offered(["a"])

    with pytest.raises(NoCapacity) as refused:
        claim_first(store.claim, "s-1", FLAVOR, offered, "placed", values)

    assert refused.value.reason == (
        "capacity for flavor s6.large.2 kept being taken by concurrent claims"
    )
    assert len(store.claims) == len(offered.lost_ids) == MAX_LOST_CLAIMS
    assert offered.claimed_ids == []


def test_no_candidate_answers_with_the_candidates_reason_and_claims_nothing() -> None:
    store = Store(losses=0)

    with pytest.raises(NoCapacity) as refused:
        claim_first(store.claim, "s-1", FLAVOR, Nothing(), "placed", values)

    assert refused.value.reason == "2 candidate hosts: flavor s6.large.2 does not fit (…)"
    assert store.claims == []
