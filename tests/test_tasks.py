"""Task processes (parc_mpi.tasks): a task that segfaults, is killed (as by the OOM
killer), exits, hangs in C or outgrows its memory costs that task, never the run.
Every test runs the real command, serially or under mpiexec."""
import os
import signal
import subprocess
import sys
import time

import psutil
import pytest

from conftest import cli_env, mpi_cmd, python_cmd, run_cmd
from parc_mpi.store import RunReader
from parc_mpi.tasks.memory import _own_memory_cgroup, parse_size

pytestmark = pytest.mark.e2e

CRASHES = """
import ctypes, os, signal, time
import parc_mpi

def f(x):
    time.sleep(0.002)
    if x == 7:
        os.kill(os.getpid(), signal.SIGKILL)   # what the OOM killer does
    if x == 13:
        ctypes.string_at(0)                     # a segfault in C
    if x == 21:
        os._exit(3)                             # C's exit() in a library
    return x * x

job = parc_mpi.map(f, range(N))
"""


def rows(run_dir):
    with RunReader(str(run_dir)) as reader:
        return reader.results()


def check_crashes(run_dir, n, done):
    assert done.returncode == 1, done
    assert f"finished: {n - 3} ok, 3 failed of {n} tasks" in done.stdout, done
    # one line naming the first task, with the signal and its likely cause
    assert "first (task 7): its process was killed by SIGKILL on" in done.stderr, done
    assert "(out of memory?" in done.stderr
    assert "task 13: its process crashed with SIGSEGV" in done.stderr
    assert "task 21: its process exited with status 3" in done.stderr
    got = rows(run_dir)
    ok = sorted(r.task for r in got if r.ok)
    assert ok == [t for t in range(n) if t not in (7, 13, 21)]   # each result once
    assert all(r.result == r.task ** 2 for r in got if r.ok)
    for t in (7, 13, 21):   # run again even with retries=0, three deaths: poison
        attempts = [r for r in got if r.task == t]
        assert [r.status for r in attempts] == ["killed"] * 3, attempts
        assert [r.attempt for r in attempts] == [0, 1, 2]
    return got


def test_crashing_tasks_cost_one_task_each_serially(tmp_path, write_job):
    job = write_job(CRASHES.replace("N", "40"))
    run_dir = tmp_path / "run"
    done = run_cmd(python_cmd("-m", "parc_mpi.run", job, "--run-dir", run_dir, "-q",
                              "--no-monitor"))
    check_crashes(run_dir, 40, done)
    # a resume does not run the poison again: the run has reached its end
    again = run_cmd(python_cmd("-m", "parc_mpi.run", job, "--resume", run_dir, "-q"))
    assert again.returncode == 0 and "nothing to resume" in again.stdout, again
    assert len(rows(run_dir)) == 37 + 9
    # unless asked: each dies three more times, then the run ends again
    retried = run_cmd(python_cmd("-m", "parc_mpi.run", job, "--resume", run_dir,
                                 "--retry-failed", "-q", "--no-monitor"))
    assert retried.returncode == 1, retried
    assert "3 to run again" in retried.stdout, retried
    assert len(rows(run_dir)) == 37 + 18


def test_crashing_tasks_under_mpiexec_run_again_on_another_worker(tmp_path, write_job):
    job = write_job(CRASHES.replace("N", "60"))
    run_dir = tmp_path / "run"
    done = run_cmd(mpi_cmd(4, "-m", "parc_mpi.run", job, "--run-dir", run_dir, "-q",
                           "--no-monitor"))
    got = check_crashes(run_dir, 60, done)
    for t in (7, 13, 21):   # 3 workers: never twice in a row on the same one
        workers = [r.worker for r in got if r.task == t]
        assert all(a != b for a, b in zip(workers, workers[1:])), workers


