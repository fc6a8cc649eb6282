"""Shared helpers: run the real command-line tools in a subprocess, under mpiexec or not.

MPI tests live in tests/mpi/ and run inside mpiexec (see test_mpi_suite.py, which
launches them with 2 and 4 ranks); a plain ``python -m pytest`` does not import them.
"""
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from browser import chromium

ROOT = Path(__file__).resolve().parents[1]
# a test that drives headless Chromium: skipped where it is missing (.ci/run installs it)
needs_chromium = pytest.mark.skipif(not chromium(),
                                    reason="needs Debian's chromium (.ci/run installs it)")


def pytest_ignore_collect(collection_path, config):
    if "mpi" in Path(collection_path).parts[-2:] and collection_path.name != "test_mpi_suite.py":
        try:
            with_mpi = config.getoption("--with-mpi")
        except ValueError:
            with_mpi = False
        if not with_mpi:
            return True
    return None


def pytest_collection_modifyitems(config, items):
    """The quick subset (-m "not slow") is the unit tests: every test that starts
    the real tools (e2e), an MPI world or a browser is slow."""
    for item in items:
        if item.get_closest_marker("e2e") or item.path.name == "test_mpi_suite.py":
            item.add_marker(pytest.mark.slow)


def cli_env(**extra):
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env.pop("PARC_MPI_SERIAL", None)
    env.update(extra)
    return env


class Done:
    """A finished command: returncode, stdout, stderr, seconds."""

    def __init__(self, proc, seconds):
        self.returncode = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr
        self.seconds = seconds

    def __repr__(self):
        return (f"<exit {self.returncode} after {self.seconds:.1f}s>\n--- stdout\n{self.stdout}"
                f"\n--- stderr\n{self.stderr}")


def run_cmd(cmd, timeout=120, cwd=None, env=None):
    t0 = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                          cwd=cwd or ROOT, env=env or cli_env(), stdin=subprocess.DEVNULL)
    return Done(proc, time.monotonic() - t0)


def python_cmd(*args):
    return [sys.executable, *map(str, args)]


def node_list_and_hostfile(tmp_path, csv_text):
    """Write ``node_list.csv`` and the MPICH hostfile parc_mpi.hostfile makes from it."""
    nodes_csv = tmp_path / "node_list.csv"
    nodes_csv.write_text(csv_text)
    hostfile = tmp_path / "hostfile"
    made = run_cmd(python_cmd("-m", "parc_mpi.hostfile", nodes_csv, "-o", hostfile,
                              "--format", "mpich"))
    assert made.returncode == 0, made
    return nodes_csv, hostfile


def most_at_once(spans):
    """The most (start, end) intervals open at one moment: tasks running at once."""
    events = sorted([(s, 1) for s, _ in spans] + [(e, -1) for _, e in spans])
    now = most = 0
    for _, step in events:
        now += step
        most = max(most, now)
    return most


def mpi_cmd(n, *args):
    from parc_mpi.mpienv import mpiexec_command
    return mpiexec_command(n) + [sys.executable, *map(str, args)]


@pytest.fixture
def write_job(tmp_path):
    """Write a job file from source text; return its path."""
    def write(source, name="job.py"):
        path = tmp_path / name
        path.write_text(source)
        return path
    return write
