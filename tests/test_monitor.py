"""The monitor rank, agents and netbench in real runs."""
import csv
import json
import subprocess
import sys

import pytest

from conftest import ROOT, mpi_cmd, python_cmd, run_cmd
from parc_mpi.layout import Layout
from parc_mpi.mpienv import detect_flavour, mpiexec_command
from parc_mpi.store import RunReader

ASNODE = str(ROOT / "tests" / "tools" / "asnode.sh")
JOB = "jobs/pi_montecarlo.py"


def can_fake_hosts():
    if detect_flavour() != "mpich":
        return False
    try:
        out = subprocess.run([ASNODE, "probe-host", "hostname"], capture_output=True,
                             text=True, timeout=10)
    except OSError:
        return False
    return out.returncode == 0 and out.stdout.strip() == "probe-host"


needs_hosts = pytest.mark.skipif(not can_fake_hosts(),
                                 reason="needs MPICH and 'unshare --uts' (root) to pose as "
                                        "several hosts on one machine")


def db(run_dir):
    return RunReader(str(run_dir))


def test_layout_puts_monitor_on_main_node_and_one_agent_per_other_node():
    hosts = ["a", "a", "a", "b", "b", "c"]
    lay = Layout(hosts, monitoring=True, run_dir="r")
    assert lay.monitor == 1 and lay.workers == [2, 3, 4, 5]
    assert lay.agents == {3: [3, 4], 5: [5]}
    assert lay.peers == {0: "a (same node)", 3: "b", 5: "c"}
    assert lay.leaders == {1: "a", 3: "b", 5: "c"}
    assert Layout(hosts, monitoring=False, run_dir="r").monitor is None
    assert Layout(["a", "a"], monitoring=True, run_dir="r").monitor is None
    alone = Layout(["a", "b", "c"], monitoring=True, run_dir="r")  # no 2nd rank on main
    assert alone.monitor is None and alone.workers == [1, 2]


@pytest.mark.e2e
@needs_hosts
def test_three_hosts_store_health_from_every_node_and_netbench(tmp_path):
    run_dir = tmp_path / "run"
    args = [sys.executable, "-m", "parc_mpi.run", JOB, "--run-dir", str(run_dir)]
    cmd = mpiexec_command(3) + [ASNODE, "nodeA"] + args
    for name in ("nodeB", "nodeC"):
        cmd += [":", "-n", "2", ASNODE, name] + args
    done = run_cmd(cmd, timeout=180)
    assert done.returncode == 0, done
    con = db(run_dir)
    assert {n: i.ranks for n, i in con.nodes().items()} == {
        "nodeA": [0, 1, 2], "nodeB": [3, 4], "nodeC": [5, 6]}
    assert {s.node for s in con.samples()} == {"nodeA", "nodeB", "nodeC"}
    kinds = {}
    for f in con.netbench():
        kinds.setdefault(f.node, set()).add((f.kind, f.size))
    assert set(kinds) == {"nodeA (same node)", "nodeB", "nodeC"}
    for node, got in kinds.items():
        assert ("latency", 1) in got and ("upload", 4 << 20) in got and (
            "download", 4 << 20) in got
    pairs = {(p.a, p.b) for p in con.pairs()}
    assert {frozenset(p) for p in pairs} == {frozenset(("nodeA", "nodeB")),
                                              frozenset(("nodeA", "nodeC")),
                                              frozenset(("nodeB", "nodeC"))}
    workers = {r.worker for r in con.results()}
    assert 1 not in workers and workers <= {2, 3, 4, 5, 6}
    assert "health nodeB:" in done.stdout
    cost = con.meta()["monitor_cost"]   # the monitor rank's own account of its CPU
    assert cost["wall_seconds"] > 0 and 0 < cost["cpu_seconds"] < 2 * cost["wall_seconds"]


@pytest.mark.e2e
def test_no_monitor_gives_rank_1_work_and_stores_no_samples(tmp_path):
    run_dir = tmp_path / "run"
    done = run_cmd(mpi_cmd(3, "-m", "parc_mpi.run", JOB, "--run-dir", run_dir, "--no-monitor",
                           "-q"))
    assert done.returncode == 0, done
    con = db(run_dir)
    assert con.samples() == []
    assert {r.worker for r in con.results()} == {1, 2}
    assert "network benchmark" not in done.stdout