def test_with_in_process_a_crash_still_takes_the_run_down(tmp_path, write_job):
    """The option that keeps the old path does what it says (the control)."""
    job = write_job(CRASHES.replace("N", "40"))
    done = run_cmd(python_cmd("-m", "parc_mpi.run", job, "--run-dir", tmp_path / "run",
                              "-q", "--no-monitor", "--in-process"))
    assert done.returncode == -signal.SIGKILL, done


EIGVALS = """
import numpy as np
import parc_mpi

def f(x):
    if x == 2:   # one long call into LAPACK: about 6 s here on one thread (the matrix
        # itself takes 0.05 s, well within the 1 s, even on a loaded machine)
        a = np.random.default_rng(0).random((3000, 3000))
        np.linalg.eigvals(a)
    return x

job = parc_mpi.map(f, range(6), timeout=1)
"""


def test_a_task_stuck_in_c_ends_at_its_hard_timeout(tmp_path, write_job):
    job = write_job(EIGVALS)
    run_dir = tmp_path / "run"
    done = run_cmd(python_cmd("-m", "parc_mpi.run", job, "--run-dir", run_dir, "-q",
                              "--no-monitor"), timeout=90,
                   env=cli_env(OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1"))
    assert done.returncode == 1, done
    assert "first (task 2): ran past its time limit of 1 s inside code Python cannot " \
           "interrupt" in done.stderr, done
    got = rows(run_dir)
    stuck = [r for r in got if r.task == 2]
    assert [r.status for r in stuck] == ["timeout"]
    assert stuck[0].t_end - stuck[0].t_start < 1 + 5, stuck
    assert sorted(r.task for r in got if r.ok) == [0, 1, 3, 4, 5]
    assert done.seconds < 20, done


GROW = """
import numpy as np
import parc_mpi

def f(x):
    if x == 3:
        a = np.ones(2**30 // 8)   # 1 GiB, touched
        return float(a.sum())
    return float(np.ones(2**20).sum())   # 8 MB

job = parc_mpi.map(f, range(6))
"""


@pytest.mark.parametrize("how", ["cgroup", "rlimit"])
def test_a_task_past_its_memory_limit_fails_naming_it(tmp_path, write_job, how):
    if how == "cgroup" and (os.geteuid() != 0 or _own_memory_cgroup() is None):
        pytest.skip("a memory cgroup needs root and the memory controller")
    job = write_job(GROW)
    run_dir = tmp_path / "run"
    env = cli_env(PARC_MPI_CGROUP="off") if how == "rlimit" else cli_env()
    done = run_cmd(python_cmd("-m", "parc_mpi.run", job, "--run-dir", run_dir, "-q",
                              "--no-monitor", "--memory", "300M", "--log-level", "info"),
                   env=env)
    assert done.returncode == 1, done
    assert "first (task 3): needed more than its 300 MB" in done.stderr, done
    assert ("by cgroup v" if how == "cgroup" else "RLIMIT_DATA") in done.stderr, done
    assert f"task memory limit 300 MB by {'cgroup v' if how == 'cgroup' else 'rlimit'}" \
        in done.stderr
    got = rows(run_dir)
    assert sorted(r.task for r in got if r.ok) == [0, 1, 2, 4, 5]
    assert [r.status for r in got if r.task == 3] == ["failed"]
    with RunReader(str(run_dir)) as reader:   # each task's peak memory, to choose --memory
        peaks = dict(((t, a), p) for t, a, p in reader.usage())
    assert peaks and all(20 < p < 300 for p in peaks.values()), peaks


def test_a_bad_memory_size_is_one_line(tmp_path, write_job):
    job = write_job(GROW)
    done = run_cmd(python_cmd("-m", "parc_mpi.run", job, "--memory", "lots"))
    assert done.returncode == 2 and "argument --memory: must be a size such as '800M'" in done.stderr
    with pytest.raises(ValueError, match="at least 16M"):
        parse_size("1M")
    assert parse_size("1.5G") == int(1.5 * 2**30) and parse_size(2**30) == 2**30


GROW_SLOWLY = """
import time
import numpy as np
import parc_mpi

def f(x):
    if x == 3:
        chunks = []
        for _ in range(100):          # 20 MB more every 20 ms, up to 2 GB
            chunks.append(np.ones(20 * 2**20 // 8))
            time.sleep(0.02)
    time.sleep(0.05)
    return x

job = parc_mpi.map(f, range(8))
"""


def _node_cgroup(limit):
    """A memory cgroup standing in for a node's own limit (a container, a simulated
    node), or None where one cannot be made."""
    own = _own_memory_cgroup()
    if os.geteuid() != 0 or own is None or own[0] != "v1":
        return None
    folder = os.path.join(own[1], f"parc-test-node-{os.getpid()}")
    try:
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, "memory.limit_in_bytes"), "w") as fh:
            fh.write(str(limit))
    except OSError:
        return None
    return folder


