"""Several objectives: ParEGO on the GP, and asynchronous NSGA-II.

* ``ParEGO`` (Knowles 2006, IEEE TEVC 10(1)): for every ask, a fresh random weight
  vector on the simplex scalarises the normalised objectives with the augmented
  Chebyshev function ``max_j(w_j f_j) + 0.05 sum_j(w_j f_j)``, and the GP's
  expected improvement on that one number picks the point. Pending points enter as
  kriging believers, as in ``GPBO``. For expensive evaluations (tens to hundreds).
* ``NSGA2`` (Deb et al. 2002, IEEE TEVC 6(2)), steady state: every ask breeds one
  child from the best ``popsize`` told points (non-dominated rank, then crowding
  distance; binary tournaments, simulated binary crossover, polynomial mutation),
  so no generation waits for the slowest worker. For cheap evaluations (thousands).

Constraints, in both: Deb's rule (feasible first, infeasible ones by total violation);
ParEGO also multiplies its expected improvement by the GP-modelled probability of
feasibility (``GPBO``'s constraint models).
"""
from __future__ import annotations

from typing import List, Optional

import numpy as np

from ._lazy import LazyModule
from .base import Optimizer, Trial
from .gp import GPBO
from .objectives import crowding, pareto_ranks

qmc = LazyModule("scipy.stats.qmc")


def constrained_order(F: np.ndarray, V: np.ndarray) -> np.ndarray:
    """Indices of rows from best to worst by Deb's constrained domination: feasible
    rows by non-dominated rank, then crowding distance (larger first); then the
    infeasible ones by violation. Failed rows (nan) are left out."""
    ok = np.all(np.isfinite(F), axis=1)
    feas = np.flatnonzero(ok & (V == 0))
    infeas = np.flatnonzero(ok & (V > 0))
    out: List[int] = []
    if len(feas):
        ranks = pareto_ranks(F[feas])
        for r in range(ranks.max() + 1):
            members = feas[ranks == r]
            cd = crowding(F[members])
            out.extend(members[np.argsort(-cd, kind="stable")].tolist())
    out.extend(infeas[np.argsort(V[infeas], kind="stable")].tolist())
    return np.array(out, dtype=int)


class ParEGO(GPBO):
    """GP-BO on random augmented-Chebyshev scalarisations (one per ask).

    Parameters
    ----------
    n_init : int, optional
        Size of the initial Sobol design (default ``min(max(5, 2 d + 1), 20)``, as
        ``GPBO``; Knowles used ``11 d - 1``, a large share of a small budget).
    rho : float, default 0.05
        Weight of the sum in the augmented Chebyshev function.
    """

    name = "parego"
    multi_objective = True

    def __init__(self, space, goal="min", seed=None, budget=None, workers: int = 1, *,
                 n_init: Optional[int] = None, rho: float = 0.05):
        super().__init__(space, goal, seed, budget, workers, n_init=n_init)
        self.rho = float(rho)
        self._w = np.full(len(self.objectives), 1.0 / len(self.objectives))

    def _scalarised(self) -> tuple:
        """(penalised, plain) scalarisations of every told trial with weights
        ``self._w``; failures nan."""
        F = np.array(self._F, dtype=float).reshape(len(self._F), len(self.objectives))
        V = np.array(self._V, dtype=float)
        ok = np.all(np.isfinite(F), axis=1)
        plain = np.full(len(F), np.nan)
        if not ok.any():
            return plain, plain
        lo, hi = F[ok].min(axis=0), F[ok].max(axis=0)
        Fn = (F[ok] - lo) / np.where(hi > lo, hi - lo, 1.0)
        wf = self._w * Fn
        plain[ok] = wf.max(axis=1) + self.rho * wf.sum(axis=1)
        penalised = plain.copy()
        bad = ok & (V > 0)
        if bad.any():
            top = np.nanmax(plain[ok & (V == 0)]) if (ok & (V == 0)).any() else np.nanmax(plain)
            penalised[bad] = top + 1.0 + V[bad] / V[bad].max()
        return penalised, plain

    def _data(self):
        return self._as_arrays(self._X, list(self._scalarised()[0]))

    def _constraint_data(self):
        """GPBO's constraint values, beside the unpenalised scalarisation."""
        out = super()._constraint_data()
        return None if out is None else (self._scalarised()[1], out[1])

    def _point_data(self, X: np.ndarray, y: np.ndarray):
        """A fresh weighting for every point asked."""
        self._w = self.rng.dirichlet(np.ones(len(self.objectives)))
        return self._data()

    def _observe(self, trial: Trial, y: float) -> None:
        self._restart_of.pop(trial.id, None)   # no trust region to update


