"""Estimate pi by Monte Carlo: each task throws darts with its own seed.

    mpiexec -n 4 python -m parc_mpi.run jobs/pi_montecarlo.py

Each task returns how many of its darts fell inside the quarter circle; the
summary adds them up: pi ~ 4 * hits / darts.
"""
import numpy as np

import parc_mpi

TASKS = 200
DARTS = 200_000  # per task


def throw(seed):
    rng = np.random.default_rng(seed)
    xy = rng.random((DARTS, 2))
    return int(np.count_nonzero((xy * xy).sum(axis=1) <= 1.0))


def estimate(pairs, run_dir):
    total = n = 0
    for _seed, hits in pairs:
        total += hits
        n += DARTS
    return f"pi ~ {4.0 * total / n:.5f} from {n:,} darts"


job = parc_mpi.map(throw, range(TASKS), summary=estimate)
