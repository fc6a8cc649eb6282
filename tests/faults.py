"""Helpers for tests and benchmarks that really kill things: find the process of an
MPI rank, kill it at a chosen moment, and read a run store without writing to it."""
import os
import signal
import subprocess
import time
from typing import Dict, List, Optional, Tuple

from conftest import ROOT, cli_env
from parc_mpi.store import RunReader, StoreError
from parc_mpi.tasks.child import NAME as TASK_PROCESS_NAME


def rank_pids(marker: str) -> Dict[int, int]:
    """{rank: pid} of the Python processes whose command line holds ``marker``
    (a run directory is unique enough), from the launcher's rank variable."""
    out = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as fh:
                cmd = fh.read().split(b"\0")
            if b"python" not in os.path.basename(cmd[0]) or \
                    marker.encode() not in b" ".join(cmd):
                continue
            with open(f"/proc/{pid}/comm", "rb") as fh:
                if fh.read().strip() == TASK_PROCESS_NAME.encode():
                    continue   # a task process forked from its rank: same command line
            with open(f"/proc/{pid}/environ", "rb") as fh:
                env = dict(x.split(b"=", 1) for x in fh.read().split(b"\0") if b"=" in x)
        except (OSError, IndexError):
            continue
        rank = env.get(b"PMI_RANK") or env.get(b"OMPI_COMM_WORLD_RANK")
        if rank is not None:
            out[int(rank)] = int(pid)
    return out


def committed(run_dir) -> int:
    """Result rows committed in a run store (0 while it does not exist yet)."""
    try:
        with RunReader(str(run_dir)) as reader:
            return reader.attempts()
    except StoreError:
        return 0


def start(cmd: List, env=None) -> subprocess.Popen:
    return subprocess.Popen([str(c) for c in cmd], cwd=ROOT, env=env or cli_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            stdin=subprocess.DEVNULL)


def wait_committed(run_dir, results: int, proc=None, timeout: float = 60) -> int:
    """Wait until ``results`` rows are committed (or the run ends, or time runs out)."""
    deadline = time.monotonic() + timeout
    n = committed(run_dir)
    while n < results and time.monotonic() < deadline and (proc is None or proc.poll() is None):
        time.sleep(0.02)
        n = committed(run_dir)
    return n


def kill_rank_when(proc: subprocess.Popen, run_dir, rank: int, results: int,
                   timeout: float = 60) -> Optional[int]:
    """kill -9 ``rank`` of the run in ``run_dir`` once ``results`` rows are committed.
    Returns the rows committed at the kill, or None if the run ended first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        n = committed(run_dir)
        if n >= results:
            pid = rank_pids(str(run_dir)).get(rank)
            if pid is not None:
                os.kill(pid, signal.SIGKILL)
                return n
        time.sleep(0.02)
    return None


def ok_points(run_dir) -> List[Tuple]:
    """(task, params, result) of every successful evaluation, in task order."""
    with RunReader(str(run_dir)) as reader:
        rows = reader.results(status="ok")
    return sorted(((r.task, r.params, r.result) for r in rows), key=lambda x: x[0])
