"""End to end: the real `python -m parc_mpi.run`, serial and under mpiexec."""
import csv
import json
import signal
import subprocess
import time

import pytest

from conftest import ROOT, cli_env, mpi_cmd, python_cmd, run_cmd
from parc_mpi.store import RunReader, StoreError

pytestmark = pytest.mark.e2e

MAP_WITH_FAILURES = """
import parc_mpi
def work(x):
    if x % 7 == 3:
        raise ValueError(f"bad item {x}")
    return x * x
job = parc_mpi.map(work, range(50))
"""

OPTIMIZE = """
import parc_mpi
from parc_mpi import Real, Integer
def objective(x, n):
    return -(x - 1.0) ** 2 + n
job = parc_mpi.optimize(objective, {"x": Real(-3, 3), "n": Integer(0, 2)}, budget=40,
                        goal="max", seed=3)
"""

GENERATE = """
import parc_mpi
def double(x):
    return 2 * x
def refine(x, result):
    return [result] if result < 100 else []
job = parc_mpi.generate(double, [1, 3], refine)
"""


def rows(run_dir):
    with RunReader(str(run_dir)) as reader:
        return reader.results()


def run_job(tmp_path, write_job, source, ranks=None, extra=(), timeout=120):
    job = write_job(source)
    run_dir = tmp_path / "run"
    args = ("-m", "parc_mpi.run", job, "--run-dir", run_dir, "--quiet", *extra)
    cmd = mpi_cmd(ranks, *args) if ranks else python_cmd(*args)
    return run_cmd(cmd, timeout=timeout), run_dir


def committed(run_dir):
    try:
        with RunReader(str(run_dir)) as reader:
            return reader.attempts()
    except StoreError:
        return 0


def start_run(cmd, run_dir):
    """Start a run in the background; return once some results are committed."""
    proc = subprocess.Popen(cmd, cwd=ROOT, env=cli_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while committed(run_dir) == 0 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.1)
    return proc


@pytest.mark.parametrize("ranks", [None, 4])
def test_failing_tasks_are_stored_with_traceback_and_run_goes_on(tmp_path, write_job, ranks):
    done, run_dir = run_job(tmp_path, write_job, MAP_WITH_FAILURES, ranks)
    assert done.returncode == 1, done     # failures are told, by message and exit status
    assert "finished: 43 ok, 7 failed of 50 tasks" in done.stdout
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and errors[0].startswith(
        "error: 7 of 50 tasks failed for good; first (task 3): ValueError: bad item 3"), done
    assert "report.html" in errors[0]
    got = rows(run_dir)
    assert sorted(r.task for r in got) == list(range(50))
    failed = [r for r in got if r.status == "failed"]
    assert sorted(r.task for r in failed) == [x for x in range(50) if x % 7 == 3]
    for r in failed:
        assert "Traceback" in r.error and f"ValueError: bad item {r.task}" in r.error
        assert r.worker is not None and r.node  # worker rank and node
    ok = {r.task: r.result for r in got if r.status == "ok"}
    assert all(ok[x] == x * x for x in ok)
    if ranks:
        assert {r.worker for r in got} <= {1, 2, 3}
    with open(run_dir / "results.csv") as fh:
        table = list(csv.DictReader(fh))
    assert len(table) == 50 and table[3]["status"] == "failed"
    assert table[3]["error"] == "ValueError: bad item 3"


def test_allow_failures_keeps_exit_status_0_and_says_so(tmp_path, write_job):
    done, _run_dir = run_job(tmp_path, write_job, MAP_WITH_FAILURES,
                             extra=("--allow-failures",))
    assert done.returncode == 0, done
    assert "note: 7 of 50 tasks failed for good; first (task 3)" in done.stdout


def test_retries_rerun_a_failed_task(tmp_path, write_job):
    marks = tmp_path / "marks"
    marks.mkdir()
    source = f"""
import os, parc_mpi
def flaky(x):
    mark = os.path.join({str(marks)!r}, str(x))
    if not os.path.exists(mark):
        open(mark, "w").close()
        raise RuntimeError("first try fails")
    return x
job = parc_mpi.map(flaky, range(6))
"""
    done, run_dir = run_job(tmp_path, write_job, source, 3, extra=("--retries", "1"))
    assert done.returncode == 0, done
    got = rows(run_dir)
    assert sorted((r.task, r.attempt, r.status) for r in got) == sorted(
        [(x, 0, "failed") for x in range(6)] + [(x, 1, "ok") for x in range(6)])
    assert "finished: 6 ok, 0 failed of 6 tasks" in done.stdout


