"""kill -9 of rank 0 at random moments of an optimize job, then --resume: does every
resumed run evaluate exactly the points of the uninterrupted run (same seed)?

    python benchmarks/resume_stress.py [--kills 20] [--optimizer gp] [--budget 40]

One worker and --prefetch 1, so that the ask/tell order of the uninterrupted run is
itself fixed. Side by side: the uninterrupted run's wall time against the killed
run plus its resume (the price of a crash), printed as a ratio.
"""
import argparse
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests"))

from faults import kill_rank_when, ok_points, start  # noqa: E402
from parc_mpi.mpienv import mpiexec_command  # noqa: E402

JOB = """
import math, time, parc_mpi
from parc_mpi import Real, Integer
def f(x, y, k):
    time.sleep(0.02)
    return (x - 1) ** 2 + (y + 2) ** 2 + math.sin(5 * x) + 0.1 * k
job = parc_mpi.optimize(f, {{"x": Real(-5, 5), "y": Real(-5, 5), "k": Integer(0, 3)}},
                        budget={budget}, goal="min", optimizer="{optimizer}", seed=11)
"""


def cmd(job, *args):
    return mpiexec_command(2) + [sys.executable, "-m", "parc_mpi.run", job, *args, "-q",
                                 "--no-monitor", "--prefetch", "1"]


def run(job, *args):
    t = time.perf_counter()
    subprocess.run(cmd(job, *args), check=True, capture_output=True, text=True)
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kills", type=int, default=20)
    ap.add_argument("--optimizer", default="gp")
    ap.add_argument("--budget", type=int, default=40)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="parc-resume-stress-")
    try:
        job = os.path.join(tmp, "job.py")
        with open(job, "w") as fh:
            fh.write(JOB.format(budget=a.budget, optimizer=a.optimizer))
        whole = os.path.join(tmp, "whole")
        t_whole = run(job, "--run-dir", whole)
        reference = ok_points(whole)
        rng = random.Random(a.seed)
        same, times = 0, []
        for i in range(a.kills):
            at = rng.randint(1, a.budget - 1)
            run_dir = os.path.join(tmp, f"k{i}")
            t = time.perf_counter()
            proc = start(cmd(job, "--run-dir", run_dir))
            killed = kill_rank_when(proc, run_dir, 0, at)
            proc.communicate(timeout=120)
            run(job, "--resume", run_dir)
            times.append(time.perf_counter() - t)
            equal = ok_points(run_dir) == reference
            same += equal
            print(f"kill {i + 1:2d}: rank 0 killed at {killed} committed results; resumed run "
                  f"{'identical' if equal else 'DIFFERENT'}", flush=True)
        mean = sum(times) / len(times)
        print(f"# {a.optimizer}, budget {a.budget}: {same}/{a.kills} resumed runs evaluated "
              f"exactly the uninterrupted run's points and values")
        print(f"# wall time: uninterrupted {t_whole:.1f} s, killed + resumed {mean:.1f} s "
              f"on average ({mean / t_whole:.2f}x)")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
