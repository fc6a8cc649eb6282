"""Uniform random search: the baseline every other method must beat."""
from __future__ import annotations

import numpy as np

from .base import Optimizer


class RandomSearch(Optimizer):
    """Independent uniform points in the unit cube (pending trials do not matter)."""

    name = "random"
    multi_objective = True

    def _propose(self, n: int) -> np.ndarray:
        return self.rng.random((n, self.space.dim))