class NSGA2(Optimizer):
    """Steady-state NSGA-II on the unit cube.

    Parameters
    ----------
    popsize : int, optional
        The population: the best this many told points breed (default
        ``min(max(20, 10 d), 100)``); the first ``popsize`` asks are a Latin
        hypercube design.
    crossover : float, default 0.9
        Probability of simulated binary crossover (else a parent is copied).
    eta_c, eta_m : float, default 15 and 20
        Distribution indices of the crossover and the polynomial mutation.
    """

    name = "nsga2"
    multi_objective = True

    def __init__(self, space, goal="min", seed=None, budget=None, workers: int = 1, *,
                 popsize: Optional[int] = None, crossover: float = 0.9, eta_c: float = 15,
                 eta_m: float = 20):
        super().__init__(space, goal, seed, budget, workers)
        d = self.space.dim
        self.popsize = int(popsize or min(max(20, 10 * d), 100))
        self.crossover, self.eta_c, self.eta_m = float(crossover), float(eta_c), float(eta_m)
        self._design = qmc.LatinHypercube(d, seed=self.rng).random(self.popsize)
        self._next_init = 0
        self._order_at = -1
        self._order = np.empty(0, dtype=int)
        self._extra_X: List[np.ndarray] = []   # points told before this optimizer (auto)
        self._extra_F: List[tuple] = []
        self._extra_V: List[float] = []
        self._asked: set = set()                  # every point asked or adopted

    def adopt(self, trials: List[Trial]) -> None:
        """Take told trials of another optimizer into the population (``auto``'s
        hand-over): they breed, the initial design is skipped."""
        for t in trials:
            if t.f is not None:
                self._asked.add(self._key(t.u))
                self._extra_X.append(t.u)
                self._extra_F.append(t.f)
                self._extra_V.append(t.violation)
        if len(self._extra_X) >= 4:
            self._next_init = self.popsize

    def _pool(self):
        X = np.array(self._extra_X + self._X).reshape(-1, self.space.dim)
        F = np.array(self._extra_F + self._F, dtype=float).reshape(len(X), -1)
        V = np.array(self._extra_V + self._V, dtype=float)
        return X, F, V

    def _population(self):
        """The pool's points and the population (indices, best first): steady state,
        the last population plus the points told since, cut back to ``popsize``."""
        X, F, V = self._pool()
        if self._order_at != len(X):
            cand = np.concatenate([self._order, np.arange(self._order_at, len(X))]) \
                if self._order_at >= 0 else np.arange(len(X))
            cand = cand.astype(int)
            self._order = cand[constrained_order(F[cand], V[cand])][:self.popsize]
            self._order_at = len(X)
        return X, self._order

    def _propose(self, n: int) -> np.ndarray:
        out = []
        for _ in range(n):
            if self._next_init < self.popsize:
                out.append(self._design[self._next_init])
                self._asked.add(self._key(out[-1]))
                self._next_init += 1
                continue
            X, pop = self._population()
            if len(pop) < 4:
                out.append(self.rng.random(self.space.dim))
                continue
            for attempt in range(10):   # an evaluation spent on a known point is wasted
                a, b = X[self._tournament(pop)], X[self._tournament(pop)]
                child = self._sbx(a, b) if self.rng.random() < self.crossover else a.copy()
                child = self._mutate(child, force=attempt > 0)
                if self._key(child) not in self._asked:
                    break
            else:
                child = self.rng.random(self.space.dim)
            out.append(child)
            self._asked.add(self._key(child))
        return np.array(out)

    @staticmethod
    def _key(u: np.ndarray) -> bytes:
        return np.round(u, 12).tobytes()

    def _tournament(self, pop: np.ndarray) -> int:
        i, j = self.rng.choice(len(pop), 2, replace=False)
        return int(pop[min(i, j)])   # the population is sorted best first

    def _sbx(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        u = self.rng.random(len(a))
        e = 1.0 / (self.eta_c + 1.0)
        beta = np.where(u <= 0.5, (2 * u) ** e, (1.0 / (2 * (1 - u))) ** e)
        child = 0.5 * ((1 + beta) * a + (1 - beta) * b)
        swap = self.rng.random(len(a)) < 0.5   # each variable from either offspring
        other = 0.5 * ((1 - beta) * a + (1 + beta) * b)
        return np.clip(np.where(swap, other, child), 0.0, 1.0)

    def _mutate(self, x: np.ndarray, force: bool = False) -> np.ndarray:
        d = len(x)
        hit = self.rng.random(d) < 1.0 / d
        if force and not hit.any():
            hit[self.rng.integers(d)] = True
        if not hit.any():
            return x
        u = self.rng.random(d)
        e = 1.0 / (self.eta_m + 1.0)
        delta = np.where(u < 0.5, (2 * u) ** e - 1, 1 - (2 * (1 - u)) ** e)
        return np.clip(np.where(hit, x + delta, x), 0.0, 1.0)
