"""Network figures kept per cluster (netkeep) and when an ETA is shown (eta): the rules,
without MPI; tests/test_simcluster.py runs them on a simulated box."""
import json

import pytest

from parc_mpi import netkeep
from parc_mpi.eta import eta_seconds


def rows(lat):
    return [{"node": n, "kind": "latency", "size": 1, "p50": us} for n, us in lat.items()] + [
        {"node": n, "kind": "upload", "size": 1 << 20, "mbps": 110.0} for n in lat]


def test_the_key_changes_with_a_node_an_address_or_the_mpi(monkeypatch):
    addresses = {"pi0": "10.0.0.1", "pi1": "10.0.0.2", "pi2": "10.0.0.3"}
    monkeypatch.setattr(netkeep, "_address", lambda h: addresses.get(h, h))
    key, ident = netkeep.cluster_key("pi0", ["pi0", "pi1", "pi2"], "MPICH Version: 4.2\nmore")
    assert ident == {"main": "pi0", "mpi": "MPICH Version: 4.2",
                     "nodes": {"pi0": "10.0.0.1", "pi1": "10.0.0.2", "pi2": "10.0.0.3"}}
    assert netkeep.cluster_key("pi0", ["pi2", "pi1"], "MPICH Version: 4.2")[0] == key
    assert netkeep.cluster_key("pi0", ["pi1"], "MPICH Version: 4.2")[0] != key
    assert netkeep.cluster_key("pi0", ["pi1", "pi2"], "Open MPI v4.1")[0] != key
    addresses["pi2"] = "10.0.0.9"          # the same name at another address
    assert netkeep.cluster_key("pi0", ["pi1", "pi2"], "MPICH Version: 4.2")[0] != key


def test_kept_figures_are_reused_until_they_are_too_old(tmp_path):
    key, ident = netkeep.cluster_key("pi0", ["pi1"])
    assert netkeep.load(key, cache=str(tmp_path))[1] == "no figures kept for this cluster yet"
    path = netkeep.save(key, ident, "quick", rows({"pi1": 60.0}), [("pi0", "pi1", 60.0, 80.0)],
                        cache=str(tmp_path))
    assert path == str(tmp_path / "netbench" / f"{key}.json")
    kept, why = netkeep.load(key, cache=str(tmp_path))
    assert why == "" and kept["rows"] == rows({"pi1": 60.0}) and kept["mode"] == "quick"
    assert kept["pairs"] == [["pi0", "pi1", 60.0, 80.0]] and kept["age_seconds"] < 5
    later = json.load(open(path))["measured_at"] + 200 * 3600
    kept, why = netkeep.load(key, max_age_hours=168, cache=str(tmp_path), now=later)
    assert kept is None and why == "the kept figures are 200 h old (over --netbench-max-age 168 h)"
    with open(path, "w") as fh:
        fh.write("{not json")
    assert "unreadable" in netkeep.load(key, cache=str(tmp_path))[1]


def test_a_link_whose_latency_or_rate_moved_far_from_the_kept_one_is_measured_again():
    kept = rows({"pi1": 60.0, "pi2": 65.0, "pi0 (same node)": 0.8})
    assert netkeep.drift(kept, {"pi1": (75.0, 95.0), "pi2": (50.0, 120.0),
                                "pi0 (same node)": (2.5, 3000.0)}) == ""
    assert netkeep.drift(kept, {"pi1": (2060.0, 100.0), "pi2": (65.0, 110.0)}) == (
        "pi1's latency is 2060 us against 60 us kept: its link changed")
    assert netkeep.drift(kept, {"pi1": (60.0, 110.0), "pi2": (70.0, 5.9)}) == (
        "pi2's upload is 5.9 MB/s against 110.0 MB/s kept: its link changed")
    assert netkeep.drift(kept, {"pi1": (60.0, 110.0), "pi2": None}) == \
        "pi2 did not answer the spot check"
    assert netkeep.drift(kept, {"pi3": (60.0, 110.0)}) == "no kept figures for pi3"


def test_no_eta_until_the_rate_is_measured_over_enough_work():
    # 1,000 tasks, 4 workers: 50 tasks (5%) and 3 s of work first
    assert eta_seconds(10, 1000, 20.0, 4, 10.0) is None      # 1% done
    assert eta_seconds(60, 1000, 20.0, 4, 2.0) is None       # too soon
    assert eta_seconds(60, 1000, 20.0, 4, 3.0) == pytest.approx(47.0)
    assert eta_seconds(20, 100, 2.0, 8, 10.0) is None        # under 3 per worker
    assert eta_seconds(24, 100, 2.0, 8, 10.0) == 38.0
    assert eta_seconds(100, 100, 2.0, 8, 10.0) is None       # done
    assert eta_seconds(50, None, 2.0, 8, 10.0) is None       # no total: no ETA
    assert eta_seconds(50, 100, 0.0, 8, 10.0) is None


def test_a_run_says_where_its_network_figures_came_from():
    assert netkeep.describe({"source": "kept", "mode": "quick", "age_seconds": 7200,
                             "check": {"pi1": [61.2, 104.4], "pi0 (same node)": [0.9, 3e3]}}) \
        == ("Measured 2.0 h before this run (quick) and kept for this cluster; reused after a "
            "check of each link's latency and rate at start-up (pi1 61 µs, 104 MB/s).")
    assert netkeep.describe({"source": "measured", "mode": "full", "why": "--netbench full"}) \
        == "Measured at this run's start (full): --netbench full."
    assert netkeep.describe(None) == ""
