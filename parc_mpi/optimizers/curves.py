"""A model of learning curves: the ``"model"`` pruner, and the search ``auto`` runs
with it.

One Gaussian process (Matérn-5/2, ARD) over (the point in the unit cube, the step on
a log scale from the first step to the last one completed evaluations reached),
fitted on every curve told so far: completed ones, and pruned ones up to where they
stopped. Curves that cross (a slow starter ending best) are what it is for: the
median rule and ASHA compare evaluations at the same step, so they stop the slow
starters; the model has seen how curves from nearby settings went on, and predicts
the final value of a running evaluation from its settings and its curve so far.

* The pruner stops an evaluation when the predicted final value, less ``kappa``
  standard deviations, is still worse than the best completed evaluation's final
  value: only when the model is fairly sure it cannot win. It judges at steps
  spaced by a factor of 1.5 (1, 2, 3, 4, 6, 8, 12, 18, 26 for epochs), so a curve
  reported every iteration costs a few predictions, each a few milliseconds on the
  worker (the model's data travel with each task: at most ``MAX_POINTS`` rows).
* With ``pruner="model"``, ``auto``'s model phase is :class:`CurveBO`: expected
  improvement on the same model's prediction at the last step, so cut-short
  evaluations inform the search directly (a freeze-thaw / BOHB idea: Swersky et al.
  2014, arXiv:1406.3896; Falkner et al. 2018, arXiv:1807.01774).

Values are modelled minimised, robustly rescaled and squashed (gp.py's ``Warp``):
one diverged curve cannot swamp the model.
"""
from __future__ import annotations

import math
from typing import Any, List, Optional, Tuple

import numpy as np

from .base import Trial
from .gp import GPBO
from .model import GP, Warp, _too_close, expected_improvement, fit_theta
from .pruners import Pruner
from .threads import one_blas_thread

LADDER = 1.5        # judged (and kept in the model) at steps spaced by this factor
MAX_POINTS = 300    # rows of the model at most
FIT_POINTS = 120    # rows its hyperparameters are fitted on at most (every k-th)
KAPPA = 2.5         # stop when the prediction less this many deviations still loses
STARTUP = 3         # completed evaluations before anything is stopped


def _rung(step: float, s0: float) -> int:
    return int(math.floor(math.log(max(step, s0) / s0, LADDER) + 1e-9))


def _thin(curve: List[Tuple[float, float]], s0: float) -> List[Tuple[float, float]]:
    """The first point of each rung of the ladder, and the last point."""
    out, seen = [], set()
    for s, v in curve:
        k = _rung(s, s0)
        if k not in seen and math.isfinite(v):
            seen.add(k)
            out.append((s, v))
    if curve and math.isfinite(curve[-1][1]) and (not out or out[-1][0] != curve[-1][0]):
        out.append(tuple(curve[-1]))
    return out


