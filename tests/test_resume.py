"""--resume: a stopped or killed run continues where its store left off, proposes the
points the uninterrupted run would have, repeats no finished evaluation, and refuses
what it cannot continue (an ended run exits 0; a changed job, a damaged store or a
run still going are one-line errors)."""
import json
from collections import Counter
import os
import random

import pytest

from conftest import mpi_cmd, python_cmd, run_cmd
from faults import committed, kill_rank_when, ok_points, start, wait_committed
from parc_mpi.store import RunReader

pytestmark = pytest.mark.e2e

OPTIMIZE = """
import math, time, parc_mpi
from parc_mpi import Real, Integer
def f(x, y, k):
    time.sleep(0.03)
    return (x - 1) ** 2 + (y + 2) ** 2 + math.sin(5 * x) + 0.1 * k
job = parc_mpi.optimize(f, {"x": Real(-5, 5), "y": Real(-5, 5), "k": Integer(0, 3)},
                        budget=BUDGET, goal="min", optimizer="OPT", seed=7)
"""

MAP = """
import time, parc_mpi
def f(x):
    time.sleep(0.01)
    if x % 13 == 5:
        raise ValueError(f"bad {x}")
    return x * x
job = parc_mpi.map(f, range(300))
"""

GENERATE = """
import time, parc_mpi
def f(n):
    time.sleep(0.02)
    return n * 2
def more(n, result):
    return [result + 1, result + 3] if result < 200 else []
job = parc_mpi.generate(f, [1], on_result=more, max_tasks=60)
"""


def optimize_job(write_job, optimizer="gp", budget=40, name="job.py"):
    return write_job(OPTIMIZE.replace("BUDGET", str(budget)).replace("OPT", optimizer), name)


def one_worker(run_args):
    """One worker, one task at a time: the ask/tell order is fixed, so two runs with
    the same seed must evaluate the same points."""
    return mpi_cmd(2, "-m", "parc_mpi.run", *run_args, "-q", "--no-monitor", "--prefetch", "1")


def meta_of(run_dir):
    with RunReader(str(run_dir)) as reader:
        return reader.meta()


def no_repeats(run_dir):
    with RunReader(str(run_dir)) as reader:
        ok = Counter(r.task for r in reader.results(status="ok"))
    twice = [(t, n) for t, n in ok.items() if n > 1]
    assert twice == [], f"evaluations repeated: {twice}"


@pytest.mark.parametrize("optimizer", ["gp"])  # cmaes: benchmarks/resume_stress.py --optimizer
def test_kill_rank0_then_resume_matches_the_uninterrupted_run(tmp_path, write_job, optimizer):
    job = optimize_job(write_job, optimizer)
    whole = tmp_path / "whole"
    done = run_cmd(one_worker([job, "--run-dir", whole]))
    assert done.returncode == 0, done
    reference = ok_points(whole)
    assert len(reference) == 40
    for i, at in enumerate(random.Random(optimizer).sample(range(3, 36), 2)):
        run_dir = tmp_path / f"killed{i}"
        proc = start(one_worker([job, "--run-dir", run_dir]))
        killed_at = kill_rank_when(proc, run_dir, 0, at)
        proc.communicate(timeout=60)
        assert killed_at is not None, "the run ended before the kill"
        assert proc.returncode != 0
        resumed = run_cmd(one_worker([job, "--resume", run_dir]))
        assert resumed.returncode == 0, resumed
        assert f"resuming {run_dir}: " in resumed.stdout
        assert ok_points(run_dir) == reference, f"diverged after a kill at {killed_at} results"
        no_repeats(run_dir)
        best = json.loads((run_dir / "best.json").read_text())
        assert best["evaluations"] == 40
        meta = meta_of(run_dir)
        assert meta["status"] == "finished"
        assert len(meta["resumed"]) == 1


