"""CMA-ES with IPOP restarts, asynchronous (Hansen's tutorial update, arXiv:1604.00772).

On a cluster, results come back one at a time and out of order, so there are no
generations to wait for: every ask samples from the current distribution, told
points are buffered, and the distribution is updated whenever lambda of them have
arrived (each taken relative to the current mean). Points outside the unit cube
are reflected back in (a Lamarckian repair). A restart doubles lambda (IPOP) when
the step size collapses, the fitness is flat, or progress stalls; results of trials
asked before a restart are kept for ``best`` but not used for the new run.

With ``surrogate=True`` it is lq-CMA-ES (Hansen 2019): each generation's lambda
samples are ranked by a linear-quadratic model of the evaluated points (lq.py) and
handed out best first; once the model ranks the newest evaluations right (Kendall's
tau >= 0.85) the rest of the generation is ranked by the model alone, otherwise 1.5x
as many are evaluated, and so on. On a smooth function a generation costs one or two
evaluations instead of lambda. With evaluations in flight, samples are handed out in
the model's order; when a generation is all out, the next ask opens the next one from
the distribution as it is, and each generation updates CMA-ES when it closes. The
saving shrinks as the workers approach lambda: on a 5-d rotated ellipsoid after 300
evaluations, 0.0063 against plain CMA-ES's 0.098 with 4 in flight, but 0.027 against
0.019 with 8 (lambda is 8), since a generation's samples are all out before its first
value is back.
"""
from __future__ import annotations

import math
from typing import Dict, List, Optional, Tuple

import numpy as np

from .base import Optimizer, Trial
from .lq import TAU_TRUTH, TRUNCATION, QuadraticModel, n_for_tau


def reflect(x: np.ndarray) -> np.ndarray:
    """Fold any real vector into [0, 1] by mirroring at the bounds."""
    y = np.mod(x, 2.0)
    return np.where(y > 1.0, 2.0 - y, y)