class ModelPruner(Pruner):
    """Stop an evaluation a learning-curve model says cannot beat the best one.

    Parameters
    ----------
    kappa : float, default 2.5
        Stop when the predicted final value less ``kappa`` standard deviations is
        worse than the best completed final value (larger: stops less).
    startup : int, default 3
        Completed evaluations needed before anything is stopped.
    """

    kind = "model"

    def __init__(self, sign: float = 1.0, kappa: float = KAPPA, startup: int = STARTUP):
        super().__init__(sign)
        self.kappa, self.startup = float(kappa), int(startup)
        self.space = None          # set by the optimizer: turns parameters into points
        self.curves: List[tuple] = []   # (u, thinned signed curve, completed)
        self.finals: List[tuple] = []   # (u, final) of evaluations that reported no curve
        self.completed = 0
        self.best = math.inf            # best final value of a completed curve, minimised
        self.s0: Optional[float] = None  # the smallest first step
        self.theta: Optional[np.ndarray] = None
        self._fit_key = None
        self._model = None              # (X, y, theta, scale) as last fitted

    def tell(self, curve, pruned, u=None, final=None):
        if u is not None and not curve and final is not None and math.isfinite(final) \
                and not pruned:
            self.finals.append((np.asarray(u, dtype=float), float(final)))
            self.best = min(self.best, float(final))
            self.completed += 1
            self.version += 1
        super().tell(curve, pruned, u, final)
        if u is not None and curve:
            signed = [(float(s), self.sign * float(v)) for s, v in curve]
            first = signed[0][0]
            if first > 0:
                self.s0 = first if self.s0 is None else min(self.s0, first)
            self.curves.append((np.asarray(u, dtype=float), signed, not pruned))
            if not pruned and math.isfinite(signed[-1][1]):
                self.completed += 1
                self.best = min(self.best, signed[-1][1])

    def _add(self, curve, pruned):
        pass   # the model is fitted lazily, from self.curves

    # -- the model -----------------------------------------------------------
    def _z(self, step: np.ndarray | float) -> np.ndarray | float:
        s0, last = self.s0 or 1.0, self.last_step or 1.0
        if last <= s0:
            return np.ones_like(step) if isinstance(step, np.ndarray) else 1.0
        return np.log(np.maximum(step, s0) / s0) / math.log(last / s0)

    def _rows(self) -> List[tuple]:
        """(u, step, value, completed) rows for the model: each curve at the rungs of
        the ladder and its last point; over the cap, completed curves' rows first,
        then the newest."""
        s0 = self.s0 or 1.0
        rows = []
        for u, curve, done in self.curves:
            rows += [(u, s, v, done) for s, v in _thin(curve, s0)]
        last = self.last_step or 1.0
        rows += [(u, last, f, True) for u, f in self.finals]
        if len(rows) > MAX_POINTS:
            done_rows = [r for r in rows if r[3]][-MAX_POINTS:]
            room = MAX_POINTS - len(done_rows)
            rows = done_rows + ([r for r in rows if not r[3]][-room:] if room else [])
        return rows

    def model(self):
        """(X, y, theta, scale): the fitted model, or None before any data."""
        key = (len(self.curves), len(self.finals), self.last_step)
        if key == self._fit_key:
            return self._model
        with one_blas_thread():   # as in every ask and tell: small matrices
            return self._refit(key)

    def _refit(self, key):
        rows = self._rows()
        if len(rows) < 2 or self.last_step is None and not self.finals:
            return None
        X = np.array([np.r_[u, self._z(s)] for u, s, _v, _d in rows])
        v = np.array([r[2] for r in rows])
        scale = Warp(v)
        y = scale(v)
        n_told = len(self.curves) + len(self.finals)
        if self.theta is None or n_told < 30 or n_told % 5 == 0:
            k = -(-len(X) // FIT_POINTS)
            self.theta = self._fit_theta(X[::k], y[::k])
        self._fit_key, self._model = key, (X, y, self.theta, scale)
        return self._model

    def _fit_theta(self, X, y):
        d = X.shape[1]
        bounds = [(math.log(0.03), math.log(20.0))] * d + [(math.log(0.05), math.log(20.0)),
                                                            (math.log(1e-6), math.log(0.5))]
        starts = [np.r_[np.log(np.full(d, 0.5)), 0.0, math.log(1e-3)]]
        if self.theta is not None:
            starts.insert(0, self.theta)
        return fit_theta(X, y, starts, bounds, maxiter=50)

    def predict(self, U: np.ndarray, pending: Optional[np.ndarray] = None,
                failed: Optional[np.ndarray] = None):
        """Mean and deviation (model units) of the final value at points ``U``, with
        ``pending`` points believed at their own mean and ``failed`` ones (no value)
        at the worst value seen; None before any data."""
        m = self.model()
        if m is None:
            return None
        X, y, theta, _ = m
        if failed is not None and len(failed):
            X = np.vstack([X, np.hstack([failed, np.ones((len(failed), 1))])])
            y = np.concatenate([y, np.full(len(failed), y.max())])
        gp = GP(X, y, theta)
        if pending is not None and len(pending):
            P = np.hstack([pending, np.ones((len(pending), 1))])
            mu_p, _ = gp.predict(P)
            gp = GP(np.vstack([X, P]), np.concatenate([y, mu_p]), theta)
        return gp.predict(np.hstack([U, np.ones((len(U), 1))]))

    def best_z(self) -> Optional[float]:
        m = self.model()
        if m is None or not math.isfinite(self.best):
            return None
        return float(m[3](np.array([self.best]))[0])

    def estimate_final(self, curve, u=None):
        if u is None or not curve:
            return super().estimate_final(curve)
        m = self.model()
        if m is None or self.last_step is None:
            return super().estimate_final(curve)
        settings, rows = self._settings(), self._table_rows(m)
        mu, _ = _predict(settings, rows, curve, np.asarray(u, dtype=float))
        return m[3].back(mu)

    # -- the table workers judge with -----------------------------------------
    def _settings(self):
        return {**super()._settings(), "kappa": self.kappa, "space": self.space,
                "s0": self.s0 or 1.0}

    def _table_rows(self, m) -> tuple:
        X, y, theta, scale = m
        return (X, y, theta, scale.state(), self.best)

    def table(self):
        if self._table_version != self.version:
            m = self.model() if self.completed >= self.startup else None
            rows = self._table_rows(m) if m is not None and self.last_step else ()
            self._table = (self.kind, self._settings(), rows)
            self._table_version = self.version
        return self._table


def _predict(settings: dict, rows: tuple, curve, u: np.ndarray):
    """Mean and deviation (model units) of the final value at ``u`` given the model's
    rows and the evaluation's own ``curve`` so far (raw values, the user's sign)."""
    X, y, theta, scale_state, _best = rows
    scale = Warp.from_state(scale_state)
    sign, s0, last = settings["sign"], settings["s0"], settings["last_step"]
    own = _thin([(float(s), sign * float(v)) for s, v in curve], s0)
    span = math.log(last / s0) if last > s0 else 1.0
    if own:   # none when every value it reported was nan or infinite
        Xo = np.array([np.r_[u, math.log(max(s, s0) / s0) / span] for s, _ in own])
        X = np.vstack([X, Xo])
        y = np.concatenate([y, scale(np.array([v for _, v in own]))])
    gp = GP(X, y, theta)
    mu, sd = gp.predict(np.r_[u, 1.0][None, :])
    return float(mu[0]), float(sd[0])


def judge_model(settings: dict, rows: tuple, curve, point: Any) -> bool:
    if not rows or point is None:
        return False
    step = float(curve[-1][0])
    s0 = settings["s0"]
    prev = float(curve[-2][0]) if len(curve) > 1 else None
    if prev is not None and _rung(step, s0) == _rung(prev, s0):
        return False      # judged once per rung of the ladder
    space = settings.get("space")
    if isinstance(point, dict):
        if space is None:
            return False
        u = np.asarray(space.to_unit(point), dtype=float)
    else:
        u = np.asarray(point, dtype=float)
    with one_blas_thread():   # inside the user's objective: small matrices
        mu, sd = _predict(settings, rows, curve, u)
    best = Warp.from_state(rows[3])(np.array([rows[4]]))[0]
    return mu - settings["kappa"] * sd > best


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
