"""The search ``auto`` runs with the ``"model"`` pruner: :class:`CurveBO`, expected
improvement on the learning-curve model's prediction at the last step.

The model itself (one Gaussian process over the point and the step, fitted on every
curve told so far) is the ``"model"`` pruner, :class:`~.pruners.ModelPruner`, in
pruners.py with the other pruners: a worker judging a running evaluation needs it,
and nothing of the optimizers. With ``pruner="model"``, ``auto``'s model phase is
:class:`CurveBO`, so cut-short evaluations inform the search directly (a
freeze-thaw / BOHB idea: Swersky et al. 2014, arXiv:1406.3896; Falkner et al. 2018,
arXiv:1807.01774).
"""
from __future__ import annotations

import math

from typing import List, Optional

import numpy as np

from .base import Trial
from .gp import GPBO
from .model import _too_close, expected_improvement
from .pruners import ModelPruner, judge_model  # noqa: F401  (their home before)


class CurveBO(GPBO):
    """``auto``'s model phase with ``pruner="model"``: expected improvement on the
    learning-curve model's prediction at the last step (pending points believed at
    their predicted value), after a Sobol design of ``n_init`` points."""

    name = "curve-bo"

    def __init__(self, space, goal="min", seed=None, budget=None, workers: int = 1, *,
                 model: ModelPruner, n_init: Optional[int] = None):
        super().__init__(space, goal, seed, budget, workers, n_init=n_init)
        self.curve_model = model
        self._failed: List[np.ndarray] = []   # points whose evaluation gave no value

    def _propose(self, n: int) -> np.ndarray:
        d = self.space.dim
        out: List[np.ndarray] = []
        pending = [t.u for t in self.trials if t.pending]
        for _ in range(n):
            self._asked_in_restart += 1
            best = self.curve_model.best_z()
            if self._asked_in_restart <= self.n_init or best is None:
                out.append(self.sobol.random(1)[0])
                continue
            busy = pending + out
            out.append(self._next(best, np.array(busy) if busy else None))
        return np.array(out).reshape(n, d)

    def _next(self, best: float, pending: Optional[np.ndarray]) -> np.ndarray:
        d = self.space.dim
        m = self.curve_model
        finished = [u for u, c, done in m.curves if done] + [u for u, _ in m.finals]
        vals = [c[-1][1] for _, c, done in m.curves if done] + [f for _, f in m.finals]
        centre = finished[int(np.argmin(vals))] if finished else self.rng.random(d)
        cand = np.vstack([self.rng.random((1000, d)),
                          np.clip(centre + self.rng.normal(0, 0.05, (500, d)), 0, 1),
                          np.clip(centre + self.rng.normal(0, 0.15, (500, d)), 0, 1)])
        failed = np.array(self._failed) if self._failed else None
        known = [u for u, _c, _d in m.curves] + [u for u, _ in m.finals] + self._failed
        if pending is not None:
            known += list(pending)
        for scale in (None, 0.02):
            if scale is not None:   # polish: a finer cloud around the winner
                local = x + self.rng.normal(0, scale, (300, d))
                cand = np.vstack([x[None, :], np.clip(local, 0, 1)])
            mu, sd = m.predict(cand, pending, failed)
            acq = expected_improvement(mu, sd, best)
            if known:
                acq[_too_close(cand, np.array(known))] = -np.inf
            if not np.isfinite(acq).any():
                return self.rng.random(d)
            x = cand[int(np.argmax(acq))]
        return x

    def _observe(self, trial: Trial, y: float) -> None:
        # the parent's model pruner was told the curve; a failure it was not told of
        # enters the model here, at the worst value seen, so the search avoids it
        if math.isnan(y):
            self._failed.append(trial.u)