@pytest.mark.parametrize("ranks", [None, 3])
def test_optimize_job_spends_its_budget_and_writes_best(tmp_path, write_job, ranks):
    done, run_dir = run_job(tmp_path, write_job, OPTIMIZE, ranks)
    assert done.returncode == 0, done
    got = rows(run_dir)
    assert len(got) == 40 and {r.status for r in got} == {"ok"}
    best = json.loads((run_dir / "best.json").read_text())
    values = [r.result for r in got]
    assert best["value"] == max(values) and best["goal"] == "max"
    assert best["evaluations"] == 40
    params = [r.params for r in got if r.result == best["value"]][0]
    assert params == best["params"]
    assert -(params["x"] - 1.0) ** 2 + params["n"] == pytest.approx(best["value"])


@pytest.mark.parametrize("ranks", [None, 4])
def test_generate_job_follows_on_result(tmp_path, write_job, ranks):
    done, run_dir = run_job(tmp_path, write_job, GENERATE, ranks)
    assert done.returncode == 0, done
    items = sorted(r.params for r in rows(run_dir))
    # 1 -> 2 -> 4 -> ... -> 128 stops; 3 -> 6 -> ... -> 192 stops
    assert items == sorted([1, 2, 4, 8, 16, 32, 64, 3, 6, 12, 24, 48, 96])


def test_progress_lines_on_long_runs(tmp_path, write_job):
    job = write_job("import time, parc_mpi\n"
                    "def nap(x):\n    time.sleep(0.05)\n    return x\n"
                    "job = parc_mpi.map(nap, range(40))\n")
    done = run_cmd(mpi_cmd(3, "-m", "parc_mpi.run", job, "--run-dir", tmp_path / "r",
                           "--progress", "0.3"))
    assert done.returncode == 0, done
    lines = [l for l in done.stdout.splitlines() if "tasks/s" in l and "/40" in l]
    assert lines, done
    assert "failed" in lines[0] and "workers" in lines[0]


def test_generator_items_without_length(tmp_path, write_job):
    source = """
import parc_mpi
def f(x):
    return x + 1
job = parc_mpi.map(f, (i for i in range(2000)))
"""
    done, run_dir = run_job(tmp_path, write_job, source, 3)
    assert done.returncode == 0, done
    assert sorted(r.result for r in rows(run_dir)) == list(range(1, 2001))


def test_stop_file_stops_softly_and_keeps_results(tmp_path, write_job):
    job = write_job("import time, parc_mpi\n"
                    "def nap(x):\n    time.sleep(0.1)\n    return x\n"
                    "job = parc_mpi.map(nap, range(400))\n")
    run_dir = tmp_path / "run"
    proc = start_run(mpi_cmd(4, "-m", "parc_mpi.run", job, "--run-dir", run_dir, "-q"), run_dir)
    (run_dir / "STOP").touch()
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, (out, err)
    assert "stopped by STOP file: " in out
    got = rows(run_dir)
    assert 0 < len(got) < 400 and {r.status for r in got} == {"ok"}
    assert len({r.task for r in got}) == len(got)  # nothing twice
    with RunReader(str(run_dir)) as reader:
        assert reader.meta()["status"] == "stopped"


def test_sigint_to_serial_run_stops_softly(tmp_path, write_job):
    job = write_job("import time, parc_mpi\n"
                    "def nap(x):\n    time.sleep(0.05)\n    return x\n"
                    "job = parc_mpi.map(nap, range(1000))\n")
    run_dir = tmp_path / "run"
    proc = start_run(python_cmd("-m", "parc_mpi.run", job, "--run-dir", run_dir, "-q"), run_dir)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, (out, err)
    assert "SIGINT: soft stop" in out and "stopped by SIGINT: " in out
    assert 0 < len(rows(run_dir)) < 1000