class CMAES(Optimizer):
    """Asynchronous CMA-ES on the unit cube with IPOP restarts.

    Parameters
    ----------
    sigma0 : float, default 0.3
        Initial step size, as a fraction of every parameter's range.
    popsize : int, optional
        Lambda of the first run (default 4 + 3 ln d).
    x0 : array, optional
        Initial mean in the unit cube (default: the centre; restarts: random).
    restart_sigma : float, optional
        Step size of every IPOP restart (default ``sigma0``). A run started small
        around a known point should still restart wide.
    surrogate : bool, default False
        lq-CMA-ES: evaluate only the samples a quadratic model of the evaluated points
        cannot rank (see the module docstring). :meth:`remember` feeds the model
        points evaluated elsewhere.
    """

    name = "cmaes"

    def __init__(self, space, goal="min", seed=None, budget=None, workers: int = 1, *,
                 sigma0: float = 0.3, popsize: Optional[int] = None,
                 x0: Optional[np.ndarray] = None, restart_sigma: Optional[float] = None,
                 surrogate: bool = False):
        super().__init__(space, goal, seed, budget, workers)
        n = self.space.dim
        self.surrogate = surrogate
        self.model: Optional[QuadraticModel] = None
        self._slot: Dict[int, Tuple[int, int]] = {}   # trial id -> (generation, sample)
        self._open: Dict[int, _Generation] = {}       # generations not closed yet
        self._gens = 0
        self._last_slots: List[Tuple[int, int]] = []   # of the points just proposed
        self.sigma0 = sigma0
        self.restart_sigma = sigma0 if restart_sigma is None else restart_sigma
        self.lam0 = int(popsize or 4 + math.floor(3 * math.log(n)))
        self.restarts = 0
        self.epoch = 0
        self._epoch_of: Dict[int, int] = {}
        self._start(np.full(n, 0.5) if x0 is None else np.clip(np.asarray(x0, float), 0, 1),
                    self.lam0, sigma0)

    def _start(self, mean: np.ndarray, lam: int, sigma: float) -> None:
        n = self.space.dim
        self.lam = lam
        self.mu = lam // 2
        w = math.log(self.mu + 0.5) - np.log(np.arange(1, self.mu + 1))
        self.w = w / w.sum()
        self.mueff = 1.0 / float(np.sum(self.w ** 2))
        self.cc = (4 + self.mueff / n) / (n + 4 + 2 * self.mueff / n)
        self.cs = (self.mueff + 2) / (n + self.mueff + 5)
        self.c1 = 2 / ((n + 1.3) ** 2 + self.mueff)
        self.cmu = min(1 - self.c1, 2 * (self.mueff - 2 + 1 / self.mueff) /
                       ((n + 2) ** 2 + self.mueff))
        self.damps = 1 + 2 * max(0.0, math.sqrt((self.mueff - 1) / (n + 1)) - 1) + self.cs
        self.chin = math.sqrt(n) * (1 - 1 / (4 * n) + 1 / (21 * n * n))
        self.m = mean.astype(float)
        self.sigma = sigma
        self.C = np.eye(n)
        self.B = np.eye(n)
        self.D = np.ones(n)
        self.pc = np.zeros(n)
        self.ps = np.zeros(n)
        self.gen = 0
        self.buffer: List[Tuple[np.ndarray, float]] = []
        self.history: List[float] = []  # best value of each update, for stagnation
        self._open = {}
        if self.surrogate:   # a new population size: a new model (as pycma does)
            self.model = QuadraticModel(n, min_size=lam)

    def remember(self, X, y) -> None:
        """Give the surrogate points evaluated elsewhere (values to minimise)."""
        if self.model is not None:
            self.model.extend(X, y)

    def _sample(self, n: int) -> np.ndarray:
        z = self.rng.standard_normal((n, self.space.dim))
        x = self.m + self.sigma * (z * self.D) @ self.B.T
        return reflect(x)

    def _propose(self, n: int) -> np.ndarray:
        if not self.surrogate:
            return self._sample(n)
        out, self._last_slots = [], []
        for _ in range(n):
            # the newest generation with a sample not handed out yet; with many workers
            # all of it may be out, waiting: then the next one, from the distribution
            # as it is now (its results update it in turn, as plain async CMA-ES does)
            g = next((g for g in reversed(list(self._open.values())) if not g.given.all()),
                     None)
            if g is None:
                self._gens += 1
                size = len(self.model)
                first = int(1 + max(self.lam * 0.02, 3 / TRUNCATION - size))
                g = self._open[self._gens] = _Generation(self._gens, self._sample(self.lam),
                                                         first)
            free = np.flatnonzero(~g.given)
            # the best-ranked sample not handed out yet
            i = int(free[np.argmin(self.model.predict(g.X[free]))]) \
                if len(self.model) > 1 else int(free[0])
            g.given[i] = True
            out.append(g.X[i])
            self._last_slots.append((g.id, i))
        return np.array(out)

    def ask(self, n: int = 1) -> List[Trial]:
        self._last_slots = []
        trials = super().ask(n)
        for t in trials:
            self._epoch_of[t.id] = self.epoch
        # queued points come first; the proposed ones, each with its slot, after them
        proposed = trials[len(trials) - len(self._last_slots):] if self._last_slots else []
        for t, slot in zip(proposed, self._last_slots):
            self._slot[t.id] = slot
        return trials

    def _observe(self, trial: Trial, y: float) -> None:
        slot = self._slot.pop(trial.id, None)
        if self._epoch_of.pop(trial.id, self.epoch) != self.epoch:
            return  # asked before a restart
        if self.surrogate:
            self._screen(trial, y, slot)
            return
        self.buffer.append((trial.u, math.inf if math.isnan(y) else y))
        if len(self.buffer) >= self.lam:
            batch, self.buffer = self.buffer[:self.lam], self.buffer[self.lam:]
            self._update(batch)

    def _screen(self, trial: Trial, y: float, slot: Optional[Tuple[int, int]]) -> None:
        """lq-CMA-ES: learn from the value, and close the generation once the model
        ranks the newest evaluations well enough (or all samples are evaluated)."""
        self.model.add(trial.u, y)
        g = self._open.get(slot[0]) if slot is not None else None
        if g is None:
            return      # one of a generation already closed: for the model only
        g.values[slot[1]] = math.inf if math.isnan(y) else y
        done = ~np.isnan(g.values)
        evaluated = int(done.sum())
        if evaluated < min(g.target, self.lam):
            return
        if evaluated < self.lam and \
                self.model.tau(n_for_tau(self.lam, evaluated)) < TAU_TRUTH:
            g.target += int(math.ceil(g.target / 2))   # evaluate 1.5x as many
            return
        del self._open[g.id]
        if evaluated == self.lam:
            f = g.values
        else:   # the model's ranking, shifted so its best is the best evaluated value
            f = self.model.predict(g.X)
            best = float(np.min(g.values[done]))
            f = f - float(np.min(f)) + (best if math.isfinite(best) else 0.0)
            f[done & np.isinf(g.values)] = math.inf   # failures stay worst
        self._update(list(zip(g.X, f.tolist())))

    def _update(self, batch: List[Tuple[np.ndarray, float]]) -> None:
        n = self.space.dim
        batch.sort(key=lambda p: p[1])
        xs = np.array([p[0] for p in batch[:self.mu]])
        fs = [p[1] for p in batch]
        old = self.m
        ys = (xs - old) / self.sigma
        ymean = self.w @ ys
        self.m = old + self.sigma * ymean
        inv_sqrt = self.B @ np.diag(1 / self.D) @ self.B.T
        self.ps = (1 - self.cs) * self.ps + math.sqrt(
            self.cs * (2 - self.cs) * self.mueff) * inv_sqrt @ ymean
        self.gen += 1
        norm_ps = float(np.linalg.norm(self.ps))
        hsig = norm_ps / math.sqrt(1 - (1 - self.cs) ** (2 * self.gen)) / self.chin < \
            1.4 + 2 / (n + 1)
        self.pc = (1 - self.cc) * self.pc + hsig * math.sqrt(
            self.cc * (2 - self.cc) * self.mueff) * ymean
        rank_mu = (ys.T * self.w) @ ys
        self.C = ((1 - self.c1 - self.cmu) * self.C
                  + self.c1 * (np.outer(self.pc, self.pc)
                               + (1 - hsig) * self.cc * (2 - self.cc) * self.C)
                  + self.cmu * rank_mu)
        self.sigma *= math.exp((self.cs / self.damps) * (norm_ps / self.chin - 1))
        self.sigma = min(self.sigma, 1.0)
        self.C = (self.C + self.C.T) / 2
        vals, vecs = np.linalg.eigh(self.C)
        vals = np.maximum(vals, 1e-20)
        self.D, self.B = np.sqrt(vals), vecs
        self.history.append(fs[0])
        if self._should_restart(fs):
            self.restarts += 1
            self.epoch += 1
            self._start(self.rng.random(n), self.lam * 2, self.restart_sigma)

    def _should_restart(self, fs: List[float]) -> bool:
        n = self.space.dim
        finite = [f for f in fs if math.isfinite(f)]
        if self.sigma * float(self.D.max()) < 1e-9:
            return True                                   # TolX: the step collapsed
        if float(self.D.max()) / float(self.D.min()) > 1e7:
            return True                                   # ill-conditioned
        if finite and max(finite) - min(finite) < 1e-12 and len(finite) == len(fs):
            return True                                   # flat fitness
        window = 10 + int(math.ceil(30 * n / self.lam))
        if len(self.history) > 2 * window:
            recent, before = self.history[-window:], self.history[-2 * window:-window]
            if min(recent) >= min(before) - 1e-12 * max(1.0, abs(min(before))):
                return True                               # stagnation
        return False

    def state(self):
        out = super().state()
        out.update(restarts=self.restarts, sigma=self.sigma, popsize=self.lam,
                   mean=self.m.tolist())
        if self.surrogate:
            out.update(model=self.model.kind if self.model else None, generations=self._gens)
        return out