@pytest.mark.e2e
def test_serial_run_samples_its_own_node_and_says_what_it_lacks(tmp_path):
    run_dir = tmp_path / "run"
    job = tmp_path / "job.py"
    job.write_text("import time, parc_mpi\ndef f(x):\n    time.sleep(0.3)\n    return x\n"
                   "job = parc_mpi.map(f, range(5))\n")
    done = run_cmd(python_cmd("-m", "parc_mpi.run", job, "--run-dir", run_dir,
                              "--monitor-interval", "0.5"))
    assert done.returncode == 0, done
    con = db(run_dir)
    samples = [s.data for s in con.samples()]
    assert len(samples) >= 2
    line = [l for l in done.stdout.splitlines() if "health" in l][0]
    if all(s["cpu_temp_c"] is None for s in samples):
        assert "no temperature sensor (n/a)" in line
    else:
        assert "CPU max" in line


@pytest.mark.e2e
def test_netbench_cli_prints_osu_table_and_writes_files(tmp_path):
    out_csv, out_json = tmp_path / "nb.csv", tmp_path / "nb.json"
    done = run_cmd(mpi_cmd(2, "-m", "parc_mpi.netbench", "--csv", out_csv, "--json", out_json),
                   timeout=120)
    assert done.returncode == 0, done
    assert done.seconds < 120
    lines = done.stdout.splitlines()
    head = [l for l in lines if l.startswith("# Size")]
    assert head and "Lat p50(us)" in head[0] and "Up(MB/s)" in head[0]
    big = [l for l in lines if l.startswith("4194304")]
    assert big and len(big[0].split()) >= 5
    rows = list(csv.DictReader(open(out_csv)))
    assert {r["kind"] for r in rows} == {"latency", "upload", "download"}
    data = json.loads(out_json.read_text())
    lat = [r for r in data["rows"] if r["kind"] == "latency"]
    assert all(r["min"] <= r["p50"] <= r["p99"] for r in lat)
    assert all(float(r["mbps"]) > 0 for r in rows if r["kind"] != "latency")


@pytest.mark.e2e
def test_a_single_machine_runs_no_network_benchmark_unless_full_is_asked(tmp_path):
    """Issue 37: on one machine there is no network to measure; the default benchmark
    would measure the node against itself before the first task. --netbench full still
    measures it when asked by name."""
    quick = tmp_path / "quick"
    done = run_cmd(mpi_cmd(4, "-m", "parc_mpi.run", JOB, "--run-dir", quick))
    assert done.returncode == 0, done
    assert "network benchmark" not in done.stdout, done.stdout
    assert db(quick).netbench() == []
    assert db(quick).samples()   # the monitor still samples the node
    full = tmp_path / "full"
    done = run_cmd(mpi_cmd(4, "-m", "parc_mpi.run", JOB, "--run-dir", full, "--netbench",
                           "full"))
    assert done.returncode == 0, done
    assert "network benchmark (full) to 1 peer" in done.stdout, done.stdout
    assert {f.kind for f in db(full).netbench()} >= {"latency", "upload", "download"}


def test_health_samples_commit_while_results_wait_for_their_flush(tmp_path):
    """Rank 0 queues results between its flushes (every 0.5 s for a map job, the whole
    run long): the rows wait in memory, not in an open transaction, so the monitor's
    commit takes the write lock at once. (An open transaction held the lock nearly all
    the time; the monitor's samples then waited for seconds and --thermal saw no node.)"""
    import time as _time
    from parc_mpi.execute import Outcome
    from parc_mpi.store import HealthWriter, RunReader, Store, rows_for
    store = Store(str(tmp_path))
    t = _time.time()
    store.add_rows(rows_for([(0, 0, 0)], [Outcome(0, 0, "ok", 1.0, None, t, t + 0.1)],
                            2, "pi0"))
    health = HealthWriter(str(tmp_path / "run.sqlite"))
    health.db.execute("PRAGMA busy_timeout = 50")   # no waiting for rank 0's flush
    health.add_sample("pi1", {"t": t, "cpu_temp_c": 81.0})
    health.commit()
    with RunReader(str(tmp_path)) as reader:
        assert [s.node for _row, s in reader.samples_after(0)] == ["pi1"]
        assert list(reader.results()) == []        # not durable before the flush
    assert store.flush() == 1
    with RunReader(str(tmp_path)) as reader:
        assert [r.task for r in reader.results()] == [0]
    health.close()
    store.close()
