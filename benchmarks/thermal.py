"""Thermal-aware scheduling (--thermal) against the default, on a box with one hot node,
side by side in one run (issue 40, item 3).

    sudo python benchmarks/thermal.py [--rounds 3] [--tasks 300]

The box: three simulated nodes (n0 main with 3 ranks, n1 and n2 with 2 each: 5
workers), gigabit links. n2 is the hot Pi: its processes are held to 0.1 of a core by
a CPU cgroup quota (a Pi 4 throttled to 600 MHz runs a third as fast; this is
harsher) and its firmware tool (a fake ``vcgencmd`` on PATH, answering on n2 only)
says 83 °C, 600 MHz and the throttle bits, as a hot Pi's does. The monitor samples
every 2 s, as by default.

The job: TASKS tasks of 40 ms of CPU and 120 ms of waiting each (five workers then
need about one of this machine's two cores, as on a real box where each node has its
own). Each round runs the job once without and once with ``--thermal``, in turn;
printed: the median over rounds of the whole command's wall time and the run's
compute (first task to last result), each side's tasks on n2, and --thermal's over
the default's. What cannot be simulated: a real Pi cools when given less work; a
quota does not, so only the tail's part of the gain shows here.
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
from parc_mpi.simcluster import SimCluster, available, hot_firmware  # noqa: E402
from parc_mpi.store import RunReader  # noqa: E402

JOB = """import time, parc_mpi
def f(x):
    t = time.process_time()
    while time.process_time() - t < 0.04:
        pass
    time.sleep(0.12)
    return x
job = parc_mpi.map(f, range({tasks}))
"""

def env(bin_dir):
    e = dict(os.environ)
    e["PYTHONPATH"] = str(ROOT) + os.pathsep + e.get("PYTHONPATH", "")
    e["PATH"] = f"{bin_dir}{os.pathsep}{e['PATH']}"
    return e


def one(cluster, work, hostfile, job, name, thermal, e):
    run_dir = work / name
    cmd = [find_mpiexec(), "-f", str(hostfile), "-n", "7", sys.executable, "-m",
           "parc_mpi.run", str(job), "--run-dir", str(run_dir), "-q", "--netbench", "off"] + (["--thermal"] if thermal else [])
    t = time.monotonic()
    done = subprocess.run(cluster.command(cmd), cwd=str(work), env=e, capture_output=True,
                          text=True, timeout=600)
    wall = time.monotonic() - t
    if done.returncode != 0:
        raise SystemExit(f"{name} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    with RunReader(str(run_dir)) as r:
        meta = r.meta()
        on_n2 = r.attempts_by_node().get("n2", 0)
    return wall, meta["summary"]["seconds"], on_n2, (meta["summary"].get("thermal") or {})


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--tasks", type=int, default=300)
    args = ap.parse_args()
    why = available()
    if why:
        raise SystemExit(f"the simulated box cannot be built here: {why}")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "node_list.csv").write_text("name,address,role,cores\nn0,n0,main,3\n"
                                            "n1,n1,worker,2\nn2,n2,worker,2\n")
        hostfile = work / "hostfile"
        hostfile.write_text("n0:3\nn1:2\nn2:2\n")
        job = work / "job.py"
        job.write_text(JOB.format(tasks=args.tasks))
        bin_dir = hot_firmware(str(work / "bin"), "n2")
        e = env(bin_dir)
        res = {False: [], True: []}
        with SimCluster(read_node_list(str(work / "node_list.csv")), "gigabit",
                        cpu={"n2": 0.1}) as cluster:
            for i in range(args.rounds):
                for thermal in (False, True):
                    res[thermal].append(one(cluster, work, hostfile, job,
                                            f"r{i}-{'thermal' if thermal else 'default'}",
                                            thermal, e))
                    w, c, n2, th = res[thermal][-1]
                    print(f"# round {i + 1} {'--thermal' if thermal else 'default  '}: "
                          f"{w:.2f} s whole, {c:.2f} s compute, {n2} tasks on n2"
                          + (f", hot {th.get('hot_seconds')}" if thermal else ""), flush=True)
    print(f"# {args.tasks} tasks of 40 ms CPU + 120 ms waiting on 5 workers; n2 (2 workers) "
          f"held to 0.1 core and reporting 83 °C and throttled; median of {args.rounds}")
    print(f"{'':>10} {'whole s':>9} {'compute s':>10} {'tasks on n2':>12}")
    med = {}
    for thermal in (False, True):
        rows = res[thermal]
        med[thermal] = [statistics.median(r[k] for r in rows) for k in range(3)]
        print(f"{'--thermal' if thermal else 'default':>10} {med[thermal][0]:>9.2f} "
              f"{med[thermal][1]:>10.2f} {med[thermal][2]:>12.0f}")
    print(f"{'ratio':>10} {med[True][0] / med[False][0]:>9.3f} "
          f"{med[True][1] / med[False][1]:>10.3f}   (--thermal over the default; < 1 helps)")


if __name__ == "__main__":
    main()