class _Generation:
    """lambda samples being screened: which were handed out, their values (nan: not
    back yet), and how many to evaluate before the model's ranking is checked."""

    def __init__(self, number: int, X: np.ndarray, target: int):
        self.id = number
        self.X = X
        self.given = np.zeros(len(X), bool)
        self.values = np.full(len(X), np.nan)
        self.target = target


class LQCMAES(CMAES):
    """``"lq-cmaes"``: :class:`CMAES` with ``surrogate=True`` (lq-CMA-ES, Hansen 2019).

    For smooth or moderately rugged objectives with a budget of tens to hundreds of
    evaluations per dimension, in up to about 20 dimensions (above, its model is a
    diagonal quadratic). On BBOB problems at 50 x d (10 seeds, measured beside plain
    CMA-ES) it is orders of magnitude ahead on ellipsoids, bent cigar and sharp ridge,
    2-14x on Rosenbrock, and about even on rugged functions, where its model cannot
    rank and it evaluates whole generations; docs/optimizers.md compares it with the
    other methods. With as many evaluations in flight as its
    population (4 + 3 ln d) it saves little over plain CMA-ES (module docstring).
    Each tell refits a least-squares model on at most 2 x (d(d+3)/2 + 1) points.
    """

    name = "lq-cmaes"

    def __init__(self, space, goal="min", seed=None, budget=None, workers: int = 1, **kw):
        kw.setdefault("surrogate", True)
        super().__init__(space, goal, seed, budget, workers, **kw)
