"""Start-up, phase by phase, beside the floor measured in the same run.

    python benchmarks/startup.py              # one machine and the six-node box (root)
    python benchmarks/startup.py --no-box     # one machine only
    python benchmarks/startup.py --only box   # or machine, fit, imports

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
3. A 120-evaluation fit of a 5 ms objective (``--only fit``): the whole command,
   serially against ``mpiexec -n 4``.
4. Imports per role (``--only imports``): the modules each process of the README example
   loaded (rank 0, a worker, the monitor, a task process), their CPU cost here when
   imported into a fresh interpreter, and that cost on a Raspberry Pi 4 estimated from
   this machine's time for a pure-Python n-body beside a published Pi 4 figure.
Goals (issue 37): a later run on the box within 1.5x its floor, the first run within
15 s of it; one machine within 1.5x its floor.
"""
import argparse
import glob
import json
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


def first_task(run_dir, steps=None):
    """(process start to the scheduler's start, process start to the first task's start,
    where the network figures came from), from the run's own stamps; ``steps`` (a dict)
    gathers rank 0's start-up step by step (meta["startup"]), and the first task's lag
    behind the scheduler's start."""
    with RunReader(run_dir) as db:
        meta = db.meta()
        first = min(r.t_start for r in db.results())
    to_sched = (meta.get("phases") or {}).get("start-up (process start to first task)", 0.0)
    lag = max(0.0, first - meta.get("compute_started", first))
    if steps is not None:
        for k, v in (meta.get("startup") or {}).items():
            steps.setdefault(k, []).append(v)
        steps.setdefault("the first task's start on a worker", []).append(lag)
    return to_sched, to_sched + lag, (meta.get("netbench") or {}).get("source", "off")


def print_steps(title, steps):
    print(f"  {title}, rank 0's start-up step by step (median):")
    for k, v in steps.items():
        print(f"    {k:58} {statistics.median(v):6.2f} s")


def one_machine(reps):
    print("\n## one machine: the README example, mpiexec -n 4 (seconds, median of "
          f"{reps})")
    rows = {"floor (mpiexec -n 4 python -c 'import mpi4py.MPI, numpy')": [],
            "parc_mpi: process start to first task": [],
            "parc_mpi: process start to the scheduler's start": [],
            "parc_mpi: whole command (200 tasks)": []}
    steps = {}
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(reps):
            rows["floor (mpiexec -n 4 python -c 'import mpi4py.MPI, numpy')"].append(
                timed(mpiexec_command(4) + FLOOR)[0])
            run_dir = os.path.join(tmp, f"r{i}")
            wall, _p = timed(mpiexec_command(4) + [sys.executable, "-m", "parc_mpi.run", JOB,
                                                   "--run-dir", run_dir, "-q"], cwd=tmp)
            to_sched, to_first, _src = first_task(run_dir, steps)
            rows["parc_mpi: process start to first task"].append(to_first)
            rows["parc_mpi: process start to the scheduler's start"].append(to_sched)
            rows["parc_mpi: whole command (200 tasks)"].append(wall)
    med = {k: statistics.median(v) for k, v in rows.items()}
    floor = next(iter(med.values()))
    for k, v in med.items():
        print(f"{k:62} {v:6.2f} s  {v / floor:5.2f}x floor")
    print_steps("the README example", steps)


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
        rows, sources, steps = {}, {}, {}
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
                    to_sched, to_first, source = first_task(run_dir,
                                                            steps.setdefault(label, {}))
                    rows.setdefault(label + ": to the first task", []).append(to_first)
                    sources.setdefault(label, set()).add(source)
                    rows.setdefault(label + ": whole command", []).append(wall)
    med = {k: statistics.median(v) for k, v in rows.items()}
    floor = next(iter(med.values()))
    for k, v in med.items():
        print(f"{k:62} {v:6.2f} s  {v / floor:5.2f}x floor  ({v - floor:+.1f} s)")
    print("network figures: " + "; ".join(f"{k}: {', '.join(sorted(v))}"
                                         for k, v in sources.items()))
    for label, got in steps.items():
        print_steps(label, got)


