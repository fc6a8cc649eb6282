"""Stopping hopeless evaluations early: the median rule, asynchronous successive
halving (ASHA) and a learning-curve model (``"model"``), off by default.

An evaluation reports progress values (``parc_mpi.report(step, value)`` inside an
objective, or ``Trial.report`` in ask/tell use); the pruner answers whether it should
stop. The answer must be cheap and must not wait on the main node, so a pruner
sums up what finished evaluations reported as a small table (:meth:`Pruner.table`:
one threshold per step or rung), which travels with each task to the worker;
:func:`judge` decides from that table and the evaluation's own curve alone.

* ``"median"`` (Optuna's MedianPruner): stop when the best value so far is worse
  than the median of completed evaluations at the same step (the last step at or
  before it that they reported), once ``startup`` evaluations have completed and
  after ``warmup`` steps.
* ``"asha"`` (Li et al. 2020, arXiv:1810.05934; Optuna's SuccessiveHalvingPruner):
  rungs at steps ``min_step * eta**k``; at each rung an evaluation continues only
  when its value there is among the best ``1/eta`` of every value recorded at that
  rung (its own included).
* ``"model"`` (:class:`ModelPruner`): a GP over (settings, step) fitted on every curve so far
  predicts the evaluation's final value; it stops when even an optimistic
  prediction loses to the best completed one. The only one of the three that keeps
  a slow starter whose curve crosses the others.

None judges a report at or past the furthest step a completed evaluation reached:
an evaluation that got there has done all its work, and stopping it would only
throw its result away.

Values are compared minimised: a ``"max"`` goal's sign is flipped here.
"""
from __future__ import annotations

import bisect
import math
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from .model import GP, Warp, fit_theta
from .threads import one_blas_thread

Curve = Sequence[Tuple[float, float]]


