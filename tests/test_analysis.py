"""What limited a run (analysis.py): each limit provoked in a real run, and the verdict
names it, with a "what if" within 25% of the same work measured without the limit;
a clean run's verdict says nothing stands out. The verdict is printed after the
summary line, stored in the run's meta, in load(), the report and the dashboard."""
import pytest

from conftest import mpi_cmd, run_cmd
from parc_mpi import load
from parc_mpi.analysis import analyse

pytestmark = pytest.mark.e2e

SLEEPS = """
import os, time, parc_mpi
def f(i):
    time.sleep(SLEEP)
    return i
job = parc_mpi.map(f, range(N))
"""


def run_job(tmp_path, write_job, name, source, ranks=4, ok=True):
    job = write_job(source, f"{name}.py")
    run_dir = tmp_path / name
    done = run_cmd(mpi_cmd(ranks, "-m", "parc_mpi.run", job, "--run-dir", run_dir,
                           "--no-monitor", "--allow-failures"))
    assert done.returncode == 0, done
    run = load(str(run_dir))
    return done, run, analyse(str(run_dir))


def compute(run):
    return run.meta["verdict"]["figures"]["wall"]["compute"]


def test_a_long_last_task_is_named_as_the_tail(tmp_path, write_job):
    last = SLEEPS.replace("SLEEP", "1.5 if i == 11 else 0.1").replace("N", "12")
    done, run, _ = run_job(tmp_path, write_job, "tail", last)
    assert run.meta["verdict"]["limit"] == "tail"
    assert "the tail: task 11 ran" in run.verdict and "after every other task was done" in run.verdict
    lines = done.stdout.splitlines()
    said = [i for i, ln in enumerate(lines) if ln.startswith("[parc_mpi] what limited it: the tail")]
    assert said and lines[said[0] - 1].startswith("[parc_mpi] finished:")
    # started first (cost= says it is the costliest), the long task ends with the
    # others: the "what if", and acting on the verdict
    first = SLEEPS.replace("SLEEP", "1.5 if i == 11 else 0.1").replace(
        "range(N))", "list(range(12)), cost=lambda i: 15 if i == 11 else 1)")
    _, run_first, _ = run_job(tmp_path, write_job, "first", first)
    # handed out first, it starts in the first round: among the first start on each
    # worker (which worker's first start comes first is a race)
    workers = run_first.meta["workers"]
    starts = sorted(run_first.tasks, key=lambda t: t.t_start)
    assert 11 in [t.task for t in starts[:workers]], (workers, [t.task for t in starts[:4]])
    what_if = run.meta["verdict"]["what_if"]
    assert abs(what_if - compute(run_first)) <= 0.25 * compute(run_first), \
        (what_if, compute(run_first))
    assert compute(run_first) < compute(run) - 0.25   # acting on the verdict helped


def test_a_slow_worker_is_named_and_its_what_if_matches_a_run_without_it(tmp_path, write_job):
    slow = SLEEPS.replace("SLEEP", "0.3 if os.environ['PARC_MPI_WORKER'] == '2' else 0.1") \
        .replace("N", "60")
    _, run, a = run_job(tmp_path, write_job, "slow", slow)
    assert run.meta["verdict"]["limit"] == "slow worker", run.verdict
    assert "worker 2's tasks took 3.0x as long as worker 1's" in run.verdict
    assert a["by_worker"]["2"]["ratio"] == pytest.approx(3.0, rel=0.1)
    _, even, _ = run_job(tmp_path, write_job, "even", SLEEPS.replace("SLEEP", "0.1")
                         .replace("N", "60"))
    assert even.verdict.startswith("nothing stands out: the 2 worker(s) were busy")
    what_if = run.meta["verdict"]["what_if"]
    assert abs(what_if - compute(even)) <= 0.25 * compute(even), (what_if, compute(even))


def test_tiny_tasks_are_named_as_the_scheduler(tmp_path, write_job):
    tiny = "import parc_mpi\ndef f(i):\n    return i\njob = parc_mpi.map(f, range(200000))\n"
    _, run, a = run_job(tmp_path, write_job, "tiny", tiny)
    assert run.meta["verdict"]["limit"] == "scheduler", run.verdict
    assert run.verdict.startswith("the scheduler: tasks of ")
    assert run.meta["verdict"]["what_if"] is None      # not one it can estimate honestly
    assert a["share"]["idle"] > 0.5


def test_failed_attempts_are_named(tmp_path, write_job):
    failing = SLEEPS.replace("    return i", "    if i % 3 == 0:\n        raise ValueError(i)\n"
                             "    return i").replace("SLEEP", "0.1").replace("N", "45")
    failing = failing.replace("range(45))", "range(45), retries=1)")
    _, run, a = run_job(tmp_path, write_job, "failing", failing)
    assert run.meta["verdict"]["limit"] == "failures"
    assert run.verdict.startswith("failures: 30 attempt(s) failed")
    assert a["attempts_failed"] == 30


def test_an_optimizer_slower_than_its_evaluations_is_named(tmp_path, write_job):
    quick = """
import time, parc_mpi
from parc_mpi import Real
def f(x, y, z):
    time.sleep(0.002)
    return (x - 0.3) ** 2 + (y + 0.1) ** 2 + z * z
job = parc_mpi.optimize(f, {"x": Real(-1, 1), "y": Real(-1, 1), "z": Real(-1, 1)},
                        budget=80, goal="min", seed=0)
"""
    _, run, a = run_job(tmp_path, write_job, "quick", quick)
    assert run.meta["verdict"]["limit"] == "optimizer", run.verdict
    assert run.verdict.startswith("the optimizer: its asks and tells took")
    assert a["optimizer"]["ms_per_task"] > 5 * a["optimizer"]["task_ms"]


def test_workers_waiting_on_a_slow_link_are_the_networks_not_the_schedulers():
    """The figures of a run where n2's 1 MB results crossed a 6 MB/s link: its workers'
    time on the wire shows as idle share, which is the network's; what is left of the
    idle time after the wire (19%) is not the scheduler's to name."""
    from parc_mpi.analysis import verdict
    node = {"workers": 2, "tasks": 40, "median": 0.051, "ratio": 1.0}
    a = {"kind": "map", "tasks": 120, "workers": 6, "longest": 0.06,
         "wall": {"compute": 1.85}, "share": {"busy": 0.67, "lost": 0.0, "idle": 0.33},
         "tail": {"idle_share": 0.0},
         "scheduler": {"busy": 0.75, "ms_per_task": 12.0, "task_ms": 51.0},
         "nodes": {"n0": dict(node, bytes_in=9.5e6, download_mbps=113.0),
                   "n1": dict(node, bytes_in=9.5e6, download_mbps=110.0),
                   "n2": dict(node, bytes_in=9.51e6, download_mbps=6.0)},
         "by_worker": {}}
    v = verdict(a)
    assert v["limit"] == "network" and v["also"] is None, v
    # the same idle share with no link measured: it is the scheduler's
    for g in a["nodes"].values():
        del g["download_mbps"]
    assert verdict(a)["limit"] == "scheduler"