def test_shipped_folder_reaches_workers_through_mpi(tmp_path, write_job):
    project = tmp_path / "project"
    project.mkdir()
    (project / "helper.py").write_text("def triple(x):\n    return 3 * x\n")
    job_dir = tmp_path / "jobs"
    job_dir.mkdir()
    job = job_dir / "job.py"
    job.write_text("import parc_mpi\nfrom helper import triple\n"
                   "job = parc_mpi.map(triple, range(20))\n")
    cache = tmp_path / "cache"
    done = run_cmd(mpi_cmd(3, "-m", "parc_mpi.run", job, "--ship", project, "--run-dir",
                           tmp_path / "run", "--cache", cache, "-q"))
    assert done.returncode == 0, done
    assert sorted(r.result for r in rows(tmp_path / "run")) == [3 * x for x in range(20)]
    unpacked = [p for p in cache.iterdir() if not p.name.startswith(".")]
    assert len(unpacked) == 1 and (unpacked[0] / "project" / "helper.py").exists()


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_signal_to_mpiexec_stops_softly_on_every_rank(tmp_path, write_job, sig):
    job = write_job("import time, parc_mpi\n"
                    "def nap(x):\n    time.sleep(0.1)\n    return x\n"
                    "job = parc_mpi.map(nap, range(1000))\n")
    run_dir = tmp_path / "run"
    proc = start_run(mpi_cmd(4, "-m", "parc_mpi.run", job, "--run-dir", run_dir, "-q"), run_dir)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, (out, err)
    assert f"{sig.name}: soft stop" in out and f"stopped by {sig.name}: " in out
    got = rows(run_dir)
    assert 0 < len(got) < 1000 and {r.status for r in got} == {"ok"}


@pytest.mark.parametrize("requirement, ok", [("numpy", True), ("./no-such-project-here", False)])
def test_install_deps_from_shipped_requirements(tmp_path, write_job, requirement, ok):
    project = tmp_path / "project"
    project.mkdir()
    (project / "requirements.txt").write_text(requirement + "\n")
    job = write_job("import parc_mpi\ndef f(x):\n    return x\njob = parc_mpi.map(f, range(4))\n")
    cache = tmp_path / "cache"
    done = run_cmd(mpi_cmd(3, "-m", "parc_mpi.run", job, "--ship", project, "--install-deps",
                           "--cache", cache, "--run-dir", tmp_path / "run", "-q"), timeout=300)
    if ok:
        assert done.returncode == 0, done
        assert list(cache.glob("*/.deps-installed"))
    else:
        assert done.returncode == 2, done
        assert done.stderr.startswith("error: node ") or done.stderr.startswith(
            "error: requirements.txt"), done
        assert "requirements.txt: pip install failed" in done.stderr
        assert len(done.stderr.strip().splitlines()) == 1, done


def test_ranks_default_to_one_blas_thread_unless_the_user_chose(tmp_path):
    """Under mpiexec every core runs a rank: numpy's BLAS must not start a thread per
    core on each of them (a 7x slow-down measured on a busy box)."""
    probe = tmp_path / "probe.py"
    # one write per rank: two ranks' print() pieces can interleave on the shared pipe
    probe.write_text("import os, sys, parc_mpi\n"
                     "sys.stdout.write(f\"{os.environ.get('OPENBLAS_NUM_THREADS')} "
                     "{os.environ.get('OMP_NUM_THREADS')}\\n\")\n")
    env = cli_env()
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env.pop(var, None)
    done = run_cmd(mpi_cmd(2, probe), env=env)
    assert done.returncode == 0, done
    assert done.stdout.split() == ["1", "1"] * 2, done
    env["OPENBLAS_NUM_THREADS"] = "3"
    done = run_cmd(mpi_cmd(2, probe), env=env)
    assert done.stdout.split() == ["3", "1"] * 2, done
    # outside a launcher (a notebook, a plain script) nothing is changed
    env.pop("OPENBLAS_NUM_THREADS")
    done = run_cmd(python_cmd(probe), env=env)
    assert done.stdout.split() == ["None", "None"], done


@pytest.mark.e2e
@pytest.mark.parametrize("ranks", [1, 4])
def test_quiet_prints_one_line(tmp_path, write_job, ranks):
    """Issue 38: -q is the summary line alone (warnings and errors would still show)."""
    job = write_job("import parc_mpi\njob = parc_mpi.map(abs, range(-50, 50))\n")
    args = ("-m", "parc_mpi.run", job, "--run-dir", tmp_path / "run", "-q")
    done = run_cmd(mpi_cmd(ranks, *args) if ranks > 1 else python_cmd(*args))
    assert done.returncode == 0, done
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(
        "[parc_mpi] finished: 100 ok, 0 failed of 100 tasks"), done.stdout
    assert done.stderr.strip() == "", done.stderr
