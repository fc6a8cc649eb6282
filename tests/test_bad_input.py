"""Bad input stops the run before work starts: one line from rank 0, a non-zero exit on
every rank within seconds, no traceback wall, and no run store left behind."""
import os
import subprocess

import pytest

from conftest import mpi_cmd, python_cmd, run_cmd
from parc_mpi.store import RunReader

pytestmark = pytest.mark.e2e

CASES = {
    "syntax_error": ("import parc_mpi\ndef f(x)\n    return x\n", "job.py:2: syntax error"),
    "import_error": ("import parc_mpi\nimport no_such_module_here\n",
                     "job.py:2: ModuleNotFoundError while importing the job file: "
                     "No module named 'no_such_module_here'"),
    "raises_at_import": ("import parc_mpi\nx = 1 / 0\n",
                         "job.py:2: ZeroDivisionError while importing the job file"),
    "no_job": ("import parc_mpi\ndef f(x):\n    return x\n", "job.py: defines no 'job'"),
    "wrong_type": ("import parc_mpi\njob = [1, 2, 3]\n",
                   "job.py: 'job' must be made by parc_mpi.map, parc_mpi.optimize or "
                   "parc_mpi.generate, got list"),
    "fn_not_callable": ("import parc_mpi\njob = parc_mpi.map(42, range(3))\n",
                        "job.py:2: JobError while importing the job file: map(fn, items): fn "
                        "must be callable, got int"),
    "unpicklable_items": ("import threading, parc_mpi\ndef f(x):\n    return 1\n"
                          "job = parc_mpi.map(f, (threading.Lock() for _ in range(3)))\n",
                          "job.py: the first task's argument cannot be sent to the workers"),
    "fn_differs_by_rank": (
        "import parc_mpi\nfrom mpi4py import MPI\n"
        "def a(x):\n    return x\ndef b(x):\n    return -x\n"
        "job = parc_mpi.map(a if MPI.COMM_WORLD.rank == 0 else b, range(3))\n",
        "cannot be found by name on node"),
    "bad_bounds": ("import parc_mpi\nfrom parc_mpi import Real\ndef f(x):\n    return x\n"
                   "job = parc_mpi.optimize(f, {'x': Real(5, 1)}, budget=10, goal='max')\n",
                   "space['x']: Real low=5 must be below high=1"),
    # only rank 0 builds the optimizer when the job is made: its refusal still ends all
    "unknown_optimizer": ("import parc_mpi\nfrom parc_mpi import Real\ndef f(x):\n    return x\n"
                          "job = parc_mpi.optimize(f, {'x': Real(0, 1)}, budget=10, goal='min',"
                          " optimizer='simplex')\n", "unknown optimizer 'simplex'"),
    "no_goal": ("import parc_mpi\nfrom parc_mpi import Real\ndef f(x):\n    return x\n"
                "job = parc_mpi.optimize(f, {'x': Real(0, 1)}, budget=10)\n",
                "TypeError while importing the job file"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_job_under_mpiexec_fails_fast_on_every_rank(tmp_path, write_job, case):
    source, message = CASES[case]
    job = write_job(source)
    run_dir = tmp_path / "run"
    done = run_cmd(mpi_cmd(4, "-m", "parc_mpi.run", job, "--run-dir", run_dir), timeout=60)
    assert done.returncode != 0, done
    assert done.seconds < 10, done
    errors = [l for l in done.stderr.splitlines() if l.startswith("error:")]
    assert len(errors) == 1, done
    assert message in errors[0], done
    assert "Traceback" not in done.stderr, done
    assert not (run_dir / "run.sqlite").exists()


def test_missing_job_file_under_mpiexec(tmp_path):
    done = run_cmd(mpi_cmd(4, "-m", "parc_mpi.run", tmp_path / "nope.py"), timeout=60)
    assert done.returncode == 2 and done.seconds < 10, done
    assert done.stderr.strip() == f"error: {tmp_path / 'nope.py'}: no such job file"


def test_bad_input_serial_is_one_line_exit_2(tmp_path, write_job):
    job = write_job(CASES["wrong_type"][0])
    done = run_cmd(python_cmd("-m", "parc_mpi.run", job))
    assert done.returncode == 2, done
    assert done.stderr.strip().startswith("error: ") and len(done.stderr.splitlines()) == 1


def test_usage_error_exit_2():
    done = run_cmd(python_cmd("-m", "parc_mpi.run", "job.py", "--prefetch", "0"))
    assert done.returncode == 2 and "--prefetch" in done.stderr


def test_run_dir_not_writable(tmp_path, write_job):
    if os.geteuid() == 0:
        # root writes through permission bits; a read-only bind is what stops it
        target = "/proc/parc_mpi_run"
    else:
        ro = tmp_path / "ro"
        ro.mkdir(mode=0o500)
        target = str(ro / "run")
    job = write_job("import parc_mpi\ndef f(x):\n    return x\njob = parc_mpi.map(f, range(3))\n")
    done = run_cmd(mpi_cmd(4, "-m", "parc_mpi.run", job, "--run-dir", target), timeout=60)
    assert done.returncode == 2 and done.seconds < 10, done
    assert done.stderr.strip().startswith(f"error: {target}: cannot create the run directory")


def test_all_tasks_failing_exits_non_zero(tmp_path, write_job):
    job = write_job("import parc_mpi\ndef f(x):\n    raise KeyError(x)\n"
                    "job = parc_mpi.map(f, range(5))\n")
    done = run_cmd(mpi_cmd(4, "-m", "parc_mpi.run", job, "--run-dir", tmp_path / "r", "-q"))
    assert done.returncode == 1, done
    assert "failed: 0 ok, 5 failed of 5 tasks" in done.stdout
    assert "error: 5 of 5 tasks failed for good; first (task 0): KeyError: 0" in done.stderr


OBJECTIVE = """
import parc_mpi
from parc_mpi import Real
def f(x):
    return RETURN
job = parc_mpi.optimize(f, {"x": Real(-1, 1)}, budget=12, goal="min", optimizer="gp")
"""


@pytest.mark.parametrize("value, message", [
    ('"text"', "objective returned str, expected a number"),
    ('float("nan")', "objective returned nan, expected a finite number"),
    ("None", "objective returned NoneType, expected a number"),
])
def test_objective_that_returns_no_number_fails_every_task_with_one_line(
        tmp_path, write_job, value, message):
    job = write_job(OBJECTIVE.replace("RETURN", value))
    done = run_cmd(mpi_cmd(4, "-m", "parc_mpi.run", job, "--run-dir", tmp_path / "r", "-q",
                           "--no-monitor"), timeout=60)
    assert done.returncode == 1 and done.seconds < 30, done
    assert "failed: 0 ok, 12 failed of 12 tasks" in done.stdout
    errors = [l for l in done.stderr.splitlines() if l.startswith("error:")]
    assert len(errors) == 1 and errors[0].startswith(
        f"error: 12 of 12 tasks failed for good; first (task 0): {message}"), done


def test_huge_objective_values_are_numbers_and_the_optimizer_survives(tmp_path, write_job):
    job = write_job(OBJECTIVE.replace("RETURN", "1e308 if x > 0 else x * x"))
    done = run_cmd(mpi_cmd(4, "-m", "parc_mpi.run", job, "--run-dir", tmp_path / "r", "-q",
                           "--no-monitor"), timeout=60)
    assert done.returncode == 0, done
    assert "finished: 12 ok, 0 failed of 12 tasks" in done.stdout
    best = float(done.stdout.split("best ")[1].split()[0])
    assert 0 <= best < 1


def test_stop_file_present_at_start(tmp_path, write_job):
    job = write_job("import parc_mpi\ndef f(x):\n    return x\njob = parc_mpi.map(f, range(3))\n")
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "STOP").touch()
    done = run_cmd(mpi_cmd(4, "-m", "parc_mpi.run", job, "--run-dir", run_dir), timeout=60)
    assert done.returncode == 2 and done.seconds < 10, done
    assert done.stderr.strip() == (f"error: {run_dir / 'STOP'}: a stop request is already "
                                   "there at start; remove it to run")
    assert not (run_dir / "run.sqlite").exists()


@pytest.fixture
def tiny_disk(tmp_path):
    """A 256 KiB tmpfs: a disk that fills up mid-run."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mnt = tmp_path / "tiny"
    mnt.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mnt)],
                      capture_output=True).returncode != 0:
        pytest.skip("cannot mount a tmpfs here")
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def test_full_disk_mid_run_ends_every_rank_with_one_line(tmp_path, write_job, tiny_disk):
    job = write_job("import parc_mpi\ndef f(x):\n    return 'y' * 200\n"
                    "job = parc_mpi.map(f, range(100000))\n")
    run_dir = tiny_disk / "run"
    done = run_cmd(mpi_cmd(4, "-m", "parc_mpi.run", job, "--run-dir", run_dir, "-q"),
                   timeout=60)
    assert done.returncode != 0 and done.seconds < 15, done
    errors = [l for l in done.stderr.splitlines() if l.startswith("error:")]
    assert len(errors) == 1, done
    assert "run.sqlite: cannot write: database or disk is full" in errors[0]
    assert f"--resume {run_dir}" in errors[0]
    assert "Traceback" not in done.stderr
    with RunReader(str(run_dir)) as reader:
        reader.check_intact()
