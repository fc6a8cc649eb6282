"""Runner throughput and overhead against its peers, side by side in one run.

    python benchmarks/throughput.py            # everything, about 5-10 minutes here
    python benchmarks/throughput.py --quick    # fewer repeats
    python benchmarks/throughput.py --only trivial --baseline ../old-checkout
    python benchmarks/throughput.py --only phases   # the whole command, phase by phase
    python benchmarks/throughput.py --only eta      # the first ETA shown against the truth

Peers: mpi4py.futures (MPIPoolExecutor.map, chunksize 1 and hand-tuned) under the same
mpiexec, and multiprocessing.Pool on one node. parc_mpi is timed from the scheduler's
start to the last result committed to its SQLite store (its own summary); the peers
from the start to the end of their timed map after a warm-up, storing nothing.
Targets (issue 3): trivial tasks >= 25x futures(chunksize 1) and >= 1.0x futures
(chunksize 64) on 2 and 4 workers; 1 ms tasks >= 95% parallel efficiency on 2 workers;
100 ms tasks within 1% of ideal; an idle rank <= 2% of a core; 1,000,000 lazy trivial
tasks with rank 0's peak memory under 300 MB. ``--baseline DIR`` runs another
checkout's parc_mpi in the same loop (a before/after ratio). The phase table (issue
22) times the whole command as a user does, beside mpi4py.futures (chunksize 64) and
multiprocessing.Pool as whole commands, with the run's own phases (start-up, compute,
final commit, results.csv, best.json, report) from its metadata.
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


def env(tree=ROOT, **kw):
    e = dict(os.environ)
    e["PYTHONPATH"] = tree + os.pathsep + e.get("PYTHONPATH", "")
    e.update({k: str(v) for k, v in kw.items()})
    return e


def ours(workers, *args, ranks=None, tree=ROOT, whole=False, **kw):
    """Run the job under mpiexec (``workers`` + 1 ranks, no monitor unless ``ranks``
    and ``args`` ask for one) with parc_mpi from ``tree``; return the summary it
    stored (with ``whole``, also the command's wall seconds and the run's phases)."""
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = os.path.join(tmp, "run")
        extra = list(args) or ["--no-monitor"]
        cmd = mpiexec_command(ranks or workers + 1) + [
            sys.executable, "-m", "parc_mpi.run", JOB, "--run-dir", run_dir, "-q", *extra]
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, env=env(tree, **kw), capture_output=True, text=True,
                              cwd=tmp)
        wall = time.perf_counter() - t0
        if proc.returncode != 0:
            raise SystemExit(f"parc_mpi run failed:\n{proc.stdout}\n{proc.stderr}")
        with RunReader(run_dir) as reader:  # this checkout's reader reads any tree's run
            meta = reader.meta()
        summary = meta["summary"]
        if whole:
            summary = dict(summary, wall=wall, phases=meta.get("phases") or {})
        return summary


def futures_whole(workers, chunksize, n):
    """mpi4py.futures as a whole command, timed as the user times it."""
    code = ("import sys; sys.path.insert(0, %r)\n"
            "import tasks\n"
            "from mpi4py.futures import MPIPoolExecutor\n"
            "if __name__ == '__main__':\n"
            "    with MPIPoolExecutor() as ex:\n"
            "        out = list(ex.map(tasks.square, range(%d), chunksize=%d))\n"
            "    print(len(out))\n") % (os.path.join(HERE, "jobs"), n, chunksize)
    with tempfile.TemporaryDirectory() as tmp:
        script = os.path.join(tmp, "peer.py")
        with open(script, "w") as fh:
            fh.write(code)
        cmd = mpiexec_command(workers + 1) + [sys.executable, "-m", "mpi4py.futures", script]
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, env=env(), capture_output=True, text=True, cwd=tmp)
        wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"mpi4py.futures run failed:\n{proc.stdout}\n{proc.stderr}")
    return wall


def pool_whole(workers, n):
    code = ("import sys, multiprocessing; sys.path.insert(0, %r)\n"
            "import tasks\n"
            "if __name__ == '__main__':\n"
            "    with multiprocessing.Pool(%d) as p:\n"
            "        out = p.map(tasks.square, range(%d), chunksize=64)\n"
            "    print(len(out))\n") % (os.path.join(HERE, "jobs"), workers, n)
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", code], env=env(), capture_output=True,
                          text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"Pool run failed:\n{proc.stderr}")
    return wall


def phases_table(reps: int) -> None:
    """Issue 22: the whole command, phase by phase, beside the peers' whole commands."""
    print("\n## the whole command as the user times it (trivial tasks, --no-monitor), "
          "seconds; peers timed as whole commands in the same run")
    print(f"{'tasks':>9} {'workers':>7} {'parc_mpi':>9} {'futures64':>10} {'Pool':>7} "
          f"{'x fut64':>8} {'end/compute':>12}  phases (s)")
    for n in (10_000, 100_000, 1_000_000):
        for w in (2, 3):
            runs = [ours(w, whole=True, BENCH_KIND="square", BENCH_N=n) for _ in range(reps)]
            run = sorted(runs, key=lambda r: r["wall"])[len(runs) // 2]
            fut = statistics.median(futures_whole(w, 64, n) for _ in range(reps))
            pl = statistics.median(pool_whole(w, n) for _ in range(reps))
            ph = run["phases"]
            compute = ph.get("compute (first task to last result)", run["seconds"])
            start = ph.get("start-up (process start to first task)", 0.0)
            end = sum(v for k, v in ph.items() if not k.startswith(("compute", "start-up")))
            teardown = run["wall"] - start - compute - end
            detail = ", ".join(f"{k.split(' (')[0]} {v:.2f}" for k, v in ph.items())
            print(f"{n:>9,} {w:>7} {run['wall']:>9.2f} {fut:>10.2f} {pl:>7.2f} "
                  f"{fut / run['wall']:>8.2f} {end / max(compute, 1e-9):>12.2f}  "
                  f"{detail}, teardown and launcher {teardown:.2f}", flush=True)


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


def efficiency(reps):
    """1 ms and 100 ms tasks on 2 workers against the ideal, both task hosts."""
    print("\n## parallel efficiency on 2 workers (ideal = tasks x seconds / workers)")
    print(f"{'task':>8} {'tasks':>6} {'parc_mpi':>9} {'in-proc':>8} {'futures c=1':>12} "
          f"{'futures c=16':>13}")
    for seconds, count in ((0.001, 3000), (0.1, 40)):
        ideal = count * seconds / 2
        kw = dict(BENCH_KIND="busy", BENCH_N=count, BENCH_SECONDS=seconds)
        o = ideal / best([ours(2, **kw) for _ in range(reps)], "seconds")
        ip = ideal / best([ours(2, "--no-monitor", "--in-process", **kw)
                           for _ in range(reps)], "seconds")
        f1 = ideal / best([futures(2, 1, **kw) for _ in range(reps)], "seconds")
        f16 = ideal / best([futures(2, 16, **kw) for _ in range(reps)], "seconds")
        print(f"{seconds * 1000:>6.0f}ms {count:>6} {o:>9.1%} {ip:>8.1%} {f1:>12.1%} "
              f"{f16:>13.1%}")


def _hms_seconds(text):
    h, m, s = (int(x) for x in text.split(":"))
    return 3600 * h + 60 * m + s


def first_eta(workers, kind, n, seconds):
    """Run a job with a progress line every 0.25 s; return (the first ETA shown, the
    seconds the run then really took to its summary line, the share done then)."""
    import re
    with tempfile.TemporaryDirectory() as tmp:
        cmd = mpiexec_command(workers + 1) + [
            sys.executable, "-m", "parc_mpi.run", JOB, "--run-dir", os.path.join(tmp, "run"),
            "--no-monitor", "--progress", "0.25"]
        proc = subprocess.Popen(cmd, env=env(BENCH_KIND=kind, BENCH_N=n, BENCH_SECONDS=seconds),
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        shown = None
        for line in proc.stdout:
            now = time.perf_counter()
            m = re.search(r"\[parc_mpi\] (\d+)/\d+ .*ETA (\d+:\d\d:\d\d)", line)
            if m and shown is None:
                shown = (now, _hms_seconds(m.group(2)), int(m.group(1)) / n)
            if "finished:" in line:
                end = now
        proc.wait()
    if shown is None:
        return None
    return shown[1], end - shown[0], shown[2]


def eta_table(reps):
    """The first ETA the progress line shows (eta.py: after 5% of the tasks, 3 per worker
    and 3 s of work) against the time the run then took. Target: within 25%."""
    print("\n## the first ETA shown against the time the run then took (target: within 25%)")
    print(f"{'job':42} {'shown at':>9} {'ETA s':>7} {'took s':>7} {'error':>7}")
    jobs = [("400 x 50 ms sleep, 3 workers", 3, "sleep", 400, 0.05),
            ("2,000 x 5 ms busy, 3 workers", 3, "busy", 2000, 0.005),
            ("100,000 trivial, 2 workers", 2, "square", 100000, 0.0),
            ("60 x 300 ms sleep, 4 workers", 4, "sleep", 60, 0.3)]
    for label, workers, kind, n, seconds in jobs:
        got = [first_eta(workers, kind, n, seconds) for _ in range(reps)]
        got = [g for g in got if g]
        if not got:
            print(f"{label:42} (the run ended before an ETA could be trusted)")
            continue
        errors = [abs(eta - took) / took for eta, took, _s in got]
        eta, took, share = got[errors.index(statistics.median(errors))] if len(got) % 2 \
            else got[0]
        print(f"{label:42} {share:8.0%} {eta:7.0f} {took:7.1f} "
              f"{statistics.median(errors):6.0%}")


def best(runs, key="tasks_per_second"):
    return statistics.median(r[key] for r in runs)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="one repeat instead of three")
    ap.add_argument("--baseline", metavar="DIR",
                    help="another parc_mpi checkout (e.g. a git worktree of the previous "
                         "commit) measured in the same loop, for a before/after ratio")
    ap.add_argument("--only", choices=("trivial", "efficiency", "phases", "eta"),
                    help="run one section only")
    ap.add_argument("--tasks", type=int, default=20000,
                    help="trivial tasks per run (more: steadier figures on a busy box)")
    ap.add_argument("--repeat", type=int, help="runs per figure (median)")
    args = ap.parse_args()
    reps = args.repeat or (1 if args.quick else 3)
    n = args.tasks
    print(f"# parc_mpi runner benchmark ({os.cpu_count()} cores here; median of {reps})")
    if args.only == "phases":
        phases_table(reps)
        return
    if args.only == "eta":
        eta_table(reps)
        return
    if args.only == "efficiency":
        efficiency(reps)
        return
    print(f"\n## trivial tasks (x*x), {n:,} of them, tasks/s")
    base_head = f" {'baseline':>10} {'base x c64':>10}" if args.baseline else ""
    print("(parc_mpi: tasks in a task process per worker, the default; in-proc: "
          "--in-process, tasks in the worker ranks themselves)")
    print(f"{'workers':>7} {'parc_mpi':>10} {'in-proc':>10} {'futures c=1':>12} "
          f"{'futures c=64':>13} {'Pool':>10} {'x vs c=1':>9} {'x vs c=64':>10} "
          f"{'in-proc x c64':>14}{base_head}")
    for w in (2, 4):
        o, ip, b, f1, f64, pl = [], [], [], [], [], []
        for _ in range(reps):  # interleaved, so that load drifts hit every column alike
            o.append(ours(w, BENCH_KIND="square", BENCH_N=n))
            ip.append(ours(w, "--no-monitor", "--in-process", BENCH_KIND="square",
                           BENCH_N=n))
            if args.baseline:
                b.append(ours(w, tree=os.path.abspath(args.baseline), BENCH_KIND="square",
                              BENCH_N=n))
            f1.append(futures(w, 1, BENCH_KIND="square", BENCH_N=n))
            f64.append(futures(w, 64, BENCH_KIND="square", BENCH_N=n))
            pl.append(pool(w, n))
        o, ip, f1, f64, pl = best(o), best(ip), best(f1), best(f64), best(pl)
        extra = f" {best(b):>10,.0f} {best(b) / f64:>10.2f}" if b else ""
        print(f"{w:>7} {o:>10,.0f} {ip:>10,.0f} {f1:>12,.0f} {f64:>13,.0f} {pl:>10,.0f} "
              f"{o / f1:>9.1f} {o / f64:>10.2f} {ip / f64:>14.2f}{extra}", flush=True)
    print("\n## tasks returning a 1 MiB numpy array, 300 of them: MB/s stored (parc_mpi) "
          "or received (futures)")
    print(f"{'workers':>7} {'parc_mpi':>10} {'futures c=1':>12} {'x':>6}")
    for w in (2, 4):
        kw = dict(BENCH_KIND="array", BENCH_N=300)
        o = best([ours(w, **kw) for _ in range(reps)]) * 1.048576
        f1 = best([futures(w, 1, **kw) for _ in range(reps)]) * 1.048576
        print(f"{w:>7} {o:>10,.0f} {f1:>12,.0f} {o / f1:>6.2f}", flush=True)
    if args.only == "trivial":
        return

    efficiency(reps)

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
    phases_table(1 if args.quick else reps)


if __name__ == "__main__":
    main()