def test_map_resume_skips_what_is_done_and_reruns_the_rest(tmp_path, write_job):
    job = write_job(MAP)
    run_dir = tmp_path / "run"
    proc = start(python_cmd("-m", "parc_mpi.run", job, "--run-dir", run_dir, "-q",
                            "--retries", "1"))
    wait_committed(run_dir, 100, proc)
    proc.kill()  # kill -9 of a serial run
    proc.communicate()
    before = committed(run_dir)
    assert 0 < before < 300 + 24
    done = run_cmd(mpi_cmd(3, "-m", "parc_mpi.run", job, "--resume", run_dir, "--retries", "1",
                           "--no-monitor"))
    assert done.returncode == 1, done  # 23 tasks failed for good
    assert "finished: 277 ok, 23 failed of 300 tasks" in done.stdout, done
    no_repeats(run_dir)
    with RunReader(str(run_dir)) as reader:
        rows = reader.results()
    assert sorted({r.task for r in rows}) == list(range(300))
    # a failed task is tried twice in all (--retries 1), across the two sessions
    attempts = Counter(r.task for r in rows if r.task % 13 == 5)
    assert set(attempts.values()) == {2}, attempts
    csv_lines = (run_dir / "results.csv").read_text().splitlines()
    assert len(csv_lines) == 301


def test_generate_resume_after_a_stop(tmp_path, write_job):
    job = write_job(GENERATE)
    whole = tmp_path / "whole"
    assert run_cmd(python_cmd("-m", "parc_mpi.run", job, "--run-dir", whole, "-q")).returncode == 0
    run_dir = tmp_path / "run"
    proc = start(python_cmd("-m", "parc_mpi.run", job, "--run-dir", run_dir, "-q"))
    wait_committed(run_dir, 20, proc)
    (run_dir / "STOP").write_text("")
    out, err = proc.communicate(timeout=30)
    assert "stopped by STOP file: " in out, err
    os.remove(run_dir / "STOP")
    done = run_cmd(python_cmd("-m", "parc_mpi.run", job, "--resume", run_dir))
    assert done.returncode == 0, done
    assert ok_points(run_dir) == ok_points(whole)


def test_resume_of_a_finished_run_says_so(tmp_path, write_job):
    job = optimize_job(write_job, "random", budget=5)
    run_dir = tmp_path / "run"
    assert run_cmd(python_cmd("-m", "parc_mpi.run", job, "--run-dir", run_dir, "-q")).returncode == 0
    for cmd in (python_cmd("-m", "parc_mpi.run", job, "--resume", run_dir),
                mpi_cmd(4, "-m", "parc_mpi.run", job, "--resume", run_dir)):
        done = run_cmd(cmd, timeout=60)
        assert done.returncode == 0, done
        assert f"{run_dir}: the run already finished (5 tasks); nothing to resume" in done.stdout
        assert done.seconds < 10
    assert committed(run_dir) == 5
    # another job file is refused as it is for a run still going, not told "finished"
    other = optimize_job(write_job, "random", budget=5)
    other.write_text(other.read_text() + "\n# edited after the run\n")
    refused([other, "--resume", run_dir], "the job file changed since the run started")
    assert committed(run_dir) == 5


def stopped_run(tmp_path, write_job):
    """An optimize run stopped after a few results (its STOP file removed)."""
    job = optimize_job(write_job, "random", budget=200)
    run_dir = tmp_path / "run"
    proc = start(python_cmd("-m", "parc_mpi.run", job, "--run-dir", run_dir, "-q"))
    wait_committed(run_dir, 5, proc)
    (run_dir / "STOP").write_text("")
    proc.communicate(timeout=30)
    os.remove(run_dir / "STOP")
    return job, run_dir


def refused(cmd_args, message):
    """Run under mpiexec with 4 ranks: one error line naming the culprit, exit 2, fast."""
    done = run_cmd(mpi_cmd(4, "-m", "parc_mpi.run", *cmd_args), timeout=60)
    assert done.returncode == 2, done
    assert done.seconds < 10, done
    errors = [l for l in done.stderr.splitlines() if l.startswith("error:")]
    assert len(errors) == 1 and message in errors[0], done
    assert "Traceback" not in done.stderr, done
    return done


