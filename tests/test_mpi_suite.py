"""Runs tests/mpi/ inside mpiexec with 2 and 4 ranks, so that the one test command
(``python -m pytest``) covers the MPI tests too. A failure shows their output."""

import pytest

from conftest import mpi_cmd, run_cmd


@pytest.mark.parametrize("ranks", [2, 4])
def test_mpi_tests_pass_under_mpiexec(ranks):
    done = run_cmd(mpi_cmd(ranks, "-m", "pytest", "--with-mpi", "-q", "-p", "no:cacheprovider",
                           "tests/mpi"), timeout=600)
    assert done.returncode == 0, done
    assert " passed" in done.stdout and " failed" not in done.stdout, done
