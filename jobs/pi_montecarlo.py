"""Estimate pi by Monte Carlo: each task throws darts with its own seed.

    mpiexec -n 4 python -m parc_mpi.run jobs/pi_montecarlo.py

Each task returns how many of its darts fell inside the quarter circle; the
estimate is 4 * hits / darts, printed from results.csv in the run directory.
"""
import numpy as np

import parc_mpi

DARTS = 200_000  # per task


def throw(seed):
    rng = np.random.default_rng(seed)
    xy = rng.random((DARTS, 2))
    return int(np.count_nonzero((xy * xy).sum(axis=1) <= 1.0))


job = parc_mpi.map(throw, range(200))
