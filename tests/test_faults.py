"""Tests that really break things: a worker that goes silent (frozen, as a node behind
a cut cable looks to MPI), a worker that exits mid-run, a worker killed with -9, and
kill -9 of rank 0 in the middle of a burst of commits (a power loss, as far as the
store can tell)."""
import os
import re
import signal
import sys
import time

import pytest

from conftest import run_cmd
from faults import committed, kill_rank_when, rank_pids, start, wait_committed
from parc_mpi.mpienv import detect_flavour, find_mpiexec, mpiexec_command
from parc_mpi.store import RunReader, Store

pytestmark = pytest.mark.e2e

MPICH = detect_flavour() == "mpich"
needs_mpich = pytest.mark.skipif(not MPICH, reason="mpiexec -disable-auto-cleanup is MPICH's "
                                 "(Open MPI ends the job when a rank dies)")

SLOW_MAP = """
import os, time, parc_mpi
from mpi4py import MPI
calls = 0
def f(x):
    global calls
    calls += 1
    time.sleep(0.1)
    if calls == DIE_AT and MPI.COMM_WORLD.rank == 2:
        os._exit(1)   # a worker process that crashes out on its DIE_AT-th task
    return x * 3
job = parc_mpi.map(f, range(80))
"""


def tolerant(n, *args):
    """mpiexec that lets the other ranks live on when one dies."""
    return [find_mpiexec(), "-disable-auto-cleanup", "-n", str(n), sys.executable,
            *map(str, args)]


def store_rows(run_dir):
    with RunReader(str(run_dir)) as reader:
        return [(r.task, r.status, r.result) for r in reader.results()]


def meta_of(run_dir):
    with RunReader(str(run_dir)) as reader:
        return reader.meta()


def exactly_once(run_dir, n):
    rows = store_rows(run_dir)
    ok = sorted(t for t, status, _r in rows if status == "ok")
    assert ok == list(range(n)), f"{len(ok)} ok rows for {n} tasks"
    assert all(r == t * 3 for t, s, r in rows if s == "ok")


