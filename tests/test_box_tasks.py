"""Task processes on the six-node box (PaRC: pi0 main, pi1..pi5 workers, 4 cores each,
gigabit links), one box shared by every test here; pi3 has a memory limit of its own
(700 MB, a memory cgroup), as a Pi's memory is its own."""
import os
import sys

import pytest

from conftest import most_at_once, python_cmd, run_cmd
from parc_mpi.mpienv import find_mpiexec
from parc_mpi.nodes import read_node_list
from parc_mpi.simcluster import SimCluster, available
from parc_mpi.tasks.memory import _own_memory_cgroup

WHY = available() or (None if _own_memory_cgroup() else "no memory cgroup controller")
pytestmark = [pytest.mark.e2e, pytest.mark.skipif(WHY is not None, reason=f"{WHY}")]

PI3_MEMORY = 700 * 2**20


@pytest.fixture(scope="module")
def box(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("box")
    nodes_csv = tmp / "node_list.csv"
    nodes_csv.write_text("name,address,role,cores,user\n" + "".join(
        f"pi{i},pi{i}.local,{'main' if i == 0 else 'worker'},4,pi\n" for i in range(6)))
    hostfile = tmp / "hostfile"
    assert run_cmd(python_cmd("-m", "parc_mpi.hostfile", nodes_csv, "-o", hostfile,
                              "--format", "mpich")).returncode == 0
    with SimCluster(read_node_list(str(nodes_csv)), "gigabit",
                    memory={"pi3": PI3_MEMORY}) as cluster:
        cluster.hostfile = hostfile
        yield cluster


def on_box(box, job, run_dir, *args, timeout=300):
    cmd = box.command([find_mpiexec(), "-f", str(box.hostfile), "-n", "24", sys.executable,
                       "-m", "parc_mpi.run", str(job), "--run-dir", str(run_dir), "-q",
                       "--netbench", "off", *map(str, args)])
    return run_cmd(cmd, timeout=timeout)


def rows(run_dir):
    from parc_mpi.store import RunReader
    with RunReader(str(run_dir)) as reader:
        return reader.results()


CRASH_AND_STUCK = """
import ctypes, os, signal, time
import parc_mpi

def f(x):
    time.sleep(0.01)
    if x == 17:
        os.kill(os.getpid(), signal.SIGKILL)
    if x == 33:
        ctypes.string_at(0)
    if x == 51:
        os._exit(3)
    if x == 70:
        import numpy as np   # about 30 s inside LAPACK, where Python cannot interrupt
        np.linalg.eigvals(np.random.default_rng(0).random((5000, 5000)))
    return x * x

job = parc_mpi.map(f, range(400), timeout=2)
"""


def test_crashes_poison_and_a_hard_timeout_on_the_six_node_box(box, tmp_path):
    job = tmp_path / "job.py"
    job.write_text(CRASH_AND_STUCK)
    run_dir = tmp_path / "run"
    done = on_box(box, job, run_dir)
    assert done.returncode == 1, done
    assert "finished: 396 ok, 4 failed of 400 tasks" in done.stdout, done
    assert "first (task 17): its process was killed by SIGKILL on pi" in done.stderr, done
    got = rows(run_dir)
    assert sorted(r.task for r in got if r.ok) == [
        t for t in range(400) if t not in (17, 33, 51, 70)]
    for t in (17, 33, 51):
        assert [r.status for r in got if r.task == t] == ["killed"] * 3
    stuck = [r for r in got if r.task == 70]
    assert [r.status for r in stuck] == ["timeout"]
    assert stuck[0].t_end - stuck[0].t_start < 2 + 5
    assert done.seconds < 60, done   # not the 30 s of eigvals, nor a hang
    assert len({r.node for r in got}) == 6


GROW_ON_PI3 = """
import os, socket, time
import numpy as np
import parc_mpi

MARK = os.environ["GROW_MARK"]

def f(x):
    time.sleep(0.02)
    if socket.gethostname() == "pi3" and x >= 20 and not os.path.exists(MARK):
        open(MARK, "w").close()     # once: the first task past 20 that pi3 runs
        chunks = []
        for _ in range(100):        # 20 MB more every 20 ms, far past pi3's 700 MB
            chunks.append(np.ones(20 * 2**20 // 8))
            time.sleep(0.02)
    return x

job = parc_mpi.map(f, range(200))
"""


def test_a_real_out_of_memory_on_a_node_costs_one_attempt(box, tmp_path):
    """pi3 has 700 MB of its own; one task there grows past it. The node's memory guard
    ends that task process before the kernel's OOM killer acts, the task runs again
    elsewhere, and the run finishes with every result."""
    job = tmp_path / "job.py"
    job.write_text(GROW_ON_PI3)
    run_dir = tmp_path / "run"
    mark = tmp_path / "grown"
    before = box.oom_kills("pi3")
    os.environ["GROW_MARK"] = str(mark)
    try:
        done = on_box(box, job, run_dir)
    finally:
        del os.environ["GROW_MARK"]
    assert done.returncode == 0, done
    assert "finished: 200 ok, 0 failed of 200 tasks" in done.stdout, done
    assert mark.exists()
    assert "its process was ended by the node's memory guard: pi3 had" in done.stderr, done
    assert "of 700 MB, and it used the most; it runs again" in done.stderr, done
    assert box.oom_kills("pi3") == before, "the kernel's OOM killer acted first"
    got = rows(run_dir)
    killed = [r for r in got if r.status == "killed"]
    assert len(killed) == 1 and killed[0].node == "pi3", killed
    assert sorted(r.task for r in got if r.ok) == list(range(200))


SHIPPED_PROGRAM = """
import parc_mpi

BUILD = ("cc -O2 -fopenmp -o forces.x forces.c -lm || "
         "{ printf '#!/bin/sh\\\\nexec awk -v n=\\"$1\\" -v steps=\\"$2\\" -v seed=\\"$3\\" "
         "-f forces.awk\\\\n' > forces.x && chmod +x forces.x; }")

forces = parc_mpi.program(
    ["sh", "-c", "date +%s.%N; ./forces.x 300 3 {seed}; ./probe.sh; sleep 0.2; date +%s.%N"],
    inputs=["forces.c", "forces.awk", "probe.sh", "table.dat"], build=BUILD,
    outputs=["forces.stat"])

job = parc_mpi.map(forces, [{"seed": s} for s in range(1, 31)], cores=4)
"""


def test_shipped_programs_with_four_cores_per_task_on_the_six_node_box(box, tmp_path):
    """A job folder shipped with --ship: forces.c, its awk stand-in, an executable
    script and a data file reach every node (the script still executable), forces.c is
    built once per node, and with cores=4 each 4-core node runs one task at a time with
    4 OpenMP threads: never more task threads than cores (measured from the tasks' own
    start and end times)."""
    import shutil
    project = tmp_path / "project"
    project.mkdir()
    for name in ("forces.c", "forces.awk"):
        shutil.copy(os.path.join(os.path.dirname(__file__), "..", "jobs", name), project)
    (project / "probe.sh").write_text("#!/bin/sh\necho table $(cat table.dat)\n")
    (project / "probe.sh").chmod(0o755)
    (project / "table.dat").write_text("7 8 9\n")
    job = project / "job.py"
    job.write_text(SHIPPED_PROGRAM)
    run_dir = tmp_path / "run"
    done = on_box(box, job, run_dir, "--ship", project)
    assert done.returncode == 0, done
    got = rows(run_dir)
    assert sorted(r.task for r in got if r.ok) == list(range(30)), done
    spans, threads = {}, set()
    for r in got:
        start, _t, n, _e, energy, table, *data, end = r.result["stdout"].split()
        assert (table, data) == ("table", ["7", "8", "9"])
        threads.add(int(n))
        spans.setdefault(r.node, []).append((float(start), float(end)))
        assert (run_dir / "outputs" / f"task-{r.task}" / "forces.stat").exists()
    assert threads == {4}                       # OMP_NUM_THREADS from cores=4
    assert sorted(spans) == [f"pi{i}" for i in range(6)]   # every node worked
    most = {node: most_at_once(s) for node, s in spans.items()}
    assert set(most.values()) == {1}, most      # 1 task x 4 threads on each 4-core node
    for i in range(6):   # each node unpacked the ship with the script's mode bits
        cache = os.path.join(box.home(f"pi{i}"), ".cache", "parc_mpi")
        found = [os.path.join(root, "probe.sh") for root, _d, files in os.walk(cache)
                 if "probe.sh" in files and "project" in root]
        assert found and all(os.access(p, os.X_OK) for p in found), (i, found)