# Every process of a run writes the modules it loaded when it ends (os._exit too: the
# ranks leave that way), with its rank, whether it is a task process and, for a task
# process forked from its rank, what it had at the fork (loaded by the rank, not by
# it). An audit hook sees each import, so no thread runs: a rank with a second thread
# would not fork its task process.
SITECUSTOMIZE = """
import os, sys, json, atexit, time
_parc_bench_seen = []   # (wall time, the modules then), each time their count changed
_parc_bench_forked = []   # in a forked child: the modules it was forked with
def _parc_bench_hook(event, args):
    if event == "import" and (not _parc_bench_seen or
                              len(sys.modules) != len(_parc_bench_seen[-1][1])):
        _parc_bench_seen.append((time.time(), sorted(sys.modules)))
sys.addaudithook(_parc_bench_hook)
def _parc_bench_child():
    _parc_bench_forked[:] = sorted(sys.modules)
    _parc_bench_seen[:] = [(time.time(), sorted(sys.modules))]
    _parc_bench_dump.done = False
os.register_at_fork(after_in_child=_parc_bench_child)
def _parc_bench_dump():
    out = os.environ.get("PARC_BENCH_MODULES")
    if not out or getattr(_parc_bench_dump, "done", False):
        return
    _parc_bench_dump.done = True
    rank = os.environ.get("PMI_RANK", os.environ.get("OMPI_COMM_WORLD_RANK"))
    with open(os.path.join(out, "%d.json" % os.getpid()), "w") as fh:
        json.dump({"rank": rank, "task": bool(os.environ.get("PARC_MPI_TASK_PROCESS")),
                   "forked": _parc_bench_forked,
                   "seen": _parc_bench_seen + [(time.time(), sorted(sys.modules))]}, fh)
atexit.register(_parc_bench_dump)
_parc_bench_exit = os._exit
def _parc_bench_exit_dumping(code):
    try:
        _parc_bench_dump()
    finally:
        _parc_bench_exit(code)
os._exit = _parc_bench_exit_dumping
"""

# The time of one pure-Python n-body program on a Raspberry Pi 4 (4 GB, 1.5 GHz, the
# performance governor): 158.3 s for 5,000,000 steps ("Performance Analysis of
# Languages on Raspberry Pi", chaitanyamehta.github.io). The same program's steps timed
# here give the factor. The page names neither its Python (Pi OS's was 3.7 then; 3.11
# is about a quarter faster on such code) nor its exact source, so the factor is good to
# perhaps 30%; imports also read files, from an SD card on a Pi (warm cache assumed).
PI4_NBODY_SECONDS_PER_STEP = 158.3 / 5_000_000

NBODY = """
import sys, time
PI = 3.14159265358979323
SOLAR_MASS = 4 * PI * PI
DAYS_PER_YEAR = 365.24
BODIES = {
    'sun': ([0.0, 0.0, 0.0], [0.0, 0.0, 0.0], SOLAR_MASS),
    'jupiter': ([4.84143144246472090e+00, -1.16032004402742839e+00, -1.03622044471123109e-01],
                [1.66007664274403694e-03 * DAYS_PER_YEAR, 7.69901118419740425e-03 * DAYS_PER_YEAR,
                 -6.90460016972063023e-05 * DAYS_PER_YEAR], 9.54791938424326609e-04 * SOLAR_MASS),
    'saturn': ([8.34336671824457987e+00, 4.12479856412430479e+00, -4.03523417114321381e-01],
               [-2.76742510726862411e-03 * DAYS_PER_YEAR, 4.99852801234917238e-03 * DAYS_PER_YEAR,
                2.30417297573763929e-05 * DAYS_PER_YEAR], 2.85885980666130812e-04 * SOLAR_MASS),
    'uranus': ([1.28943695621391310e+01, -1.51111514016986312e+01, -2.23307578892655734e-01],
               [2.96460137564761618e-03 * DAYS_PER_YEAR, 2.37847173959480950e-03 * DAYS_PER_YEAR,
                -2.96589568540237556e-05 * DAYS_PER_YEAR], 4.36624404335156298e-05 * SOLAR_MASS),
    'neptune': ([1.53796971148509165e+01, -2.59193146099879641e+01, 1.79258772950371181e-01],
                [2.68067772490389322e-03 * DAYS_PER_YEAR, 1.62824170038242295e-03 * DAYS_PER_YEAR,
                 -9.51592254519715870e-05 * DAYS_PER_YEAR], 5.15138902046611451e-05 * SOLAR_MASS)}
SYSTEM = list(BODIES.values())
PAIRS = [(SYSTEM[i], SYSTEM[j]) for i in range(len(SYSTEM)) for j in range(i + 1, len(SYSTEM))]
def advance(dt, n, bodies=SYSTEM, pairs=PAIRS):
    for i in range(n):
        for (([x1, y1, z1], v1, m1), ([x2, y2, z2], v2, m2)) in pairs:
            dx = x1 - x2
            dy = y1 - y2
            dz = z1 - z2
            mag = dt * ((dx * dx + dy * dy + dz * dz) ** (-1.5))
            b1m = m1 * mag
            b2m = m2 * mag
            v1[0] -= dx * b2m
            v1[1] -= dy * b2m
            v1[2] -= dz * b2m
            v2[0] += dx * b1m
            v2[1] += dy * b1m
            v2[2] += dz * b1m
        for (r, [vx, vy, vz], m) in bodies:
            r[0] += dt * vx
            r[1] += dt * vy
            r[2] += dt * vz
n = int(sys.argv[1])
t = time.process_time()
advance(0.01, n)
print(time.process_time() - t)
"""