def gone_within(pid, seconds):
    """The process ended (a zombie waiting for its reaper counts as ended)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/stat") as fh:
                if fh.read().rsplit(")", 1)[1].split()[0] in ("Z", "X"):
                    return True
        except FileNotFoundError:
            return True
        time.sleep(0.1)
    return False


@needs_mpich
def test_a_silent_worker_is_lost_its_tasks_rerun_and_it_exits_alone(tmp_path, write_job):
    job = write_job(SLOW_MAP.replace("DIE_AT", "-1"))
    run_dir = tmp_path / "run"
    proc = start(tolerant(4, "-m", "parc_mpi.run", job, "--run-dir", run_dir, "--no-monitor",
                          "--heartbeat-timeout", "2", "--progress", "1"))
    assert wait_committed(run_dir, 10, proc) >= 10
    pid = rank_pids(str(run_dir))[2]
    os.kill(pid, signal.SIGSTOP)  # frozen: no results, no heartbeats
    frozen_at = time.time()
    try:
        deadline = time.monotonic() + 60
        while not (run_dir / "results.csv").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        os.kill(pid, signal.SIGCONT)  # it wakes up to a silent rank 0 and must leave
    out, err = proc.communicate(timeout=60)
    assert "finished: 80 ok, 0 failed of 80 tasks" in out, (out, err)
    assert re.search(r"warning: worker rank 2 on \S+ lost \(silent for over 2 s\)", out), out
    assert re.search(r"lost worker rank 2 on \S+: \d+ task\(s\) it held ran elsewhere", out)
    # the woken worker leaves: by itself (rank 0 silent) or at the latest when rank 0,
    # everything saved, ends the job with MPI_Abort; either way the job ends with 0
    assert proc.returncode == 0, (out, err)
    assert ("rank 2 on" in err and "rank 0 silent" in err) or "ending the job with MPI_Abort" in err, err
    assert gone_within(pid, 10), f"the frozen worker (pid {pid}) is still running"
    exactly_once(run_dir, 80)
    lost = meta_of(run_dir)["summary"]["lost_workers"]
    assert list(lost) == ["2"]
    delay = lost["2"]["at"] - frozen_at
    assert delay <= 2 + 5, f"loss detected {delay:.1f} s after the freeze"
    report = (run_dir / "report.html").read_text()
    assert "worker rank 2 on" in report and "was lost at" in report


@needs_mpich
def test_a_worker_that_exits_mid_run_is_replaced(tmp_path, write_job):
    job = write_job(SLOW_MAP.replace("DIE_AT", "5"))
    run_dir = tmp_path / "run"
    # --in-process: the task's os._exit ends the worker rank itself (with task processes,
    # the default, it ends one task process: tests/test_tasks.py)
    done = run_cmd(tolerant(4, "-m", "parc_mpi.run", job, "--run-dir", run_dir, "-q",
                            "--no-monitor", "--heartbeat-timeout", "2", "--in-process"),
                   timeout=90)
    assert "finished: 80 ok, 0 failed of 80 tasks" in done.stdout, done
    assert done.seconds < 40, done
    exactly_once(run_dir, 80)
    assert list(meta_of(run_dir)["summary"]["lost_workers"]) == ["2"]


def test_kill9_of_a_worker_then_resume_completes_exactly(tmp_path, write_job):
    """MPICH's and Open MPI's launchers end the whole job when a rank dies by a signal
    (measured here: even with -disable-auto-cleanup); nothing counted is lost, and
    --resume finishes the run with every task exactly once."""
    job = write_job(SLOW_MAP.replace("DIE_AT", "-1"))
    run_dir = tmp_path / "run"
    proc = start(mpiexec_command(4) + [sys.executable, "-m", "parc_mpi.run", str(job),
                                       "--run-dir", str(run_dir), "-q", "--no-monitor"])
    assert kill_rank_when(proc, run_dir, 2, 15) is not None
    t0 = time.monotonic()
    proc.communicate(timeout=60)
    assert time.monotonic() - t0 < 10 and proc.returncode != 0
    before = committed(run_dir)
    done = run_cmd(mpiexec_command(4) + [sys.executable, "-m", "parc_mpi.run", str(job),
                                         "--resume", str(run_dir), "--no-monitor"])
    assert done.returncode == 0, done
    assert "finished: 80 ok, 0 failed of 80 tasks" in done.stdout, done
    assert f"resuming {run_dir}: {before} tasks done" in done.stdout
    exactly_once(run_dir, 80)


BURST = """
import parc_mpi
def f(x):
    return x * 3
job = parc_mpi.map(f, range(3_000_000))
"""


@pytest.mark.parametrize("sync", ["normal", "full"])
def test_power_loss_during_a_burst_keeps_every_counted_result(tmp_path, write_job, sync):
    job = write_job(BURST)
    run_dir = tmp_path / "run"
    proc = start(mpiexec_command(3) + [sys.executable, "-m", "parc_mpi.run", str(job),
                                       "--run-dir", str(run_dir), "--no-monitor",
                                       "--progress", "0.05", "--sync", sync])
    assert kill_rank_when(proc, run_dir, 0, 400_000) is not None
    out, _err = proc.communicate(timeout=60)
    counted = [int(m) for m in re.findall(r"\] (\d+)/3000000", out)]
    assert counted, out[-2000:]
    Store(str(run_dir)).close()  # a writer's open replays the WAL the kill left
    with RunReader(str(run_dir)) as reader:
        reader.check_intact()
        cols = reader.columns(["task", "value"])
    tasks = cols["task"]
    assert len(tasks) == len(set(tasks)) >= max(counted), (len(tasks), max(counted))
    bad = sum(1 for t, v in zip(tasks, cols["value"]) if v != t * 3)
    assert bad == 0
