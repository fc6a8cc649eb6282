"""minimize() in a script that runs under mpiexec: rank 0 schedules, every rank gets
the same result."""
import numpy as np
import pytest
from mpi4py import MPI

import parc_mpi
from parc_mpi import Real

comm = MPI.COMM_WORLD


def sphere(x, y):
    return (x - 1) ** 2 + (y + 2) ** 2


@pytest.mark.mpi(min_size=2)
def test_minimize_across_ranks_agrees_everywhere_and_converges():
    res = parc_mpi.minimize(sphere, {"x": Real(-5, 5), "y": Real(-5, 5)}, budget=40, seed=2)
    all_results = comm.allgather((res.fun, res.x, res.nfev))
    assert all(r == all_results[0] for r in all_results)
    assert res.nfev == 40 and res.fun < 0.05
    workers = set(res.history["worker"].tolist())
    assert 0 not in workers and workers <= set(range(1, comm.size))
    assert np.nanmin(res.history["value"]) == res.fun
