"""What a crashing or stuck task costs, as whole commands timed as the user times them.

    python benchmarks/task_faults.py            # 3 repeats, about 3 minutes here

1. 1,000 tasks of 5 ms under ``mpiexec -n 4`` (3 workers, --no-monitor): a clean run,
   and the same with one task killed by SIGKILL, one segfaulting and one calling
   os._exit(3) (each dies 3 times, then fails for good). Target: every other result
   stored once, exit 1 naming them, the whole command within 5 s of the clean run's.
   The clean run with --in-process beside them (the old path; with the crashes it
   cannot finish at all).
2. Six tasks, one of which spends about 30 s in one LAPACK call, under timeout=1,
   serially: against the same job whose task 2 returns at once. Target: within
   timeout + 5 s of it.
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)

from parc_mpi.mpienv import mpiexec_command  # noqa: E402
from parc_mpi.store import RunReader  # noqa: E402

JOB = os.path.join(HERE, "jobs", "crashing.py")


def whole(cmd_head, *args, **env_extra):
    """(wall seconds, exit status, the run's final attempts by status)."""
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""),
               OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1",
               **{k: str(v) for k, v in env_extra.items()})
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = os.path.join(tmp, "run")
        cmd = cmd_head + [sys.executable, "-m", "parc_mpi.run", JOB, "--run-dir", run_dir,
                          "-q", "--no-monitor", *args]
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=tmp)
        wall = time.perf_counter() - t0
        counts = {}
        if os.path.exists(os.path.join(run_dir, "run.sqlite")):
            with RunReader(run_dir) as reader:
                counts = reader.task_counts()
    return wall, proc.returncode, counts


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    reps = args.repeat
    print(f"# task faults as whole commands ({os.cpu_count()} cores here; median of {reps})")
    print("\n## 1,000 tasks of 5 ms, mpiexec -n 4, 3 workers")
    mpi = mpiexec_command(4)
    rows = {"clean": [], "one in 1,000 SIGKILL, SIGSEGV, os._exit": [],
            "clean, --in-process": []}
    status = {}
    for _ in range(reps):   # interleaved, so that drifts in load hit every row alike
        for name, extra, env in (("clean", [], {}),
                                 ("one in 1,000 SIGKILL, SIGSEGV, os._exit", [],
                                  {"BENCH_CRASH": 1}),
                                 ("clean, --in-process", ["--in-process"], {})):
            wall, rc, counts = whole(mpi, *extra, **env)
            rows[name].append(wall)
            status[name] = (rc, counts)
    clean = statistics.median(rows["clean"])
    print(f"{'run':<42} {'seconds':>8} {'- clean':>8} {'exit':>5}  final attempts")
    for name, walls in rows.items():
        w = statistics.median(walls)
        rc, counts = status[name]
        print(f"{name:<42} {w:>8.2f} {w - clean:>+8.2f} {rc:>5}  {counts}", flush=True)

    print("\n## a task stuck 30 s in LAPACK, timeout=1, 6 tasks, serial")
    quick = statistics.median(whole([], BENCH_N=6, BENCH_STUCK=0)[0] for _ in range(reps))
    stuck_runs = [whole([], BENCH_N=6, BENCH_STUCK=1) for _ in range(reps)]
    stuck = statistics.median(w for w, _rc, _c in stuck_runs)
    print(f"{'task 2 returns at once':<42} {quick:>8.2f}")
    print(f"{'task 2 stuck in eigvals, timeout=1':<42} {stuck:>8.2f} {stuck - quick:>+8.2f} "
          f"{stuck_runs[0][1]:>5}  {stuck_runs[0][2]}  (target: within timeout + 5 s)")


if __name__ == "__main__":
    main()
