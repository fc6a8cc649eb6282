"""How long the report takes on a big run store, against the 10 s budget of issue 6.

    python benchmarks/report_scale.py [--results 100000] [--samples 10000]

Builds a synthetic optimize run (the results spread over 24 workers on six nodes, the
health samples over the six nodes, one network benchmark), then renders it twice
side by side: the full store and a 1/100 store, printed as a ratio so the growth with
size is visible next to the absolute figure.
"""
import argparse
import os
import shutil
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from parc_mpi.monitor.health import HealthStore  # noqa: E402
from parc_mpi.monitor.report import build_report  # noqa: E402
from parc_mpi.store import Store, rows_for  # noqa: E402

NODES = [f"pi{i}" for i in range(6)]


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
            outcomes.append((i, 0, ok, float(x * x + y * y) if ok else "Traceback\nValueError",
                             begin, begin + step * 0.9))
        for w in range(per_worker):
            mine = [k for k in range(len(tasks)) if tasks[k][0] % per_worker == w]
            store.add_rows(rows_for([tasks[k] for k in mine], [outcomes[k] for k in mine],
                                    2 + w, NODES[w % 6]))
        store.flush()
    store.close()
    health = HealthStore(os.path.join(run_dir, "run.sqlite"))
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


def timed(n_results: int, n_samples: int) -> float:
    tmp = tempfile.mkdtemp(prefix="parc-report-scale-")
    try:
        t = time.perf_counter()
        make_store(tmp, n_results, n_samples)
        made = time.perf_counter() - t
        t = time.perf_counter()
        build_report(tmp)
        took = time.perf_counter() - t
        size = sum(os.path.getsize(os.path.join(tmp, "plots", f))
                   for f in os.listdir(os.path.join(tmp, "plots")))
        print(f"{n_results:>8} results {n_samples:>6} samples: store built in {made:5.1f} s, "
              f"report rendered in {took:5.2f} s, plots {size / 1e6:.1f} MB")
        return took
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--results", type=int, default=100_000)
    ap.add_argument("--samples", type=int, default=10_000)
    a = ap.parse_args()
    small = timed(max(1, a.results // 100), max(12, a.samples // 100))
    big = timed(a.results, a.samples)
    print(f"# render time: {big:.2f} s for the full store (target < 10 s: "
          f"{big / 10:.0%} of the budget); {big / small:.1f}x the 1/100 store")


if __name__ == "__main__":
    main()
