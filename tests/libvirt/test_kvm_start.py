"""A libvirt region's start: hosts read, a host that does not answer left out (not fatal), a
host with fewer NUMA cells than its type's sockets refused in one line (libvirt.md)."""

from __future__ import annotations

from pathlib import Path

from tests.e2e import admin
from tests.e2e.harness import deh_client
from tests.e2e.sdk import allocate, expect_error, show_deh
from tests.e2e.test_cli import one_line, serve
from tests.libvirt.kvm_region import DEFAULT_MACHINES, kvm_region


def test_a_host_with_fewer_numa_cells_than_its_type_refuses_the_start(tmp_path: Path) -> None:
    with kvm_region(tmp_path, DEFAULT_MACHINES[:1]) as kvm:
        two_sockets = kvm.region.catalog.read_text().replace(
            "sockets = 1\ncores = 2", "sockets = 2\ncores = 2"
        )
        kvm.region.catalog.write_text(two_sockets)
        result = serve(kvm.region.catalog, kvm.region.db_url)
    assert result.returncode == 2
    assert one_line(result) == (
        "coldshift: host kvm-p1 has 1 NUMA cell(s) but its type k1 has 2 sockets: fix its host_type"
    )


def test_a_host_that_does_not_answer_is_left_out_and_shown_unavailable(tmp_path: Path) -> None:
    with kvm_region(tmp_path) as kvm:
        region = kvm.region
        region.start()
        client = deh_client(region.url)
        (deh_id,) = allocate(client, host_type="k1")  # takes kvm-d1, the first free one
        kvm.daemon("kvm-d1").stop()
        kvm.daemon("kvm-p2").stop()
        region.restart()  # not fatal
        assert show_deh(client, deh_id).state == "fault"
        # the one DeH host that answers can still be allocated; not the one that does not
        (other,) = allocate(client, host_type="k1")
        expect_error(lambda: allocate(client, host_type="k1"), 403, "DEH.0018", "no host left")
        driver = admin.driver(region.url)
        found = {h["name"]: (h["reachable"], h["cells"]) for h in driver["hosts"]}
        assert found == {
            "kvm-p1": (True, 1),
            "kvm-p2": (False, 0),
            "kvm-d1": (False, 0),
            "kvm-d2": (True, 1),
        }
        reason = next(h["reason"] for h in driver["hosts"] if h["name"] == "kvm-d1")
        assert "kvm-d1" in reason
        assert show_deh(client, other).state == "available"