def test_resume_refuses_a_changed_space_or_job_file(tmp_path, write_job):
    job, run_dir = stopped_run(tmp_path, write_job)
    before = committed(run_dir)
    other = write_job(OPTIMIZE.replace("BUDGET", "200").replace("OPT", "random")
                      .replace("Real(-5, 5), \"y\"", "Real(-3, 3), \"y\""), "other.py")
    refused([other, "--resume", run_dir], "not the job this run started with: the search "
            "space changed")
    edited = write_job(job.read_text() + "\n# an edit\n", "edited.py")
    refused([edited, "--resume", run_dir], "the job file changed since the run started")
    assert committed(run_dir) == before
    assert meta_of(run_dir)["status"] == "stopped"


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_resume_refuses_a_damaged_store(tmp_path, write_job, damage):
    job, run_dir = stopped_run(tmp_path, write_job)
    store = run_dir / "run.sqlite"
    data = store.read_bytes()
    if damage == "garbage":
        store.write_bytes(b"this is not a database" * 100)
    else:
        store.write_bytes(data[: len(data) // 3])
    for extra in ("-wal", "-shm"):
        if (run_dir / f"run.sqlite{extra}").exists():
            os.remove(run_dir / f"run.sqlite{extra}")
    damaged = store.read_bytes()
    refused([job, "--resume", run_dir], "the run store is damaged")
    assert store.read_bytes() == damaged  # refused before writing a byte


def test_resume_refuses_a_run_that_is_still_going(tmp_path, write_job):
    job = optimize_job(write_job, "random", budget=2000)
    run_dir = tmp_path / "run"
    proc = start(python_cmd("-m", "parc_mpi.run", job, "--run-dir", run_dir, "-q"))
    try:
        wait_committed(run_dir, 2, proc)
        refused([job, "--resume", run_dir], "the run is still going")
    finally:
        proc.kill()
        proc.communicate()


def test_resume_of_a_missing_run_dir(tmp_path, write_job):
    job = optimize_job(write_job, "random", budget=5)
    refused([job, "--resume", tmp_path / "nope"], "no such run directory")


BEYOND = {
    "multi": """
import time, parc_mpi
from parc_mpi import Real
def beam(width, depth):
    time.sleep(0.03)
    return {"weight": width * depth, "deflection": 1.0 / (width * depth ** 3),
            "constraints": [6.0 / (width * depth ** 2) - 30.0]}
job = parc_mpi.optimize(beam, {"width": Real(0.1, 1.0), "depth": Real(0.1, 1.0)}, budget=30,
                        goal={"weight": "min", "deflection": "max"}, seed=4)
""",
    "pruned": """
import time, parc_mpi
from parc_mpi import Real
def train(lr, momentum):
    loss = None
    for epoch in range(1, 11):
        time.sleep(0.004)
        loss = (lr - 0.3) ** 2 + (momentum - 0.8) ** 2 + 1.0 / epoch
        if parc_mpi.report(epoch, loss):
            break
    return loss
job = parc_mpi.optimize(train, {"lr": Real(0, 1), "momentum": Real(0, 1)}, budget=30,
                        goal="min", pruner="asha", optimizer="gp", seed=4)
""",
}
# the learning-curve model pruner with auto, which then searches on that model
BEYOND["pruned-model"] = BEYOND["pruned"].replace('pruner="asha", optimizer="gp"',
                                                  'pruner="model"')


@pytest.mark.parametrize("kind", sorted(BEYOND))
def test_a_killed_multi_objective_constrained_or_pruned_run_resumes_exactly(tmp_path, write_job,
                                                                           kind):
    """Several objectives with a constraint, and a pruned search: kill rank 0 midway,
    --resume, and the run holds the same points, pruned flags and curves as one that
    was never interrupted."""
    job = write_job(BEYOND[kind])
    whole = tmp_path / "whole"
    done = run_cmd(one_worker([job, "--run-dir", whole]))
    assert done.returncode == 0, done
    run_dir = tmp_path / "killed"
    proc = start(one_worker([job, "--run-dir", run_dir]))
    killed_at = kill_rank_when(proc, run_dir, 0, 14)
    proc.communicate(timeout=60)
    assert killed_at is not None and proc.returncode != 0
    resumed = run_cmd(one_worker([job, "--resume", run_dir]))
    assert resumed.returncode == 0, resumed
    assert ok_points(run_dir) == ok_points(whole)
    no_repeats(run_dir)
    with RunReader(str(whole)) as a, RunReader(str(run_dir)) as b:
        assert [e[1:6] for e in a.evaluations()] == [e[1:6] for e in b.evaluations()]
        assert a.curves() == b.curves()
    best_a = json.loads((whole / "best.json").read_text())
    best_b = json.loads((run_dir / "best.json").read_text())
    for key in ("front", "hypervolume", "feasible", "pruned", "params", "value"):
        assert best_a.get(key) == best_b.get(key), key
    if kind == "pruned":
        assert best_b["pruned"] >= 1
