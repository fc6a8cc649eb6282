"""Differential evolution, asynchronous and steady state.

The population starts as a Latin hypercube design. Afterwards every ask makes a
trial vector for the next population member that has no trial in flight
(current-to-best/1 with dithered F, binomial crossover); when its value comes back
it replaces the member if it is at least as good. No generation ever waits for the
slowest worker.
"""
from __future__ import annotations

import math
from typing import Dict, List, Optional

import numpy as np

from ._lazy import LazyModule
from .base import Optimizer, Trial

qmc = LazyModule("scipy.stats.qmc")


class DifferentialEvolution(Optimizer):
    """Steady-state DE on the unit cube.

    Parameters
    ----------
    popsize : int, optional
        Population size (default ``min(max(10, 5 d), 50)``).
    crossover : float, default 0.9
    """

    name = "de"

    def __init__(self, space, goal="min", seed=None, budget=None, workers: int = 1, *,
                 popsize: Optional[int] = None, crossover: float = 0.9):
        super().__init__(space, goal, seed, budget, workers)
        d = self.space.dim
        self.np = int(popsize or min(max(10, 5 * d), 50))
        self.cr = crossover
        self.pop = qmc.LatinHypercube(d, seed=self.rng).random(self.np)
        self.fit = np.full(self.np, np.inf)
        self.known = np.zeros(self.np, dtype=bool)   # member evaluated
        self._next_init = 0
        self._target: Dict[int, int] = {}            # trial id -> member index
        self._busy: Dict[int, int] = {}              # member index -> trials in flight
        self._cursor = 0

    def _propose(self, n: int) -> np.ndarray:
        out = []
        self._targets_this_ask: List[int] = []
        for _ in range(n):
            if self._next_init < self.np:              # the initial population first
                i = self._next_init
                self._next_init += 1
                out.append(self.pop[i].copy())
            elif self.known.sum() >= 4:
                i = self._pick_target()
                out.append(self._trial_vector(i))
            else:                                     # too few evaluated: explore
                i = -1
                out.append(self.rng.random(self.space.dim))
            self._targets_this_ask.append(i)
        return np.array(out)

    def ask(self, n: int = 1) -> List[Trial]:
        queued = min(len(self._queued), int(n))   # known points replace no member
        self._targets_this_ask = []
        trials = super().ask(n)
        for t, i in zip(trials, [-1] * queued + list(self._targets_this_ask)):
            self._target[t.id] = i
            if i >= 0:
                self._busy[i] = self._busy.get(i, 0) + 1
        return trials

    def _pick_target(self) -> int:
        for _ in range(self.np):
            i = self._cursor
            self._cursor = (self._cursor + 1) % self.np
            if self.known[i] and not self._busy.get(i):
                return i
        i = self._cursor  # everyone busy: share a target
        self._cursor = (self._cursor + 1) % self.np
        return i

    def _trial_vector(self, i: int) -> np.ndarray:
        d = self.space.dim
        members = np.flatnonzero(self.known)
        others = members[members != i]
        r1, r2 = self.rng.choice(others, 2, replace=False)
        best = members[np.argmin(self.fit[members])]
        f = self.rng.uniform(0.5, 1.0)                 # dither
        base = self.pop[i]
        mutant = base + f * (self.pop[best] - base) + f * (self.pop[r1] - self.pop[r2])
        cross = self.rng.random(d) < self.cr
        cross[self.rng.integers(d)] = True
        trial = np.where(cross, mutant, base)
        # bounce back between the target and the violated bound
        low, high = trial < 0, trial > 1
        trial[low] = base[low] * self.rng.random(low.sum())
        trial[high] = base[high] + (1 - base[high]) * self.rng.random(high.sum())
        return trial

    def _observe(self, trial: Trial, y: float) -> None:
        i = self._target.pop(trial.id, -1)
        value = math.inf if math.isnan(y) else y
        if i < 0:
            return
        if self._busy.get(i):
            self._busy[i] -= 1
        if not self.known[i]:
            self.known[i] = True
            self.fit[i] = value
            self.pop[i] = trial.u
        elif value <= self.fit[i]:
            self.fit[i] = value
            self.pop[i] = trial.u
