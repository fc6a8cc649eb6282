"""Quasi-random designs from scipy.stats.qmc: Sobol and Latin hypercube."""
from __future__ import annotations

from typing import Optional

import numpy as np

from ._lazy import LazyModule
from .base import Optimizer

qmc = LazyModule("scipy.stats.qmc")


class SobolSearch(Optimizer):
    """A scrambled Sobol sequence: even coverage, no model, pending points irrelevant."""

    name = "sobol"
    multi_objective = True

    def __init__(self, space, goal="min", seed=None, budget=None, workers: int = 1):
        super().__init__(space, goal, seed, budget, workers)
        self.engine = qmc.Sobol(self.space.dim, scramble=True, seed=self.rng)

    def _propose(self, n: int) -> np.ndarray:
        return self.engine.random(n)


class LatinHypercube(Optimizer):
    """Latin hypercube designs of ``block`` points (the budget when known), handed out
    in order; a new block is drawn when one is used up."""

    name = "lhs"
    multi_objective = True

    def __init__(self, space, goal="min", seed=None, budget=None, workers: int = 1, *,
                 block: Optional[int] = None):
        super().__init__(space, goal, seed, budget, workers)
        block = block or budget  # one design spanning the budget when it is known
        self.block = int(block) if block else max(16, 10 * self.space.dim)
        self.engine = qmc.LatinHypercube(self.space.dim, seed=self.rng)
        self._queue = np.empty((0, self.space.dim))

    def _propose(self, n: int) -> np.ndarray:
        while len(self._queue) < n:
            self._queue = np.vstack([self._queue, self.engine.random(self.block)])
        out, self._queue = self._queue[:n], self._queue[n:]
        return out
