"""Thermal-aware scheduling (--thermal): when a node counts as hot, reading it from the
store's samples, and what the scheduler then gives that node's workers. The whole run
with and without it on the simulated box is benchmarks/thermal.py's."""
import time

import pytest

import parc_mpi
from parc_mpi.engine import Scheduler
from parc_mpi.sources import make_source
from parc_mpi.store import HealthWriter, Store
from parc_mpi.thermal import Thermal, is_hot

from conftest import python_cmd, run_cmd


def square(x):
    return x * x


@pytest.mark.parametrize("sample, was, hot", [
    ({"throttled": 0x60006, "cpu_temp_c": 70.0}, False, True),   # capped and throttled now
    ({"throttled": 0x8}, False, True),                          # soft temperature limit
    ({"throttled": 0x10001, "cpu_temp_c": 60.0}, False, False),  # under-voltage: the supply
    ({"throttled": 0x70000, "cpu_temp_c": 60.0}, True, False),   # throttled once, not now
    ({"cpu_temp_c": 81.0}, False, True),
    ({"cpu_temp_c": 78.0}, False, False),
    ({"cpu_temp_c": 78.0}, True, True),                          # hysteresis: still hot
    ({"cpu_temp_c": 74.0}, True, False),
    ({"gpu_temp_c": 82.0}, False, True),                         # the firmware's sensor
    ({}, True, False),                                           # no sensor: never hot
])
def test_when_a_node_counts_as_hot(sample, was, hot):
    assert is_hot(sample, was) is hot


def test_thermal_reads_the_samples_as_they_are_committed(tmp_path):
    Store(str(tmp_path)).close()
    h = HealthWriter(str(tmp_path / "run.sqlite"))
    t = Thermal(str(tmp_path), every=0.0)
    h.node_hello("pi1", [1], {}, {"t": 100.0, "cpu_temp_c": 60.0})
    h.node_hello("pi2", [2], {}, {"t": 100.0, "cpu_temp_c": 60.0})
    h.commit()
    assert t.poll() == set()
    h.add_sample("pi2", {"t": 110.0, "cpu_temp_c": 83.0, "throttled": 0x60006})
    h.add_sample("pi1", {"t": 110.0, "cpu_temp_c": 79.0})
    h.commit()
    assert t.poll() == {"pi2"}
    h.add_sample("pi2", {"t": 130.0, "cpu_temp_c": 77.0, "throttled": 0})   # hysteresis
    h.commit()
    assert t.poll() == {"pi2"}
    h.add_sample("pi2", {"t": 140.0, "cpu_temp_c": 72.0, "throttled": 0})
    h.commit()
    assert t.poll() == set()
    assert t.summary(200.0) == {"hot_seconds": {"pi2": 30.0}, "turned_hot": {"pi2": 1}}
    t.every = 60.0   # between reads, the last answer
    assert t.poll() == set()
    h.add_sample("pi1", {"t": 150.0, "cpu_temp_c": 90.0})
    h.commit()
    assert t.poll() == set()


def _sched(tmp_path, n, workers=4):
    job = parc_mpi.map(square, range(n))
    tmp_path.mkdir(exist_ok=True)
    store = Store(str(tmp_path))
    return Scheduler(job, make_source(job, workers), store, workers=workers)


def test_a_hot_worker_is_served_after_the_cool_ones_and_not_at_the_end(tmp_path):
    sched = _sched(tmp_path, 10)
    sched.hot = {1, 2}
    got = sched.assign({1: 1, 2: 1, 3: 2, 4: 2})
    assert [w for w, _b in got] == [3, 3, 4, 4, 1, 2]   # the cool ones first
    assert sum(len(b[1]) for _w, b in got) == 6
    # four tasks left for two cool workers' worth: hot workers wait for a cool one
    sched2 = _sched(tmp_path / "b", 4)
    sched2.hot = {1, 2}
    got = sched2.assign({1: 1, 2: 1})
    assert got == []
    got = sched2.assign({1: 1, 3: 2, 4: 2})
    assert sorted({w for w, _b in got}) == [3, 4]
    # without --thermal (no hot workers) the first worker in rank order is first
    sched3 = _sched(tmp_path / "c", 4)
    assert [w for w, _b in sched3.assign({1: 1, 2: 1})] == [1, 2]


def test_thermal_without_the_monitor_is_refused_in_one_line(tmp_path):
    job = tmp_path / "job.py"
    job.write_text("import parc_mpi\njob = parc_mpi.map(abs, range(3))\n")
    done = run_cmd(python_cmd("-m", "parc_mpi.run", job, "--thermal", "--no-monitor"))
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "error: --thermal reads the monitor's temperatures; it cannot go with --no-monitor"]


def test_a_running_run_s_verdict_so_far_names_a_slow_node_once_it_can_be_trusted(tmp_path):
    """Mid-run (status running, no summary yet): before 10 s of compute nothing is
    said; after, the slow node is named "so far", with no what-if (the compute is not
    over) and no tail (it has not happened)."""
    from parc_mpi.analysis import live_verdict
    from parc_mpi.serve import api
    Store(str(tmp_path)).close()
    s = Store(str(tmp_path))
    t0 = time.time() - 100
    s.set_meta(status="running", started=t0 - 2, job={"kind": "map", "total": 1000})
    rows, clock = [], {1: t0, 2: t0, 3: t0, 4: t0}
    task = 0
    for _round in range(130):   # workers 1-3 on pi1 take 0.1 s a task, worker 4 on pi2 0.4 s
        for w in (1, 2, 3, 4):
            if clock[w] > t0 + 12:
                continue
            took = 0.4 if w == 4 else 0.1
            rows.append((task, 0, task, "ok", None, task, None, w, "pi2" if w == 4 else "pi1",
                         clock[w], clock[w] + took))
            clock[w] += took
            task += 1
    early = [r for r in rows if r[10] <= t0 + 5]
    s.add_rows(early)
    s.flush()
    assert live_verdict(str(tmp_path)) is None            # 5 s of compute: too soon
    s.add_rows([r for r in rows if r[10] > t0 + 5])
    s.flush()
    v = live_verdict(str(tmp_path))
    assert v["limit"] == "slow node" and v["what_if"] is None, v
    assert v["text"].startswith("so far, a slow node: node pi2") and "would take" not in v["text"]
    got = api.status("run", str(tmp_path))
    assert got["verdict_so_far"] == v["text"] and got["verdict"] is None
    s.close()