def pi4_factor(steps=300_000):
    """How many times longer pure Python takes on a Pi 4 than here (median of 3)."""
    times = [float(subprocess.run([sys.executable, "-c", NBODY, str(steps)], check=True,
                                  capture_output=True, text=True).stdout)
             for _ in range(3)]
    here = statistics.median(times) / steps
    return PI4_NBODY_SECONDS_PER_STEP / here, here


IMPORT_COST = """
import importlib, json, sys, time
import mpi4py
mpi4py.rc.initialize = False   # the imports, not MPI_Init
names = json.loads(sys.argv[1])
t = time.process_time()
for name in names:
    try:
        importlib.import_module(name)
    except Exception:
        pass
print(time.process_time() - t)
"""


def import_cpu(names, reps=3):
    """CPU seconds to import ``names`` into a fresh interpreter, median of ``reps``."""
    out = []
    for _ in range(reps):
        done = subprocess.run([sys.executable, "-c", IMPORT_COST, json.dumps(names)],
                              check=True, capture_output=True, text=True, env=env())
        out.append(float(done.stdout.strip().splitlines()[-1]))
    return statistics.median(out)


def heaviest(names, top=4):
    """The top-level packages of ``names`` that cost the most to import here (self
    time from ``-X importtime``)."""
    done = subprocess.run([sys.executable, "-X", "importtime", "-c", IMPORT_COST,
                           json.dumps(names)], capture_output=True, text=True, env=env())
    cost = {}
    for line in done.stderr.splitlines():
        parts = line.split("|")
        if len(parts) == 3 and parts[0].startswith("import time:") and \
                parts[0].split(":")[1].strip().isdigit():
            pkg = parts[2].strip().split(".")[0]
            cost[pkg] = cost.get(pkg, 0) + int(parts[0].split(":")[1])
    return sorted(cost.items(), key=lambda kv: -kv[1])[:top]


def imports():
    print("\n## imports per role: the README example, mpiexec -n 4 (CPU seconds to import "
          "what each loaded, into a fresh interpreter, median of 3)")
    factor, step = pi4_factor()
    with tempfile.TemporaryDirectory() as tmp:
        hook, mods = os.path.join(tmp, "hook"), os.path.join(tmp, "mods")
        os.makedirs(hook)
        os.makedirs(mods)
        with open(os.path.join(hook, "sitecustomize.py"), "w") as fh:
            fh.write(SITECUSTOMIZE)
        run_env = dict(env(PARC_BENCH_MODULES=mods),
                       PYTHONPATH=hook + os.pathsep + env()["PYTHONPATH"])
        run_dir = os.path.join(tmp, "run")
        subprocess.run(mpiexec_command(4) + [sys.executable, "-m", "parc_mpi.run", JOB,
                                             "--run-dir", run_dir, "-q"],
                       check=True, env=run_env, cwd=tmp, capture_output=True)
        with RunReader(run_dir) as db:
            monitor = str(db.meta().get("monitor_rank"))
            first = min(r.t_start for r in db.results())
        bare = set(json.loads(subprocess.run(
            [sys.executable, "-c", "import sys, json; print(json.dumps(sorted(sys.modules)))"],
            check=True, capture_output=True, text=True).stdout))
        roles, ranks, forked = {}, {}, {}
        for path in sorted(glob.glob(os.path.join(mods, "*.json"))):
            with open(path) as fh:
                got = json.load(fh)
            if got["rank"] is None and not got["task"]:
                continue   # mpiexec's own helpers, were any Python
            role = ("task process" if got["task"] else "rank 0 (main)" if got["rank"] == "0"
                    else "monitor rank" if got["rank"] == monitor else "worker rank")
            # what it had loaded when the run's first task started (a task process: by
            # its own first task, its last snapshot), and by its end
            before = [m for t, m in got["seen"] if t <= first] or [got["seen"][0][1]]
            at = got["seen"][-1][1] if got["task"] else before[-1]
            had = set(got.get("forked") or ())   # a forked task process: its rank's
            for when, names in (("start", at), ("end", got["seen"][-1][1])):
                roles.setdefault((role, when), [m for m in names if m not in bare and
                                                m not in had and
                                                not m.startswith(("__main__", "__mp_main__"))])
            if had:
                forked[role] = sorted(m for m in had if m not in bare and
                                      not m.startswith(("__main__", "__mp_main__")))
            ranks.setdefault(role, set()).add(got["rank"])
    print(f"a Pi 4 runs pure Python {factor:.1f}x slower than this machine (n-body: "
          f"{step * 1e6:.1f} us a step here, {PI4_NBODY_SECONDS_PER_STEP * 1e6:.1f} us on a "
          "Pi 4)")
    total_here = total_pi = 0.0
    count = {"rank 0 (main)": 1, "monitor rank": 1, "worker rank": 2, "task process": 2}
    for role in count:
        if (role, "start") not in roles:
            continue
        names = roles[(role, "start")]
        cpu = import_cpu(names)
        if role in forked:   # what it loaded beyond what its rank had at the fork
            cpu = max(0.0, import_cpu(forked[role] + names) - import_cpu(forked[role]))
        top = "" if role in forked else ", ".join(f"{pkg} {us / 1e3:.0f} ms"
                                                  for pkg, us in heaviest(names))
        print(f"{role:16} {len(names):4d} modules  {cpu:5.2f} CPU s here  "
              f"about {cpu * factor:5.1f} s on a Pi 4   (heaviest here: {top or '-'})"
              + (f"  [forked from its rank: only the {len(names)} modules it loaded itself]"
                 if role in forked else ""))
        later = sorted({m.split(".")[0] for m in roles[(role, "end")]} -
                       {m.split(".")[0] for m in names})
        if later:
            print(f"{'':16} after the first task: {', '.join(later)}")
        total_here += count[role] * cpu
        total_pi += count[role] * cpu * factor
    print(f"a Pi node of 4 ranks (main, monitor and 2 workers, as pi0) with 2 task processes: "
          f"{total_here:.2f} CPU s here, about {total_pi:.1f} CPU s on a Pi 4, "
          f"{total_pi / 4:.1f} s over its 4 cores")


