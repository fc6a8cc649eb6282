"""CMA-ES with IPOP restarts, asynchronous (Hansen's tutorial update, arXiv:1604.00772).

On a cluster, results come back one at a time and out of order, so there are no
generations to wait for: every ask samples from the current distribution, told
points are buffered, and the distribution is updated whenever lambda of them have
arrived (each taken relative to the current mean). Points outside the unit cube
are reflected back in (a Lamarckian repair). A restart doubles lambda (IPOP) when
the step size collapses, the fitness is flat, or progress stalls; results of trials
asked before a restart are kept for ``best`` but not used for the new run.
"""
from __future__ import annotations

import math
from typing import Dict, List, Optional, Tuple

import numpy as np

from .base import Optimizer, Trial


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
    """

    name = "cmaes"

    def __init__(self, space, goal="min", seed=None, budget=None, workers: int = 1, *,
                 sigma0: float = 0.3, popsize: Optional[int] = None,
                 x0: Optional[np.ndarray] = None, restart_sigma: Optional[float] = None):
        super().__init__(space, goal, seed, budget, workers)
        n = self.space.dim
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

    def _propose(self, n: int) -> np.ndarray:
        z = self.rng.standard_normal((n, self.space.dim))
        x = self.m + self.sigma * (z * self.D) @ self.B.T
        return reflect(x)

    def ask(self, n: int = 1) -> List[Trial]:
        trials = super().ask(n)
        for t in trials:
            self._epoch_of[t.id] = self.epoch
        return trials

    def _observe(self, trial: Trial, y: float) -> None:
        if self._epoch_of.pop(trial.id, self.epoch) != self.epoch:
            return  # asked before a restart
        self.buffer.append((trial.u, math.inf if math.isnan(y) else y))
        if len(self.buffer) >= self.lam:
            batch, self.buffer = self.buffer[:self.lam], self.buffer[self.lam:]
            self._update(batch)

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
        return out
