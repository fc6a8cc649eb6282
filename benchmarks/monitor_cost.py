"""What monitoring costs: one health sample's CPU time, and the runner's throughput
with the monitor on against the same run with --no-monitor, side by side.

    python benchmarks/monitor_cost.py

Targets (issue 5): sampling under 1% of a core per node at the default 2 s interval;
the throughput benchmark loses under 2% with the monitor on.
"""
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)

from parc_mpi.monitor.sensors import Sensors  # noqa: E402
from throughput import ours  # noqa: E402


def sample_cost(n=200):
    sensors = Sensors()
    sensors.sample()
    c0 = time.process_time()
    for _ in range(n):
        sensors.sample()
    return (time.process_time() - c0) / n


def main():
    per = sample_cost()
    print(f"# one health sample: {per * 1e3:.2f} ms of CPU; at the default 2 s interval "
          f"{per / 2:.3%} of a core (target < 1%)")
    kw = dict(BENCH_KIND="busy", BENCH_N=3000, BENCH_SECONDS=0.001)
    off, on = [], []
    for _ in range(3):  # alternate so drift hits both alike
        off.append(ours(2, **kw)["tasks_per_second"])
        # one more rank for the monitor; the netbench runs before the timed phase
        on.append(ours(2, "--netbench", "off", ranks=4, **kw)["tasks_per_second"])
    a, b = statistics.median(off), statistics.median(on)
    print(f"# 3000 x 1 ms tasks on 2 workers, tasks/s (median of 3)")
    print(f"{'--no-monitor':>14} {'monitor on':>11} {'ratio':>7} {'loss':>7}")
    print(f"{a:>14,.1f} {b:>11,.1f} {b / a:>7.3f} {1 - b / a:>7.2%}  (target loss < 2%)")


if __name__ == "__main__":
    main()
