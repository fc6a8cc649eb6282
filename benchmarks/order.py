"""Long tasks first (issue 40, item 3): a sweep whose last items take longest, run in
the items' order, with ``--order learn`` (their length learned as the run goes) and
with ``map(..., cost=)`` (their cost known: the peer, the best a scheduler can do
with a known cost), side by side in one run.

    python benchmarks/order.py [--rounds 3] [--items 96] [--ranks 5]

The job: item n of 1..ITEMS sleeps 1.2 s x (n / ITEMS)^3 (a solver whose work grows
as a cube of the grid size), so in the items' order the longest tasks start last and
the run ends with a tail. Sleeping tasks measure the scheduling, not this machine's
two cores (parc_mpi gives a node no more task threads than it has cores: on this
machine 2 workers take tasks, as the output says). Printed: the median over rounds
of the whole command and of the compute (first task to last result), then each over
the items' order's.
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

from parc_mpi.mpienv import mpiexec_command  # noqa: E402
from parc_mpi.store import RunReader  # noqa: E402

JOB = """import time, parc_mpi
def f(n):
    time.sleep(1.2 * (n / {items}) ** 3)
    return n
job = parc_mpi.map(f, list(range(1, {items} + 1)){cost})
"""


def env():
    e = dict(os.environ)
    e["PYTHONPATH"] = str(ROOT) + os.pathsep + e.get("PYTHONPATH", "")
    return e


def one(work: Path, name: str, job: Path, ranks: int, extra):
    run_dir = work / name
    cmd = mpiexec_command(ranks) + [sys.executable, "-m", "parc_mpi.run", str(job),
                                    "--run-dir", str(run_dir), "-q", "--no-monitor"] + extra
    t = time.monotonic()
    done = subprocess.run(cmd, cwd=str(work), env=env(), capture_output=True, text=True,
                          timeout=600)
    wall = time.monotonic() - t
    if done.returncode != 0:
        raise SystemExit(f"{name} failed:\n{done.stdout}\n{done.stderr}")
    with RunReader(str(run_dir)) as r:
        summary = r.meta()["summary"]
        return wall, summary["seconds"], sum(1 for w in summary["workers"].values()
                                             if w.get("tasks"))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--items", type=int, default=96)
    ap.add_argument("--ranks", type=int, default=5)
    args = ap.parse_args()
    sides = {"items' order": ("", []), "--order learn": ("", ["--order", "learn"]),
             "cost= (known)": (", cost=lambda n: n", [])}
    res = {k: [] for k in sides}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for i in range(args.rounds):
            for k, (cost, extra) in sides.items():
                job = work / f"job{len(cost)}.py"
                job.write_text(JOB.format(items=args.items, cost=cost))
                res[k].append(one(work, f"r{i}-{len(res[k])}-{extra and 'learn' or len(cost)}",
                                  job, args.ranks, extra))
    used = res["items' order"][0][2]
    print(f"# {args.items} tasks of 1.2 s x (n/{args.items})^3, the longest last in the "
          f"items' order; {used} workers took tasks; median of {args.rounds}")
    print(f"{'':>15} {'whole s':>9} {'compute s':>10} {'whole / default':>16} "
          f"{'compute / default':>18}")
    base = None
    for k in sides:
        w = statistics.median(x[0] for x in res[k])
        c = statistics.median(x[1] for x in res[k])
        base = base or (w, c)
        print(f"{k:>15} {w:>9.2f} {c:>10.2f} {w / base[0]:>16.3f} {c / base[1]:>18.3f}")
    total = sum(1.2 * (n / args.items) ** 3 for n in range(1, args.items + 1))
    print(f"# the work: {total:.2f} s of task time; over {used} workers at best "
          f"{max(total / used, 1.2):.2f} s")


if __name__ == "__main__":
    main()
