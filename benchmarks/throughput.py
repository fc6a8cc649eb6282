"""Runner throughput and overhead against its peers, side by side in one run.

    python benchmarks/throughput.py            # everything, about 2-3 minutes here
    python benchmarks/throughput.py --quick    # fewer repeats

Peers: mpi4py.futures (MPIPoolExecutor.map, chunksize 1 and hand-tuned) under the same
mpiexec, and multiprocessing.Pool on one node. parc_mpi is timed from the scheduler's
start to the last result committed to its SQLite store (its own summary); the peers
from the start to the end of their timed map after a warm-up, storing nothing.
Targets (issue 3): trivial tasks >= 25x futures(chunksize 1) and >= 1.0x futures
(chunksize 64) on 2 and 4 workers; 1 ms tasks >= 95% parallel efficiency on 2 workers;
100 ms tasks within 1% of ideal; an idle rank <= 2% of a core; 1,000,000 lazy trivial
tasks with rank 0's peak memory under 300 MB.
"""
import argparse
import json
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(HERE, "jobs"))

from parc_mpi.mpienv import mpiexec_command  # noqa: E402
from parc_mpi.store import RunReader  # noqa: E402

JOB = os.path.join(HERE, "jobs", "tasks.py")
PEER = os.path.join(HERE, "jobs", "futures_peer.py")


def env(**kw):
    e = dict(os.environ)
    e["PYTHONPATH"] = ROOT + os.pathsep + e.get("PYTHONPATH", "")
    e.update({k: str(v) for k, v in kw.items()})
    return e


def ours(workers, *args, ranks=None, **kw):
    """Run the job under mpiexec (``workers`` + 1 ranks, no monitor unless ``ranks``
    and ``args`` ask for one); return the summary parc_mpi stored."""
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = os.path.join(tmp, "run")
        extra = list(args) or ["--no-monitor"]
        cmd = mpiexec_command(ranks or workers + 1) + [
            sys.executable, "-m", "parc_mpi.run", JOB, "--run-dir", run_dir, "-q", *extra]
        proc = subprocess.run(cmd, env=env(**kw), capture_output=True, text=True, cwd=ROOT)
        if proc.returncode != 0:
            raise SystemExit(f"parc_mpi run failed:\n{proc.stdout}\n{proc.stderr}")
        with RunReader(run_dir) as reader:
            return reader.meta()["summary"]


def futures(workers, chunksize, **kw):
    cmd = mpiexec_command(workers + 1) + [sys.executable, "-m", "mpi4py.futures", PEER,
                                          str(chunksize)]
    proc = subprocess.run(cmd, env=env(**kw), capture_output=True, text=True, cwd=ROOT)
    if proc.returncode != 0:
        raise SystemExit(f"mpi4py.futures run failed:\n{proc.stdout}\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def pool(workers, n, chunksize=None):
    import tasks
    with multiprocessing.Pool(workers) as p:
        p.map(tasks.square, range(200))
        t0 = time.perf_counter()
        p.map(tasks.square, range(n), chunksize=chunksize)
        dt = time.perf_counter() - t0
    return {"seconds": dt, "tasks_per_second": n / dt}


def best(runs, key="tasks_per_second"):
    return statistics.median(r[key] for r in runs)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="one repeat instead of three")
    args = ap.parse_args()
    reps = 1 if args.quick else 3
    n = 20000
    print(f"# parc_mpi runner benchmark ({os.cpu_count()} cores here; median of {reps})")
    print("\n## trivial tasks (x*x), 20,000 of them, tasks/s")
    print(f"{'workers':>7} {'parc_mpi':>10} {'futures c=1':>12} {'futures c=64':>13} "
          f"{'Pool':>10} {'x vs c=1':>9} {'x vs c=64':>10}")
    for w in (2, 4):
        o = best([ours(w, BENCH_KIND="square", BENCH_N=n) for _ in range(reps)])
        f1 = best([futures(w, 1, BENCH_KIND="square", BENCH_N=n) for _ in range(reps)])
        f64 = best([futures(w, 64, BENCH_KIND="square", BENCH_N=n) for _ in range(reps)])
        pl = best([pool(w, n) for _ in range(reps)])
        print(f"{w:>7} {o:>10,.0f} {f1:>12,.0f} {f64:>13,.0f} {pl:>10,.0f} "
              f"{o / f1:>9.1f} {o / f64:>10.2f}")

    print("\n## parallel efficiency on 2 workers (ideal = tasks x seconds / workers)")
    print(f"{'task':>8} {'tasks':>6} {'parc_mpi':>9} {'futures c=1':>12} {'futures c=16':>13}")
    for seconds, count in ((0.001, 3000), (0.1, 40)):
        ideal = count * seconds / 2
        kw = dict(BENCH_KIND="busy", BENCH_N=count, BENCH_SECONDS=seconds)
        o = ideal / best([ours(2, **kw) for _ in range(reps)], "seconds")
        f1 = ideal / best([futures(2, 1, **kw) for _ in range(reps)], "seconds")
        f16 = ideal / best([futures(2, 16, **kw) for _ in range(reps)], "seconds")
        print(f"{seconds * 1000:>6.0f}ms {count:>6} {o:>9.1%} {f1:>12.1%} {f16:>13.1%}")

    print("\n## idle ranks: CPU used while waiting, fraction of one core")
    s = ours(2, BENCH_KIND="sleep", BENCH_N=4, BENCH_SECONDS=2)
    print(f"main rank while 2 workers run 2 s tasks: {s['main_cpu_seconds'] / s['seconds']:.2%}")
    s = ours(3, BENCH_KIND="sleep", BENCH_N=2, BENCH_SECONDS=3)
    idle = [w.get("idle_cpu_fraction") for w in s["workers"].values() if w["tasks"] == 0]
    print(f"worker with nothing to do for 3 s: {', '.join(f'{x:.2%}' for x in idle) or 'n/a'}")

    print("\n## 1,000,000 trivial tasks from a generator, 2 workers")
    s = ours(2, BENCH_KIND="square", BENCH_N=1_000_000, BENCH_LAZY=1)
    print(f"rank 0 peak memory: {s['main_peak_rss_mb']:.0f} MB (target < 300 MB); "
          f"{s['tasks_per_second']:,.0f} tasks/s, {s['tasks']:,} stored")


if __name__ == "__main__":
    main()
