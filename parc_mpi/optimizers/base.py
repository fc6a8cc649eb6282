"""The ask/tell protocol every optimizer speaks (no MPI, no evaluator callback).

``ask(n)`` returns trials to evaluate, ``tell(trial, value)`` reports one result,
in any order and while other trials are still pending. Internally every optimizer
minimises; ``goal="max"`` flips the sign at this boundary only.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional

import numpy as np

from ..space import Space

GOALS = ("min", "max")


@dataclass
class Trial:
    """One point to evaluate.

    Attributes
    ----------
    id : int
        Sequence number of the ask, from 0.
    params : dict
        Named parameter values, as the objective receives them.
    u : numpy.ndarray
        The point in the unit cube.
    value : float or None
        The objective's value once told; None while pending; nan for a failure.
    """

    id: int
    params: Dict[str, Any]
    u: np.ndarray = field(repr=False)
    value: Optional[float] = None

    @property
    def pending(self) -> bool:
        return self.value is None


def check_goal(goal: str) -> str:
    if goal not in GOALS:
        raise ValueError(f"goal must be 'min' or 'max', got {goal!r}")
    return goal


def _is_number(value: Any) -> bool:
    if isinstance(value, (bool, str, bytes)):
        return False
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True


def as_objective_value(value: Any) -> float:
    """A told value as a float: non-numbers and non-finite values become nan."""
    if isinstance(value, bool) or value is None:
        return math.nan
    try:
        x = float(value)
    except (TypeError, ValueError):
        return math.nan
    return x if math.isfinite(x) else math.nan


class Optimizer:
    """Base class: bookkeeping of trials, goal handling and ``best``.

    Every optimizer takes the same constructor arguments (``space, goal, seed,
    budget, workers``; its own options after them, by keyword). Subclasses implement
    ``_propose(n) -> array (n, dim)`` of unit-cube points, or override ``ask`` and
    make each trial with ``_new_trial(params, u, handle)`` (a wrapped optimizer's
    own trial goes in ``handle`` and comes back through ``_handle(trial)``), and may
    override ``_observe(trial, y)`` where ``y`` is the value to minimise (``nan``
    for a failure). docs/architecture.md has a worked example.
    """

    name = "base"

    def __init__(self, space: Mapping | Space, goal: str = "min", seed: Optional[int] = None,
                 budget: Optional[int] = None, workers: int = 1):
        self.space = space if isinstance(space, Space) else Space(space)
        self.goal = check_goal(goal)
        self.seed = seed
        self.budget = budget      # evaluations planned, when known
        self.workers = workers    # evaluations that may run at once
        self._handles: Dict[int, Any] = {}
        self._queued: List[Dict[str, Any]] = []   # known points, asked before any other
        self.rng = np.random.default_rng(seed)
        self.trials: List[Trial] = []
        self.n_told = 0
        self._best: Optional[Trial] = None
        self._X: List[np.ndarray] = []   # told points (unit cube), in tell order
        self._Y: List[float] = []        # their values to minimise (nan: failed)

    # -- protocol ---------------------------------------------------------
    def ask(self, n: int = 1) -> List[Trial]:
        """Return ``n`` new trials to evaluate."""
        if int(n) < 1:
            raise ValueError(f"ask(n): n must be at least 1, got {n}")
        out = self._queued_trials(int(n))
        if len(out) < int(n):
            k = int(n) - len(out)
            points = np.clip(np.asarray(self._propose(k), dtype=float), 0.0, 1.0)
            out += [self._new_trial(self.space.from_unit(u), u)
                    for u in points.reshape(k, self.space.dim)]
        return out

    def enqueue(self, params: Dict[str, Any]) -> None:
        """Ask ``params`` next, before any point of the optimizer's own (a known good
        point, a warm start); it is told like any other trial."""
        self._queued.append(dict(params))

    def tell(self, trial: Trial | int, value: Any) -> None:
        """Report the objective's value for a trial (a failure: nan, inf or None)."""
        if not isinstance(trial, Trial):
            trial = self.trials[int(trial)]
        if trial.id >= len(self.trials) or self.trials[trial.id] is not trial:
            raise ValueError(f"tell: trial {trial.id} was not asked by this optimizer")
        if not trial.pending:
            raise ValueError(f"tell: trial {trial.id} was already told")
        if value is not None and not _is_number(value):
            raise TypeError(f"tell: trial {trial.id}: the value must be a number (nan, inf or "
                            f"None for a failure), got {type(value).__name__} "
                            f"{str(value)[:60]!r}")
        y = as_objective_value(value)
        trial.value = y
        self.n_told += 1
        if not math.isnan(y) and (self._best is None or self._sign(y) < self._sign(self._best.value)):
            self._best = trial
        self._X.append(trial.u)
        self._Y.append(self._sign(y))
        self._observe(trial, self._sign(y))

    @property
    def best(self) -> Optional[Trial]:
        """The best told trial with a finite value, or None."""
        return self._best

    @property
    def pending(self) -> List[Trial]:
        return [t for t in self.trials if t.pending]

    def observations(self) -> tuple:
        """(X, y): told points in the unit cube and values to minimise, failures
        replaced by the worst value seen (a failed point is a bad point)."""
        return self._as_arrays(self._X, self._Y)

    def _as_arrays(self, xs: List[np.ndarray], ys: List[float]) -> tuple:
        """Points and values as arrays, failures (nan) replaced by the worst value."""
        if not xs:
            return np.empty((0, self.space.dim)), np.empty(0)
        X = np.array(xs)
        y = np.array(ys, dtype=float)
        bad = np.isnan(y)
        if bad.any():
            y[bad] = np.nanmax(y) if (~bad).any() else 0.0
        return X, y

    def state(self) -> Dict[str, Any]:
        """A JSON-able summary: settings and every trial (enough to replay)."""
        return {"optimizer": self.name, "goal": self.goal, "seed": self.seed,
                "space": self.space.describe(),
                "trials": [{"id": t.id, "params": t.params, "value": t.value}
                           for t in self.trials]}

    # -- for subclasses ---------------------------------------------------
    def _new_trial(self, params: Dict[str, Any], u: np.ndarray, handle: Any = None) -> Trial:
        """Record and return the next trial; ``handle`` (a wrapped optimizer's own
        trial, say) is kept until the trial is told."""
        trial = Trial(id=len(self.trials), params=params, u=u)
        self.trials.append(trial)
        if handle is not None:
            self._handles[trial.id] = handle
        return trial

    def _queued_trials(self, n: int) -> List[Trial]:
        """Trials for up to ``n`` enqueued points (optimizers that override ``ask``
        call this first)."""
        out = []
        while self._queued and len(out) < n:
            params = self._queued.pop(0)
            out.append(self._new_trial(params, self.space.to_unit(params)))
        return out

    def _handle(self, trial: Trial) -> Any:
        """The handle given to ``_new_trial`` for this trial (once)."""
        return self._handles.pop(trial.id)

    def _sign(self, y: float) -> float:
        return -y if self.goal == "max" else y

    def _propose(self, n: int) -> np.ndarray:
        raise NotImplementedError

    def _observe(self, trial: Trial, y: float) -> None:
        """Hook: ``y`` is the value to minimise, nan for a failure."""
