"""The same job under Slurm and under mpiexec, on the simulated six-node box, in one run.

    sudo python benchmarks/slurm_launch.py              # 3 rounds (about 5 min here)
    sudo python benchmarks/slurm_launch.py --rounds 1 --tasks 300

The box is the PaRC box of node_list.csv (six nodes, 4 cores each, gigabit links) with
Slurm on it (``SimCluster(..., slurm=True)``). Each round runs, in turn:

* ``mpiexec``: ``mpiexec -f hostfile -n 24 python -m parc_mpi.run job.py`` (MPICH's
  Hydra, through the box's launcher script, as over ssh on a real box);
* ``sbatch``: ``sbatch --wait`` of a script whose ``srun --mpi=pmi2`` starts the same
  24 ranks (the batch script of docs/slurm-and-laptop.md);

and the floor of each: the same launch of ``python -c "import mpi4py.MPI, numpy"``.
The job: TASKS tasks that each sleep SECONDS (the box's 24 ranks share this machine's 2
cores, so sleeping tasks measure the scheduling, not the CPU). A first run of each,
not counted, keeps the network figures that the counted runs reuse.

Printed per launcher, the median over rounds of: the whole command as the user times
it; the run's own end (its summary written) from the command's start; start-up (command start to the first task's start, from the store's clock);
throughput (tasks per second from the first task's start to the last task's end); and
the floor. Then sbatch's figures over mpiexec's.
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from parc_mpi.mpienv import find_mpiexec  # noqa: E402
from parc_mpi.nodes import read_node_list  # noqa: E402
from parc_mpi.simcluster import SimCluster, available  # noqa: E402
from parc_mpi.simslurm import available as slurm_available  # noqa: E402
from parc_mpi.store import RunReader  # noqa: E402

JOB = """import time, parc_mpi
def f(x):
    time.sleep({seconds})
    return x
job = parc_mpi.map(f, range({tasks}))
"""

SBATCH = """#!/bin/bash
#SBATCH --job-name={name}
#SBATCH --nodes=6
#SBATCH --ntasks-per-node=4
#SBATCH --output=%x-%j.out
{command}
"""


def env():
    e = dict(os.environ)
    e["PYTHONPATH"] = str(ROOT) + os.pathsep + e.get("PYTHONPATH", "")
    e["PATH"] = os.path.dirname(sys.executable) + os.pathsep + e["PATH"]
    return e


def timed(box, argv, where):
    t0 = time.time()
    done = subprocess.run(box.command(argv, cwd=str(where)), env=env(), capture_output=True,
                          text=True, timeout=600)
    if done.returncode != 0:
        raise SystemExit(f"{argv[:3]}: exit {done.returncode}\n{done.stdout[-2000:]}"
                         f"\n{done.stderr[-2000:]}")
    return t0, time.time() - t0


def figures(run_dir, t0, wall):
    with RunReader(str(run_dir)) as reader:
        cols = reader.columns(["t_start", "t_end", "status"])
        finished = reader.meta()["finished"]
    starts = [s for s, st in zip(cols["t_start"], cols["status"]) if st == "ok"]
    ends = [e for e, st in zip(cols["t_end"], cols["status"]) if st == "ok"]
    first, last = min(starts), max(ends)
    return {"wall": wall, "startup": first - t0, "rate": len(starts) / (last - first),
            "ended": finished - t0}


def launch(box, kind, where, name, argv):
    """Run ``argv`` (python -m parc_mpi.run ... or python -c ...) the ``kind`` way."""
    if kind == "mpiexec":
        return timed(box, [find_mpiexec(), "-f", "hostfile", "-n", "24", *argv], where)
    script = where / f"{name}.sbatch"
    script.write_text(SBATCH.format(name=name, command="srun --mpi=pmi2 " + " ".join(argv)))
    return timed(box, ["sbatch", "--wait", script.name], where)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--tasks", type=int, default=600)
    p.add_argument("--seconds", type=float, default=0.1)
    args = p.parse_args()
    why = available(launcher=True) or slurm_available()
    if why:
        raise SystemExit(f"cannot build the simulated Slurm box here: {why}")
    where = Path(tempfile.mkdtemp(prefix="parc-slurm-bench-"))
    (where / "job.py").write_text(JOB.format(seconds=args.seconds, tasks=args.tasks))
    nodes = read_node_list(str(ROOT / "node_list.csv"))
    subprocess.run([sys.executable, "-m", "parc_mpi.hostfile", str(ROOT / "node_list.csv"),
                    "-o", str(where / "hostfile"), "--format", "mpich"], check=True,
                   capture_output=True, env=env())
    run = ["python", "-m", "parc_mpi.run", "job.py", "-q", "--run-dir"]
    floor = ["python", "-c", "'import mpi4py.MPI, numpy'"]
    got = {k: [] for k in ("mpiexec", "sbatch")}
    floors = {k: [] for k in got}
    with SimCluster(nodes, "gigabit", slurm=True) as box:
        for kind in got:   # not counted: keeps the network figures for the box
            launch(box, kind, where, f"warm-{kind}", run + [f"runs/warm-{kind}"])
        for r in range(args.rounds):
            for kind in got:
                name = f"{kind}-{r}"
                t0, wall = launch(box, kind, where, name, run + [f"runs/{name}"])
                got[kind].append(figures(where / "runs" / name, t0, wall))
                floor_argv = floor if kind == "sbatch" else \
                    ["python", "-c", "import mpi4py.MPI, numpy"]
                floors[kind].append(launch(box, kind, where, f"floor-{name}", floor_argv)[1])
            print(f"round {r + 1}/{args.rounds}: " + ", ".join(
                f"{k} {v[-1]['wall']:.1f} s" for k, v in got.items()), flush=True)
    med = {k: {m: statistics.median(x[m] for x in v) for m in v[0]} for k, v in got.items()}
    fl = {k: statistics.median(v) for k, v in floors.items()}
    print(f"\n{args.tasks} tasks of {args.seconds:g} s, 24 ranks on the six-node box "
          f"(median of {args.rounds} rounds)")
    print(f"{'':10} {'whole command':>14} {'run ended':>10} {'start-up':>10} {'tasks/s':>9} "
          f"{'floor':>8}")
    for k, m in med.items():
        print(f"{k:10} {m['wall']:>12.2f} s {m['ended']:>8.2f} s {m['startup']:>8.2f} s "
              f"{m['rate']:>9.1f} {fl[k]:>6.2f} s")
    s, e = med["sbatch"], med["mpiexec"]
    print(f"{'ratio':10} {s['wall'] / e['wall']:>13.2f}x {s['ended'] / e['ended']:>9.2f}x "
          f"{s['startup'] / e['startup']:>9.2f}x {s['rate'] / e['rate']:>8.2f}x "
          f"{fl['sbatch'] / fl['mpiexec']:>7.2f}x   (sbatch over mpiexec)")
    print("run ended: from the command's start to the run's own end (its summary written); "
          "the rest of the whole command is the launcher's (sbatch --wait polls for the "
          "job's end)")


if __name__ == "__main__":
    main()