def test_the_memory_guard_ends_the_biggest_task_before_the_kernel_does(tmp_path, write_job):
    folder = _node_cgroup(700 * 2**20)
    if folder is None:
        pytest.skip("needs root and the v1 memory controller to give the node a limit")
    job = write_job(GROW_SLOWLY)
    run_dir = tmp_path / "run"
    cmd = python_cmd("-m", "parc_mpi.run", job, "--run-dir", run_dir, "-q", "--no-monitor")
    try:
        proc = subprocess.run(
            ["sh", "-c", f"echo $$ > {folder}/cgroup.procs && exec \"$@\"", "sh", *cmd],
            capture_output=True, text=True, timeout=120, env=cli_env(), cwd=tmp_path)
        with open(os.path.join(folder, "memory.oom_control")) as fh:
            kernel = dict(line.split() for line in fh)
    finally:
        os.rmdir(folder)
    assert proc.returncode == 1, (proc.stdout, proc.stderr)
    assert "first (task 3): its process was ended by the node's memory guard" in proc.stderr
    assert "available of 700 MB, and it used the most" in proc.stderr, proc.stderr
    assert kernel.get("oom_kill", "0") == "0", kernel   # the guard acted first
    got = rows(run_dir)
    assert sorted(r.task for r in got if r.ok) == [0, 1, 2, 4, 5, 6, 7]
    assert [r.status for r in got if r.task == 3] == ["killed"] * 3


SLEEPY = """
import time
import parc_mpi

def f(x):
    time.sleep(60 if x == 1 else 0.01)
    return x

job = parc_mpi.map(f, range(3))
"""


def _task_processes():
    from parc_mpi.tasks.host import task_processes
    return [p.pid for p in task_processes()]


def test_a_second_ctrl_c_ends_the_running_task_and_the_run(tmp_path, write_job):
    job = write_job(SLEEPY)
    run_dir = tmp_path / "run"
    before = set(_task_processes())
    proc = subprocess.Popen(python_cmd("-m", "parc_mpi.run", job, "--run-dir", run_dir,
                                       "--no-monitor", "--progress", "0.2"),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=cli_env(), cwd=tmp_path)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not (run_dir / "run.sqlite").exists():
        time.sleep(0.1)
    time.sleep(1.5)   # task 1 is asleep in its process now
    mine = set(_task_processes()) - before
    assert mine, "no task process"
    proc.send_signal(signal.SIGINT)
    time.sleep(0.5)
    t0 = time.monotonic()
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert time.monotonic() - t0 < 10, (out, err)
    assert "soft stop" in out and "Traceback" not in err, (out, err)
    time.sleep(0.5)
    assert not (set(_task_processes()) & mine), "a task process outlived its run"
    got = rows(run_dir)
    assert sorted(r.task for r in got if r.ok) == [0]   # what finished is stored


PRINTING = """
import sys, parc_mpi
def f(x):
    print(f"working on {x}")
    print("half", end="")
    print(f" and the rest of {x}")
    print(f"a warning about {x}", file=sys.stderr)
    return x
job = parc_mpi.map(f, range(6))
"""


