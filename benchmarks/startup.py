"""Start-up, phase by phase, beside the floor measured in the same run.

    python benchmarks/startup.py              # one machine and the six-node box (root)
    python benchmarks/startup.py --no-box     # one machine only

The floor is what any MPI Python program pays: ``mpiexec`` starting every rank with
``python -c "import mpi4py.MPI, numpy"`` (on the box: over its hostfile, 24 ranks).
parc_mpi's start-up is from rank 0's process start to its first task's start (the
run's own timestamps), split into the phases the run records: imports and the job
(rank 0's process start to the run's ``started`` stamp), agreement, clocks and the
network benchmark (``started`` to the scheduler's first hand-out), and the first
task's own wait (hand-out to the first task's start on a worker).

1. One machine: the README example (``mpiexec -n 4 ... jobs/pi_montecarlo.py``).
2. The simulated six-node PaRC box (gigabit; its nodes share this machine's cores, so
   seconds here are not a Pi's): the first run of a new cluster (the network is
   measured and kept), then a later run (the kept figures, after a spot check), and
   ``--netbench off`` beside them.
Goals (issue 37): a later run on the box within 1.5x its floor, the first run within
15 s of it; one machine within 1.5x its floor.
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)

from parc_mpi.mpienv import find_mpiexec, mpiexec_command  # noqa: E402
from parc_mpi.store import RunReader  # noqa: E402

FLOOR = [sys.executable, "-c", "import mpi4py.MPI, numpy"]
JOB = os.path.join(ROOT, "jobs", "pi_montecarlo.py")


def env(**extra):
    return dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""),
                **{k: str(v) for k, v in extra.items()})


def timed(cmd, cwd=None):
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=env(), capture_output=True, text=True, cwd=cwd)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[:6])}... failed:\n{proc.stdout[-1500:]}\n"
                         f"{proc.stderr[-1500:]}")
    return time.perf_counter() - t0, proc


def first_task(run_dir):
    """(process start to the scheduler's start, process start to the first task's start,
    where the network figures came from), from the run's own stamps."""
    with RunReader(run_dir) as db:
        meta = db.meta()
        first = min(r.t_start for r in db.results())
    to_sched = (meta.get("phases") or {}).get("start-up (process start to first task)", 0.0)
    lag = max(0.0, first - meta.get("compute_started", first))
    return to_sched, to_sched + lag, (meta.get("netbench") or {}).get("source", "off")


def one_machine(reps):
    print("\n## one machine: the README example, mpiexec -n 4 (seconds, median of "
          f"{reps})")
    rows = {"floor (mpiexec -n 4 python -c 'import mpi4py.MPI, numpy')": [],
            "parc_mpi: process start to first task": [],
            "parc_mpi: process start to the scheduler's start": [],
            "parc_mpi: whole command (200 tasks)": []}
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(reps):
            rows["floor (mpiexec -n 4 python -c 'import mpi4py.MPI, numpy')"].append(
                timed(mpiexec_command(4) + FLOOR)[0])
            run_dir = os.path.join(tmp, f"r{i}")
            wall, _p = timed(mpiexec_command(4) + [sys.executable, "-m", "parc_mpi.run", JOB,
                                                   "--run-dir", run_dir, "-q"], cwd=tmp)
            to_sched, to_first, _src = first_task(run_dir)
            rows["parc_mpi: process start to first task"].append(to_first)
            rows["parc_mpi: process start to the scheduler's start"].append(to_sched)
            rows["parc_mpi: whole command (200 tasks)"].append(wall)
    med = {k: statistics.median(v) for k, v in rows.items()}
    floor = next(iter(med.values()))
    for k, v in med.items():
        print(f"{k:62} {v:6.2f} s  {v / floor:5.2f}x floor")


def box(reps):
    from parc_mpi.nodes import read_node_list
    from parc_mpi.simcluster import SimCluster, available
    why = available()
    if why:
        print(f"\n## six-node box: skipped ({why})")
        return
    print("\n## the simulated six-node box, 24 ranks over its hostfile (seconds; its nodes "
          "share this machine's cores)")
    with tempfile.TemporaryDirectory() as tmp:
        nodes_csv = os.path.join(tmp, "node_list.csv")
        with open(nodes_csv, "w") as fh:
            fh.write("name,address,role,cores\n" + "".join(
                f"pi{i},pi{i},{'main' if i == 0 else 'worker'},4\n" for i in range(6)))
        hostfile = os.path.join(tmp, "hostfile")
        subprocess.run([sys.executable, "-m", "parc_mpi.hostfile", nodes_csv, "-o", hostfile,
                        "--format", "mpich"], check=True, env=env(), capture_output=True)
        head = [find_mpiexec(), "-f", hostfile, "-n", "24"]
        rows, sources = {}, {}
        with SimCluster(read_node_list(nodes_csv), "gigabit") as sim:
            for i in range(reps):
                cache = os.path.join(sim.home("pi0"), ".cache", "parc_mpi", "netbench")
                shutil.rmtree(cache, ignore_errors=True)   # a new cluster
                floor, _p = timed(sim.command(head + FLOOR, cwd=tmp))
                rows.setdefault("floor (24 ranks: import mpi4py.MPI, numpy)", []).append(floor)
                for label, extra in (("first run (network measured, kept)", ()),
                                     ("later run (kept figures, spot check)", ()),
                                     ("--netbench off", ("--netbench", "off"))):
                    run_dir = os.path.join(tmp, f"{label[:5]}-{i}")
                    wall, _p = timed(sim.command(head + [
                        sys.executable, "-m", "parc_mpi.run", JOB, "--run-dir", run_dir,
                        "-q", *extra], cwd=tmp))
                    to_sched, to_first, source = first_task(run_dir)
                    rows.setdefault(label + ": to the first task", []).append(to_first)
                    sources.setdefault(label, set()).add(source)
                    rows.setdefault(label + ": whole command", []).append(wall)
    med = {k: statistics.median(v) for k, v in rows.items()}
    floor = next(iter(med.values()))
    for k, v in med.items():
        print(f"{k:62} {v:6.2f} s  {v / floor:5.2f}x floor  ({v - floor:+.1f} s)")
    print("network figures: " + "; ".join(f"{k}: {', '.join(sorted(v))}"
                                         for k, v in sources.items()))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--no-box", action="store_true")
    args = ap.parse_args()
    print(f"# start-up against the floor ({os.cpu_count()} cores here)")
    one_machine(args.repeat)
    if not args.no_box:
        box(args.repeat)


if __name__ == "__main__":
    main()