FIT = """
import time, parc_mpi
from parc_mpi import Real
def loss(a, b, c):
    t = time.process_time() + 0.005          # 5 ms of CPU, as a small simulation
    while time.process_time() < t:
        pass
    return (a - 0.3) ** 2 + (b + 0.1) ** 2 + 0.1 * c ** 2
job = parc_mpi.optimize(loss, {"a": Real(-1, 1), "b": Real(-1, 1), "c": Real(-1, 1)},
                        goal="min", budget=120, seed=1)
"""


def fit(reps):
    """A 120-evaluation optimization of a 5 ms objective (the default optimizer), the
    whole command: serially (``python -m parc_mpi.run``) against ``mpiexec -n 4``."""
    print(f"\n## a 120-evaluation fit of a 5 ms objective, whole command (median of {reps})")
    rows = {"serial: python -m parc_mpi.run fit.py": [],
            "mpiexec -n 4 python -m parc_mpi.run fit.py": []}
    computes = {k: [] for k in rows}
    with tempfile.TemporaryDirectory() as tmp:
        job = os.path.join(tmp, "fit.py")
        with open(job, "w") as fh:
            fh.write(FIT)
        for i in range(reps):
            for label, head in zip(rows, ([], mpiexec_command(4))):
                run_dir = os.path.join(tmp, f"{len(head)}-{i}")
                wall, _p = timed(head + [sys.executable, "-m", "parc_mpi.run", job,
                                         "--run-dir", run_dir, "-q"], cwd=tmp)
                rows[label].append(wall)
                with RunReader(run_dir) as db:
                    computes[label].append((db.meta().get("phases") or {}).get(
                        "compute (first task to last result)", float("nan")))
    med = {k: statistics.median(v) for k, v in rows.items()}
    serial = next(iter(med.values()))
    for k, v in med.items():
        print(f"{k:62} {v:6.2f} s  {v / serial:5.2f}x serial  (compute "
              f"{statistics.median(computes[k]):.2f} s)")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--no-box", action="store_true")
    ap.add_argument("--only", choices=("machine", "fit", "box", "imports"))
    args = ap.parse_args()
    print(f"# start-up against the floor ({os.cpu_count()} cores here)")
    if args.only in (None, "machine"):
        one_machine(args.repeat)
    if args.only in (None, "fit"):
        fit(args.repeat)
    if args.only in (None, "imports"):
        imports()
    if args.only in (None, "box") and not args.no_box:
        box(args.repeat)


if __name__ == "__main__":
    main()
