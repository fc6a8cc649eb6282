"""The first hour of a new user (issue 17): each rough edge they hit, fixed at its
cause and kept fixed here."""
import subprocess
import sys

import pytest

from conftest import ROOT, cli_env, mpi_cmd, python_cmd, run_cmd

QUICK = """
import time, parc_mpi
def f(x):
    time.sleep(0.05)
    return x
job = parc_mpi.map(f, range(40))
"""


@pytest.mark.e2e
def test_a_usage_error_under_mpiexec_is_printed_once_and_every_rank_exits_2():
    done = run_cmd(mpi_cmd(4, "-m", "parc_mpi.run", "jobs/pi_montecarlo.py", "--bogus-option"))
    assert done.returncode == 2, done
    assert done.stderr.count("usage:") == 1, done
    assert done.stderr.count("unrecognized arguments") == 1, done


@pytest.mark.parametrize("module", ["run", "hostfile", "report", "netbench", "simcluster"])
def test_every_command_has_a_version(module):
    done = subprocess.run([sys.executable, "-m", f"parc_mpi.{module}", "--version"],
                          cwd=ROOT, env=cli_env(), capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.startswith("parc_mpi "), done


def test_the_console_script_names_itself():
    from parc_mpi.cli import prog_name
    saved = sys.argv[0]
    try:
        sys.argv[0] = "/venv/bin/parc-run"
        assert prog_name("run", "parc-run") == "parc-run"
        sys.argv[0] = "/x/parc_mpi/run.py"
        assert prog_name("run", "parc-run") == "python -m parc_mpi.run"
    finally:
        sys.argv[0] = saved


def test_log_level_is_in_the_help_and_debug_keeps_other_libraries_quiet(tmp_path):
    from parc_mpi.run import build_parser
    assert "--log-level" in build_parser().format_help()
    code = ("import logging; from parc_mpi.run import setup_logging; setup_logging('debug'); "
            "logging.getLogger('matplotlib.font_manager').debug('font noise'); "
            "logging.getLogger('parc_mpi.engine').debug('scheduler state')")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=cli_env(),
                          capture_output=True, text=True, timeout=60)
    assert "font noise" not in done.stderr
    assert "scheduler state" in done.stderr and "[rank 0 " in done.stderr


@pytest.mark.e2e
def test_a_short_run_prints_a_first_progress_line_and_leaves_no_stale_files(tmp_path,
                                                                            write_job):
    job = write_job(QUICK)
    run_dir = tmp_path / "run"
    done = run_cmd(python_cmd("-m", "parc_mpi.run", job, "--run-dir", run_dir,
                              "--no-monitor"))
    assert done.returncode == 0, done
    lines = done.stdout.splitlines()
    progress = [l for l in lines if "/40 (" in l]
    assert progress, done            # a 2-second run still shows progress
    assert any("finished: 40 ok" in l for l in lines)
    assert (run_dir / "run.lock").read_text().startswith("free")
    assert not (run_dir / "run.sqlite-wal").exists()
    assert not (run_dir / "run.sqlite-shm").exists()


@pytest.mark.e2e
def test_a_stopped_optimization_says_what_was_planned_and_a_resume_says_both(tmp_path,
                                                                             write_job):
    job = write_job("""
import time, parc_mpi
from parc_mpi import Real
def f(x):
    time.sleep(0.05)
    return x * x
job = parc_mpi.optimize(f, {"x": Real(-1, 1)}, budget=80, goal="min", optimizer="random")
""")
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    proc = subprocess.Popen(python_cmd("-m", "parc_mpi.run", job, "--run-dir", run_dir,
                                       "--no-monitor", "-q"), cwd=ROOT, env=cli_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    import time
    from parc_mpi.store import RunReader, StoreError
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with RunReader(str(run_dir)) as reader:
                if reader.attempts() >= 10:
                    break
        except StoreError:
            pass
        time.sleep(0.05)
    (run_dir / "STOP").touch()
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, (out, err)
    assert "(of 80 planned)" in out, out
    done = run_cmd(python_cmd("-m", "parc_mpi.run", job, "--resume", run_dir, "-q"))
    assert done.returncode == 0, done
    assert "finished: 80 ok, 0 failed of 80 tasks; this session" in done.stdout, done
    assert "done before" in done.stdout


def test_resume_of_a_folder_that_does_not_exist_says_so(tmp_path, write_job):
    job = write_job(QUICK)
    done = run_cmd(python_cmd("-m", "parc_mpi.run", job, "--resume", tmp_path / "nope"))
    assert done.returncode == 2
    assert "no such run directory" in done.stderr, done


def test_a_job_under_the_main_guard_gets_a_hint(tmp_path):
    from parc_mpi.job import JobError, load_job
    path = tmp_path / "guarded.py"
    path.write_text("import parc_mpi\nif __name__ == '__main__':\n"
                    "    job = parc_mpi.map(abs, range(3))\n")
    with pytest.raises(JobError, match=r"defined only under 'if __name__ == \"__main__\":'"):
        load_job(str(path))
