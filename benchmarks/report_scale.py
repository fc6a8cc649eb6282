"""What a report costs in CPU seconds, against the floor of importing matplotlib.

    python benchmarks/report_scale.py [--results 100000] [--samples 10000] [--profile]

Builds synthetic optimize runs (results spread over 24 workers on six nodes, health
samples over the six nodes, a quick network benchmark and the pair matrix), then times
``python -m parc_mpi.report RUN_DIR`` as a whole process in CPU seconds (user + sys,
steadier than wall time on a shared machine), beside ``python -c "import
matplotlib.pyplot"`` measured in the same run as the floor. Targets (issue 20): a
10-task run's report within 1.0 CPU s of the floor; 100,000 results and 10,000 samples
within 2.5 CPU s.
"""
import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from parc_mpi.execute import Outcome  # noqa: E402
from parc_mpi.store import HealthWriter, Store, rows_for  # noqa: E402

NODES = [f"pi{i}" for i in range(6)]
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def make_store(run_dir: str, n_results: int, n_samples: int) -> None:
    rng = np.random.default_rng(0)
    store = Store(run_dir, sync="off")
    t0 = time.time() - 3600
    store.set_meta(job={"kind": "optimize", "goal": "min", "space": {"x": "Real", "y": "Real"}},
                   name="scale", status="finished", started=t0, finished=t0 + 3600, ranks=26,
                   mpi="MPICH synthetic", nodes=NODES, summary={"workers": {}})
    per_worker = 24
    step = 3600 / n_results * per_worker
    for start in range(0, n_results, 5000):
        tasks, outcomes = [], []
        for i in range(start, min(n_results, start + 5000)):
            x, y = rng.uniform(-5, 5, 2)
            ok = rng.random() > 0.01
            begin = t0 + (i // per_worker) * step
            tasks.append((i, 0, {"x": float(x), "y": float(y)}))
            outcomes.append(Outcome(i, 0, "ok" if ok else "failed",
                                    float(x * x + y * y) if ok else None,
                                    None if ok else "Traceback\nValueError",
                                    begin, begin + step * 0.9))
        for w in range(per_worker):
            mine = [k for k in range(len(tasks)) if tasks[k][0] % per_worker == w]
            store.add_rows(rows_for([tasks[k] for k in mine], [outcomes[k] for k in mine],
                                    2 + w, NODES[w % 6]))
        store.flush()
    store.close()
    health = HealthWriter(os.path.join(run_dir, "run.sqlite"))
    per_node = max(2, n_samples // len(NODES))
    for node in NODES:
        for j in range(per_node):
            s = {"t": t0 + j * 3600 / per_node, "cpu_temp_c": 60 + 15 * np.sin(j / 50),
                 "gpu_temp_c": None, "arm_mhz": 1500.0, "throttled": 0, "cpu_percent": 90.0,
                 "load1": 3.9, "cores": 4, "mem_percent": 40.0, "processes": 120, "net": {}}
            if j == 0:
                health.node_hello(node, [0], {"links": {"eth0": {"up": True,
                                                                 "speed_mbit": 1000}}}, s)
            else:
                health.add_sample(node, s)
    health.close()


def add_netbench(run_dir: str, nodes) -> None:
    """A quick-mode network benchmark to every node and the pair matrix, as a run
    with a monitor stores them (the network figure is the costly one to draw)."""
    health = HealthWriter(os.path.join(run_dir, "run.sqlite"))
    rows = []
    for k, node in enumerate(nodes):
        name = node if k else f"{node} (same node)"
        for size in (1, 1024, 65536):
            rows.append({"node": name, "peer_rank": k, "kind": "latency", "size": size,
                         "p50": 30.0 + size / 2e3, "p90": 35.0, "p99": 60.0, "min": 25.0,
                         "mean": 31.0, "iterations": 1000, "seconds": 0.1, "nic": "eth0",
                         "link_mbit": 1000})
        for kind in ("upload", "download"):
            for size in (65536, 1 << 20, 4 << 20):
                rows.append({"node": name, "peer_rank": k, "kind": kind, "size": size,
                             "mbps": 80.0 + size / 1e6, "iterations": 100, "seconds": 0.5,
                             "nic": "eth0", "link_mbit": 1000})
    health.add_netbench(rows)
    health.add_pairs([(a, b, 40.0 + i, 80.0) for i, (a, b) in enumerate(
        (a, b) for x, a in enumerate(nodes) for b in nodes[x + 1:])])
    health.close()


def cpu_of(cmd) -> float:
    """User + system CPU seconds of a child process, from the kernel's accounting."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{done.stderr}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def median_cpu(cmd, repeat: int, fresh: str = None) -> float:
    """The median over ``repeat`` runs; with ``fresh`` (a run directory), its plots are
    removed before each run, so every run draws every figure (a first report)."""
    runs = []
    for _ in range(repeat):
        if fresh:
            shutil.rmtree(os.path.join(fresh, "plots"), ignore_errors=True)
        runs.append(cpu_of(cmd))
    return statistics.median(runs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--results", type=int, default=100_000)
    ap.add_argument("--samples", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=3, help="runs per case (median)")
    ap.add_argument("--profile", action="store_true",
                    help="also print the per-figure CPU seconds of each case")
    a = ap.parse_args()
    floor = median_cpu([sys.executable, "-c", "import matplotlib.pyplot"], a.repeat)
    cases = [("10 tasks", 10, 30, 1.0), ("1,000 results", 1000, 300, None),
             (f"{a.results:,} results, {a.samples:,} samples", a.results, a.samples, 2.5)]
    print(f"floor: python -c 'import matplotlib.pyplot' = {floor:.2f} CPU s (same run)")
    print(f"{'case':<36}{'CPU s':>8}{'above floor':>13}{'target':>9}  met  "
          f"{'rebuild, data unchanged':>24}")
    for label, n_results, n_samples, target in cases:
        tmp = tempfile.mkdtemp(prefix="parc-report-scale-")
        try:
            make_store(tmp, n_results, n_samples)
            add_netbench(tmp, NODES)
            cmd = [sys.executable, "-m", "parc_mpi.report", tmp]
            cpu = median_cpu(cmd, a.repeat, fresh=tmp)
            again = median_cpu(cmd, a.repeat)  # the plots of the run before are reused
            above = cpu - floor
            goal = f"{target:.1f}" if target else "-"
            met = "" if target is None else ("yes" if above <= target else "NO")
            print(f"{label:<36}{cpu:>8.2f}{above:>13.2f}{goal:>9}  {met:<3}  "
                  f"{again:>20.2f} CPU s", flush=True)
            if a.profile:
                shutil.rmtree(os.path.join(tmp, "plots"), ignore_errors=True)
                out = subprocess.run(cmd + ["--profile"], capture_output=True, text=True,
                                     cwd=ROOT).stdout
                steps = out.split("\n   ")[0].splitlines()[1:]
                print("\n".join("    " + line for line in steps if line.strip()))
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
