"""Find the minimum of the Rastrigin function, a classic multi-modal landscape
(global minimum 0 at the origin, a local minimum at every integer point).

    mpiexec -n 4 python -m parc_mpi.run jobs/optimize_rastrigin.py

Rank 0 asks the default optimizer ("auto") for new points as results come back.
The best point is in best.json in the run directory.
"""
import math

import parc_mpi
from parc_mpi import Real

DIM = 3


def rastrigin(**x):
    return 10 * DIM + sum(v * v - 10 * math.cos(2 * math.pi * v) for v in x.values())


space = {f"x{i}": Real(-5.12, 5.12) for i in range(DIM)}
job = parc_mpi.optimize(rastrigin, space, budget=300, goal="min", seed=1)