class Pruner:
    kind = "none"

    def __init__(self, sign: float = 1.0):
        self.sign = sign
        self.version = 0
        self.drops: Dict[float, List[float]] = {}  # step -> value there minus the final
        #                                            value, over completed evaluations
        self.last_step: Optional[float] = None   # the furthest step a completed one reached
        self._table: Optional[tuple] = None
        self._table_version = -1

    def tell(self, curve: Curve, pruned: bool, u: Any = None,
             final: Optional[float] = None) -> None:
        """A finished evaluation's curve (pruned or completed); ``u`` its point in the
        unit cube and ``final`` its told value, minimised (for a model of the curves;
        the median rule and ASHA need neither)."""
        if curve:
            signed = [(float(s), self.sign * float(v)) for s, v in curve]
            self._add(signed, pruned)
            if not pruned:
                self.last_step = max(self.last_step or -math.inf, signed[-1][0])
            if not pruned and math.isfinite(signed[-1][1]):
                final = signed[-1][1]
                for s, v in signed:
                    if math.isfinite(v):
                        self.drops.setdefault(s, []).append(v - final)
            self.version += 1

    def estimate_final(self, curve: Curve, u: Any = None) -> Optional[float]:
        """What a pruned evaluation would likely have ended at, minimised: its last
        value less the median further improvement completed evaluations made from
        that step to their end (None without such evaluations). A pruned point is then
        worse than typical, not as bad as its early value says: a slow starter is not
        written off for good."""
        if not curve:
            return None
        step, value = float(curve[-1][0]), self.sign * float(curve[-1][1])
        steps = sorted(s for s in self.drops if s <= step)
        if not steps or not math.isfinite(value):
            return None
        drops = sorted(self.drops[steps[-1]])
        n = len(drops)
        med = drops[n // 2] if n % 2 else 0.5 * (drops[n // 2 - 1] + drops[n // 2])
        return value - med

    def table(self) -> tuple:
        """The picklable summary a worker judges with: ``(kind, settings, rows)``."""
        if self._table_version != self.version:
            self._table = (self.kind, self._settings(), self._rows())
            self._table_version = self.version
        return self._table

    def judge(self, curve: Curve, point: Any = None) -> bool:
        """In-process: should the evaluation with this curve (at ``point``: its
        parameters or unit-cube coordinates) stop now?"""
        return judge(self.table(), curve, point)

    # -- for subclasses
    def _add(self, curve: List[Tuple[float, float]], pruned: bool) -> None:
        raise NotImplementedError

    def _settings(self) -> Dict[str, Any]:
        return {"sign": self.sign,
                "last_step": math.inf if self.last_step is None else self.last_step}

    def _rows(self) -> List[Tuple[float, float]]:
        raise NotImplementedError


class MedianPruner(Pruner):
    """Stop an evaluation worse than the median of completed ones at the same step.

    Parameters
    ----------
    startup : int, default 5
        Completed evaluations needed before anything is stopped.
    warmup : int, default 0
        Steps below this are never judged.
    """

    kind = "median"

    def __init__(self, sign: float = 1.0, startup: int = 5, warmup: float = 0):
        super().__init__(sign)
        self.startup, self.warmup = int(startup), float(warmup)
        self.by_step: Dict[float, List[float]] = {}
        self.completed = 0

    def _add(self, curve, pruned):
        if pruned:      # the median is over completed evaluations, as Optuna's
            return
        self.completed += 1
        last: Dict[float, float] = {}
        for s, v in curve:
            if math.isfinite(v):
                last[s] = v
        for s, v in last.items():
            self.by_step.setdefault(s, []).append(v)

    def _settings(self):
        return {**super()._settings(), "warmup": self.warmup}

    def _rows(self):
        if self.completed < self.startup:
            return []
        out = []
        for s in sorted(self.by_step):
            vals = sorted(self.by_step[s])
            n = len(vals)
            med = vals[n // 2] if n % 2 else 0.5 * (vals[n // 2 - 1] + vals[n // 2])
            out.append((s, med))
        return out


class ASHA(Pruner):
    """Asynchronous successive halving.

    Parameters
    ----------
    min_step : float, default 1
        The first rung.
    eta : int, default 3
        Reduction factor: a third go on at each rung.
    """

    kind = "asha"

    def __init__(self, sign: float = 1.0, min_step: float = 1, eta: int = 3):
        super().__init__(sign)
        if eta < 2:
            raise ValueError(f"pruner 'asha': eta must be at least 2, got {eta}")
        if min_step <= 0:
            raise ValueError(f"pruner 'asha': min_step must be positive, got {min_step}")
        self.min_step, self.eta = float(min_step), int(eta)
        self.rungs: Dict[int, List[float]] = {}

    def _add(self, curve, pruned):
        for k, v in rung_values(curve, self.min_step, self.eta).items():
            bisect.insort(self.rungs.setdefault(k, []), v)

    def _settings(self):
        return {**super()._settings(), "min_step": self.min_step, "eta": self.eta}

    def _rows(self):
        # with n values at a rung, a newcomer continues when it would rank within the
        # best (n + 1) // eta (at least the best one): at or below the value at that index
        out = []
        for k in sorted(self.rungs):
            vals = self.rungs[k]
            i = max((len(vals) + 1) // self.eta - 1, 0)
            out.append((k, vals[i] if i < len(vals) else math.inf))
        return out


def rung_values(curve: Curve, min_step: float, eta: int) -> Dict[int, float]:
    """Rung index -> the value first reported at or past that rung's step."""
    out: Dict[int, float] = {}
    for s, v in curve:
        if s < min_step or not math.isfinite(v):
            continue
        k = int(math.floor(math.log(s / min_step, eta) + 1e-9))
        for r in range(k + 1):
            out.setdefault(r, v)
    return out


def judge(table: Optional[tuple], curve: Curve, point: Any = None) -> bool:
    """Should an evaluation that reported ``curve`` (raw values, the user's sign)
    stop, given a pruner's ``table``? No table: never. ``point`` (the evaluation's
    parameters, or its unit-cube coordinates) is what the ``"model"`` pruner
    predicts from; without it that pruner never stops anything."""
    if not table or not curve:
        return False
    kind, settings, rows = table
    if not rows:
        return False
    sign = settings.get("sign", 1.0)
    step, value = curve[-1]
    value = sign * value
    if not math.isfinite(value):
        return True      # a diverged evaluation: nothing to wait for
    if step >= settings.get("last_step", math.inf):
        return False     # as far as completed evaluations went: it has completed too
    if kind == "median":
        if step < settings.get("warmup", 0):
            return False
        best = min(sign * v for _, v in curve if math.isfinite(v))
        steps = [s for s, _ in rows]
        i = bisect.bisect_right(steps, step) - 1
        return i >= 0 and best > rows[i][1]
    if kind == "asha":
        # judged once per rung, when the evaluation first reaches it: once promoted,
        # it stays promoted whatever comes to that rung later
        signed = [(s, sign * v) for s, v in curve]
        args = (settings["min_step"], settings["eta"])
        mine = rung_values(signed, *args)
        before = rung_values(signed[:-1], *args)
        limits = dict(rows)
        return any(v > limits.get(k, math.inf) for k, v in mine.items() if k not in before)
    if kind == "model":
        return judge_model(settings, rows, curve, point)
    raise ValueError(f"unknown pruner table {kind!r}")


# -- the learning-curve model ("model") ----------------------------------------
# A model of learning curves: the ``"model"`` pruner, and the search ``auto`` runs
# with it.
#
# One Gaussian process (Matérn-5/2, ARD) over (the point in the unit cube, the step on
# a log scale from the first step to the last one completed evaluations reached),
# fitted on every curve told so far: completed ones, and pruned ones up to where they
# stopped. Curves that cross (a slow starter ending best) are what it is for: the
# median rule and ASHA compare evaluations at the same step, so they stop the slow
# starters; the model has seen how curves from nearby settings went on, and predicts
# the final value of a running evaluation from its settings and its curve so far.
#
# * The pruner stops an evaluation when the predicted final value, less ``kappa``
#   standard deviations, is still worse than the best completed evaluation's final
#   value: only when the model is fairly sure it cannot win. It judges at steps
#   spaced by a factor of 1.5 (1, 2, 3, 4, 6, 8, 12, 18, 26 for epochs), so a curve
#   reported every iteration costs a few predictions, each a few milliseconds on the
#   worker (the model's data travel with each task: at most ``MAX_POINTS`` rows).
# * With ``pruner="model"``, ``auto``'s model phase is :class:`CurveBO`: expected
#   improvement on the same model's prediction at the last step, so cut-short
#   evaluations inform the search directly (a freeze-thaw / BOHB idea: Swersky et al.
#   2014, arXiv:1406.3896; Falkner et al. 2018, arXiv:1807.01774).
#
# Values are modelled minimised, robustly rescaled and squashed (gp.py's ``Warp``):
# one diverged curve cannot swamp the model.

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



PRUNERS = {"median": MedianPruner, "asha": ASHA, "model": ModelPruner}


def make_pruner(spec: Any, goal) -> Optional[Pruner]:
    """``None``/``"none"``, ``"median"``, ``"asha"``, ``"model"``, or a Pruner (its
    sign is set from the goal)."""
    if spec is None or spec == "none" or spec is False:
        return None
    if goal.multi:
        raise ValueError("pruner: early stopping judges one progress value, so it needs "
                         "one objective (the goal names several)")
    sign = float(goal.signs[0])
    if isinstance(spec, Pruner):
        spec.sign = sign
        return spec
    if isinstance(spec, str) and spec.lower() in PRUNERS:
        return PRUNERS[spec.lower()](sign)
    raise ValueError(f"pruner must be 'median', 'asha', 'model' or None, got {spec!r}")
