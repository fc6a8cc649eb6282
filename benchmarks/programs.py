"""What running a program as a task costs, beside its peers, in one run.

    python benchmarks/programs.py              # about a minute here
    python benchmarks/programs.py --tasks 400 --repeat 3

1. Overhead per task of a program task: N tasks of a program that does nothing
   (``/bin/true``), with 2 workers each way:
   - a shell loop running it N times, one at a time (the floor of starting a program);
   - ``concurrent.futures.ProcessPoolExecutor(2)`` mapping ``subprocess.run`` over N
     (the peer the issue names);
   - parc_mpi: ``parc_mpi.program(["true"])`` under ``mpiexec -n 3 --no-monitor`` (two
     workers), each task in a folder of its own (made, filled, removed); serially too.
   Per task: the span from the first task's start to the last task's end over N (for
   parc_mpi from the store's own times; the start-up of the run is apart, printed as
   the whole command). Target: parc_mpi at most 10 ms per task above the pool.
2. A threaded program (``jobs/forces.c``, OpenMP) over 8 tasks on one machine, with
   ``cores=`` all this machine's cores against ``cores=1``: each task's own wall time
   (its threads help it) and the whole command (fewer tasks at once).
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)

from parc_mpi.mpienv import mpiexec_command  # noqa: E402
from parc_mpi.store import RunReader  # noqa: E402

TRUE = shutil.which("true") or "/bin/true"


def env(**extra):
    return dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""),
                **{k: str(v) for k, v in extra.items()})


def shell_loop(n):
    t0 = time.perf_counter()
    subprocess.run(["sh", "-c", f"i=0; while [ $i -lt {n} ]; do {TRUE}; i=$((i+1)); done"],
                   check=True)
    return time.perf_counter() - t0


def _one(_i):
    return subprocess.run([TRUE]).returncode


def pool(n, workers=2):
    with ProcessPoolExecutor(workers) as ex:
        list(ex.map(_one, range(2 * workers)))   # the pool's processes are up
        t0 = time.perf_counter()
        codes = list(ex.map(_one, range(n)))
        span = time.perf_counter() - t0
    assert not any(codes)
    return span


def parc(n, ranks, tmp, job_text, extra=()):
    """(span of the tasks, whole command, per-task seconds list) of one parc_mpi run."""
    job = os.path.join(tmp, "job.py")
    with open(job, "w") as fh:
        fh.write(job_text.replace("N_TASKS", str(n)))
    run_dir = os.path.join(tmp, f"run-{ranks}-{time.monotonic_ns()}")
    head = mpiexec_command(ranks) if ranks > 1 else []
    cmd = head + [sys.executable, "-m", "parc_mpi.run", job, "--run-dir", run_dir, "-q",
                  "--no-monitor", *extra]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=env(PARC_MPI_SCRATCH=os.path.join(tmp, "scratch")),
                          capture_output=True, text=True, cwd=tmp)
    whole = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"parc_mpi run failed: {proc.stderr[-2000:]}")
    with RunReader(run_dir) as reader:
        rows = [r for r in reader.results() if r.ok]
    assert len(rows) == n, len(rows)
    span = max(r.t_end for r in rows) - min(r.t_start for r in rows)
    return span, whole, [r.t_end - r.t_start for r in rows]


TRUE_JOB = f"""
import parc_mpi
job = parc_mpi.map(parc_mpi.program([{TRUE!r}]), range(N_TASKS))
"""

FORCES_JOB = """
import parc_mpi
forces = parc_mpi.program(["./forces.x", "4000", "4", "{item}"], inputs=["forces.x"])
job = parc_mpi.map(forces, range(1, N_TASKS + 1), cores=CORES)
"""


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", type=int, default=300)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    n, reps = args.tasks, args.repeat
    cores = len(os.sched_getaffinity(0))
    print(f"# program tasks ({cores} cores here; {n} tasks; median of {reps})")
    print(f"\n## 1. overhead per task of {TRUE}, 2 workers unless said")
    figures = {k: [] for k in ("shell loop (1 at a time)", "ProcessPoolExecutor(2) + "
                               "subprocess.run", "parc_mpi mpiexec -n 3", "parc_mpi serial")}
    wholes = {"parc_mpi mpiexec -n 3": [], "parc_mpi serial": []}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(reps):
            figures["shell loop (1 at a time)"].append(shell_loop(n) / n)
            figures["ProcessPoolExecutor(2) + subprocess.run"].append(pool(n) / n)
            span, whole, _per = parc(n, 3, tmp, TRUE_JOB)
            figures["parc_mpi mpiexec -n 3"].append(span / n)
            wholes["parc_mpi mpiexec -n 3"].append(whole)
            span, whole, _per = parc(n, 1, tmp, TRUE_JOB)
            figures["parc_mpi serial"].append(span / n)
            wholes["parc_mpi serial"].append(whole)
    med = {k: statistics.median(v) for k, v in figures.items()}
    peer = med["ProcessPoolExecutor(2) + subprocess.run"]
    print(f"{'':42} {'ms/task':>8} {'vs pool':>8}")
    for k, v in med.items():
        extra = f"   (whole command {statistics.median(wholes[k]):.2f} s)" if k in wholes else ""
        print(f"{k:42} {v * 1e3:8.2f} {v / peer:7.2f}x{extra}")
    over = (med["parc_mpi mpiexec -n 3"] - peer) * 1e3
    print(f"parc_mpi (2 workers) above the pool: {over:+.2f} ms per task (target <= 10 ms)")

    print("\n## 2. a threaded program (jobs/forces.c, OpenMP), 8 tasks, one machine")
    if not shutil.which("cc"):
        print("no C compiler here: skipped")
        return
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["cc", "-O2", "-fopenmp", "-o", os.path.join(tmp, "forces.x"),
                        os.path.join(ROOT, "jobs", "forces.c"), "-lm"], check=True)
        print(f"{'':38} {'task s (median)':>16} {'whole command s':>16}")
        ranks = cores + 1
        for c in (1, cores):
            per_task, wholes2 = [], []
            for _ in range(reps):
                _span, whole, per = parc(8, ranks, tmp, FORCES_JOB.replace("CORES", str(c)))
                per_task.append(statistics.median(per))
                wholes2.append(whole)
            print(f"cores={c} (mpiexec -n {ranks}, {cores} workers){'':8} "
                  f"{statistics.median(per_task):16.3f} {statistics.median(wholes2):16.2f}")


if __name__ == "__main__":
    main()