@pytest.mark.e2e
@pytest.mark.parametrize("ranks", [1, 3])
def test_each_line_a_task_prints_says_which_task_printed_it(tmp_path, write_job, ranks):
    """Issue 38: lines tasks print interleave between ranks; each starts with its task
    number (and node under MPI), stdout and stderr alike, a line printed in pieces once."""
    import re
    import socket
    job = write_job(PRINTING)
    args = ("-m", "parc_mpi.run", job, "--run-dir", tmp_path / "run", "-q", "--no-monitor")
    done = run_cmd(mpi_cmd(ranks, *args) if ranks > 1 else python_cmd(*args))
    assert done.returncode == 0, done
    node = f" {socket.gethostname()}" if ranks > 1 else ""
    lines = [x for x in (done.stdout + done.stderr).splitlines() if not x.startswith(
        ("[parc_mpi]", "error:"))]
    tagged = {}
    for line in lines:
        m = re.fullmatch(r"\[task (\d+)(.*?)\] (.*)", line)
        assert m and m.group(2) == node, (line, done)
        tagged.setdefault(int(m.group(1)), []).append(m.group(3))
    assert sorted(tagged) == list(range(6))
    for x, said in tagged.items():
        assert sorted(said) == sorted([f"working on {x}", f"half and the rest of {x}",
                                       f"a warning about {x}"]), said


FORKED = """
import os, sys, time
import parc_mpi

def f(x):
    time.sleep(0.05)
    if x == 5:
        os._exit(7)   # its process ends: the next one starts afresh (fork and exec)
    fds = {}
    for n in os.listdir("/proc/self/fd"):
        try:
            fds[n] = os.readlink(f"/proc/self/fd/{n}")
        except FileNotFoundError:   # listdir's own, closed by now
            pass
    with open("/proc/self/cmdline") as fh:   # a fork keeps its rank's command line
        forked = "parc_mpi.tasks.child" not in fh.read()
    return {"forked": forked, "pid": os.getpid(),
            "argv0": os.path.basename(sys.argv[0]),
            "launcher": sorted(k for k in os.environ if k.startswith(("PMI_", "HYDRA_"))),
            "task_process": os.environ.get("PARC_MPI_TASK_PROCESS"),
            "session": os.getsid(0) == os.getpid(), "stdin": fds.get("0"),
            "comm": open("/proc/self/comm").read().strip(),
            "others": sorted(v.split(":")[0].split("/")[1] if v.startswith("/") else
                             v.split(":")[0] for n, v in fds.items() if int(n) > 2)}

job = parc_mpi.map(f, range(24))
"""


def test_a_worker_s_first_task_process_is_a_fork_that_looks_like_an_exec(tmp_path, write_job):
    """A worker rank forks its first task process before MPI_Init (parc_mpi and numpy
    loaded: no import to wait for); what the task sees is what the fork-and-exec of
    ``python -m parc_mpi.tasks.child`` gives, which starts the next one after a task
    ended its process: no launcher variable, a session of its own, stdin from
    /dev/null, no descriptor of the rank's but its pipes and its slot, the name the
    node's memory guard finds task processes by."""
    job = write_job(FORKED)
    run_dir = tmp_path / "run"
    done = run_cmd(mpi_cmd(3, "-m", "parc_mpi.run", job, "--run-dir", run_dir, "-q",
                           "--no-monitor"))
    assert done.returncode == 1, done     # task 5 died three times: failed
    got = [r for r in rows(run_dir) if r.ok]
    assert sorted(r.task for r in got) == [t for t in range(24) if t != 5]
    seen = {r.result["pid"]: r.result for r in got}
    forked = [v for v in seen.values() if v["forked"]]
    execed = [v for v in seen.values() if not v["forked"]]
    assert forked and execed, seen       # the first processes forked, the later exec'd
    for v in seen.values():
        assert v["argv0"] == "child.py" and v["task_process"] == "1", v
        assert v["comm"] == "parc_mpi-task", v   # how the memory guard finds it
        assert v["launcher"] == [] and v["session"] and v["stdin"] == "/dev/null", v
        assert set(v["others"]) <= {"pipe", "memfd"}, v
