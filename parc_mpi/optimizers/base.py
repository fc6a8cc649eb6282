"""The ask/tell protocol every optimizer speaks (no MPI, no evaluator callback).

``ask(n)`` returns trials to evaluate, ``tell(trial, value)`` reports one result,
in any order and while other trials are still pending. Internally every optimizer
minimises; ``goal="max"`` flips the sign at this boundary only.

Beyond one number (``objectives.py`` reads what an objective returns): a goal
naming several objectives (only optimizers with ``multi_objective = True`` take
one; they read ``self._F``), and constraints: a feasible point always ranks above
an infeasible one, infeasible ones rank by total violation. A single-objective
optimizer sees that ranking as one number (``_observe(trial, y)``): an infeasible
point's ``y`` is ``PENALTY * (1 + v / (1 + v))`` for violation ``v``, above any
feasible value below ``PENALTY`` (1e15) whatever comes later, and ordered by ``v``
to full double precision.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Tuple

import numpy as np

from ..space import Space
from .model import posterior_means
from .objectives import Goal, Told, non_dominated
from .threads import one_blas_thread

GOALS = ("min", "max")
PENALTY = 1e15   # an infeasible point's value starts here (see the module's docstring)


def penalised(f: float, violation: float) -> float:
    """The one number a single-objective method ranks a told point by."""
    if violation > 0:
        return PENALTY * (1.0 + violation / (1.0 + violation))
    return f


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
    value : float, dict or None
        The objective's value once told (a dict by name for several objectives);
        None while pending; nan for a failure.
    constraints : tuple
        The constraint values told (feasible when every one is <= 0).
    violation : float
        Sum of the positive constraint values (0: feasible; nan: failed).
    curve : list of (step, value)
        Progress values reported during the evaluation (:meth:`report`).
    pruned : bool
        The evaluation was stopped early by the pruner.
    """

    id: int
    params: Dict[str, Any]
    u: np.ndarray = field(repr=False)
    value: Any = None
    constraints: Tuple[float, ...] = field(default=(), repr=False)
    violation: float = 0.0
    curve: List[Tuple[float, float]] = field(default_factory=list, repr=False)
    pruned: bool = False
    f: Optional[Tuple[float, ...]] = field(default=None, repr=False)  # minimised objectives
    _pruner: Any = field(default=None, repr=False, compare=False)
    _stop: bool = field(default=False, repr=False, compare=False)

    @property
    def pending(self) -> bool:
        return self.value is None

    @property
    def feasible(self) -> bool:
        return self.f is not None and not math.isnan(self.f[0]) and self.violation == 0.0

    def report(self, step: float, value: float) -> bool:
        """Record a progress value at ``step``; True when the evaluation should stop
        (the optimizer's pruner judges it worse than its peers at that step)."""
        from ..progress import check_step
        check_step(self.curve, float(step))
        self.curve.append((float(step), float(value)))
        stop = bool(self._pruner is not None and self._pruner.judge(self.curve, self.u))
        self._stop = self._stop or stop
        return stop

    def should_stop(self) -> bool:
        return self._stop


def check_goal(goal):
    """The goal as given, once it is valid: ``"min"``, ``"max"`` or a dict naming
    each objective's sense."""
    return Goal(goal).describe()


def check_noise(noise: Any) -> Any:
    """``noise=`` as given once valid: None (exact values), True (noisy, level
    unknown) or a positive finite number (the noise's standard deviation)."""
    if noise is None or noise is False:
        return None
    if noise is True:
        return True
    if _is_number(noise) and math.isfinite(float(noise)) and float(noise) > 0:
        return float(noise)
    raise ValueError(f"noise must be True, False or the noise's standard deviation (a "
                     f"positive number), got {noise!r}")


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

    ``set_pruner("median" | "asha" | "model" | Pruner)`` makes :meth:`Trial.report`
    judge the progress values a trial reports (``make_optimizer(..., pruner=)`` does
    it).
    """

    name = "base"
    multi_objective = False   # takes a goal naming several objectives

    def __init__(self, space: Mapping | Space, goal: Any = "min", seed: Optional[int] = None,
                 budget: Optional[int] = None, workers: int = 1):
        self.space = space if isinstance(space, Space) else Space(space)
        self.objectives = Goal(goal)
        self.goal = self.objectives.describe()
        if self.objectives.multi and not self.multi_objective:
            raise ValueError(f"optimizer {self.name!r} handles one objective; for "
                             f"{len(self.objectives)} use one of {', '.join(MULTI_NAMES)}")
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
        self._Y: List[float] = []        # their values to minimise (nan: failed; ranked
        #                                  by feasibility first when there are constraints)
        self._F: List[Tuple[float, ...]] = []  # every objective, minimised (nan: failed)
        self._V: List[float] = []        # total constraint violation (0 feasible, nan failed)
        self._C: List[Tuple[float, ...]] = []  # the constraint values (empty: none)
        self.constrained = False         # some trial was told constraints
        self.pruner = None               # set_pruner()
        self._noise_fit = math.nan       # the noise sd the last estimate fitted
        self.noise: Any = None           # set_noise(): None (exact values), True, or an sd
        self._estimate: Optional[Dict[str, Any]] = None
        self._estimated_at = -1          # n_told of the cached estimate
        self.repeat_of: Dict[int, int] = {}   # repeat()'s trials -> the trial they repeat

    def set_pruner(self, spec: Any) -> None:
        """Stop hopeless evaluations early: ``"median"``, ``"asha"``, ``"model"``, a
        :class:`~parc_mpi.optimizers.pruners.Pruner`, or None (off)."""
        from .pruners import make_pruner
        self.pruner = make_pruner(spec, self.objectives)
        if self.pruner is not None and hasattr(self.pruner, "space"):
            self.pruner.space = self.space   # a model of the curves needs the points
        for t in self.trials:
            t._pruner = self.pruner

    def set_noise(self, noise: Any) -> None:
        """Treat the values as noisy: ``True`` (level unknown: the model fits it), a
        positive number (one evaluation's noise standard deviation, in the values'
        units), or None/False (exact values, the default). With noise, :attr:`best`
        is the evaluated point a GP with a noise term thinks best (the lowest
        posterior mean), not the single lowest value, which is the luckiest draw;
        :meth:`estimate` gives its mean and spread. Optimizers that model the values
        (``gp``, ``turbo``, ``auto``) also search for noisy values (see their docs)."""
        self.noise = check_noise(noise)
        self._estimated_at = -1

    # -- protocol ---------------------------------------------------------
    def ask(self, n: int = 1) -> List[Trial]:
        """Return ``n`` new trials to evaluate."""
        if int(n) < 1:
            raise ValueError(f"ask(n): n must be at least 1, got {n}")
        with one_blas_thread():
            return self._ask(int(n))

    def _ask(self, n: int) -> List[Trial]:
        out = self._queued_trials(n)
        if len(out) < n:
            k = n - len(out)
            points = np.clip(np.asarray(self._propose(k), dtype=float), 0.0, 1.0)
            out += [self._new_trial(self.space.from_unit(u), u)
                    for u in points.reshape(k, self.space.dim)]
        return out

    def enqueue(self, params: Dict[str, Any]) -> None:
        """Ask ``params`` next, before any point of the optimizer's own (a known good
        point, a warm start); it is told like any other trial."""
        self._queued.append(dict(params))

    def tell(self, trial: Trial | int, value: Any, *, pruned: Optional[bool] = None) -> None:
        """Report the objective's value for a trial (a failure: nan, inf or None).

        ``value`` is a number, a dict naming each objective of the goal (or a tuple in
        its order), either with ``"constraints": [c1, ...]`` (feasible when every
        ``c <= 0``; one objective then goes under ``"value"``). ``pruned``: the
        evaluation stopped early (default: whether a :meth:`Trial.report` said stop).
        """
        if not isinstance(trial, Trial):
            trial = self.trials[int(trial)]
        if trial.id >= len(self.trials) or self.trials[trial.id] is not trial:
            raise ValueError(f"tell: trial {trial.id} was not asked by this optimizer")
        if not trial.pending:
            raise ValueError(f"tell: trial {trial.id} was already told")
        if value is not None and not _is_number(value) and not isinstance(value, (Mapping,
                                                                                 tuple, list)):
            raise TypeError(f"tell: trial {trial.id}: the value must be a number (nan, inf or "
                            f"None for a failure), got {type(value).__name__} "
                            f"{str(value)[:60]!r}")
        told = self.objectives.read(value) if value is not None else None
        if told is not None and told.problem and isinstance(value, (Mapping, tuple, list)):
            raise ValueError(f"tell: trial {trial.id}: {told.problem}")
        with one_blas_thread():
            self._tell(trial, told, self._stop_flag(trial, pruned))

    @staticmethod
    def _stop_flag(trial: Trial, pruned: Optional[bool]) -> bool:
        return trial._stop if pruned is None else bool(pruned)

    def _tell(self, trial: Trial, told: Optional[Told], pruned: bool = False) -> None:
        k = len(self.objectives)
        if told is None or not told.ok:
            f, constraints, violation = (math.nan,) * k, (), math.nan
        else:
            f, constraints, violation = told.f, told.constraints, told.violation
        failed = math.isnan(f[0])
        trial.f, trial.constraints, trial.violation = f, constraints, violation
        trial.pruned = pruned
        if self.objectives.multi:
            trial.value = (math.nan if failed else self.objectives.values(f))
        else:
            trial.value = math.nan if failed else float(self.objectives.signs[0] * f[0])
        if constraints:
            self.constrained = True
        self.n_told += 1
        y = f[0] if failed else penalised(f[0], violation)
        if pruned and not failed and violation == 0 and self.pruner is not None:
            est = self.pruner.estimate_final(trial.curve, trial.u)
            if est is not None:   # the model learns a likely final value, not an early one
                y = est
        if not failed and not self.objectives.multi and violation == 0 and not pruned and (
                self._best is None or f[0] < self._best.f[0]):
            self._best = trial
        self._X.append(trial.u)
        self._Y.append(y)
        self._F.append(f)
        self._V.append(violation)
        self._C.append(constraints)
        if trial.id in self.repeat_of:
            return   # a repeat (repeat()) informs estimate(), not the search
        if self.pruner is not None and not failed:
            # the told value too (feasible only), for a model that learns from it
            self.pruner.tell(trial.curve, pruned, trial.u, y if violation == 0 else None)
        self._observe(trial, y)

    @property
    def best(self) -> Optional[Trial]:
        """The best told feasible trial with a finite value that was not pruned, or
        None (always None with several objectives: see :attr:`front`). With noisy
        values (:meth:`set_noise`), the one with the best model mean
        (:meth:`estimate`)."""
        if (self.noise or self.repeat_of) and self._best is not None:
            return self.estimate()["trial"]
        return self._best

    def _ranked(self) -> List[Tuple[Trial, List[Trial], float, float]]:
        """Distinct told points (feasible, finite, unpruned), best first: ``(trial,
        every trial told at that point, estimate, its sd)``, the estimate in minimised
        units. Exact values: the best value told there. Noisy: the posterior mean of a
        GP with a noise term fitted on every such value."""
        ok = [t for t in self.trials if t.f is not None and t.feasible and not t.pruned]
        if not ok:
            return []
        groups: Dict[bytes, List[Trial]] = {}
        for t in ok:
            groups.setdefault(np.asarray(t.u, dtype=float).tobytes(), []).append(t)
        if not self.noise:
            rows = [(min(g, key=lambda t: t.f[0]), g) for g in groups.values()]
            out = [(t, g, float(t.f[0]), 0.0) for t, g in rows]
        else:
            X = np.array([t.u for t in ok], dtype=float)
            y = np.array([t.f[0] for t in ok], dtype=float)
            sd = None if self.noise is True else float(self.noise)
            with one_blas_thread():
                mean, spread, self._noise_fit = posterior_means(X, y, sd)
            at = {t.id: i for i, t in enumerate(ok)}
            out = [(g[0], g, float(mean[at[g[0].id]]), float(spread[at[g[0].id]]))
                   for g in groups.values()]
        out.sort(key=lambda r: (r[2], r[0].id))
        return out

    def candidates(self, top: int) -> List[Trial]:
        """The ``top`` best distinct told points, best first (by :meth:`estimate`'s
        rule): what :meth:`repeat` evaluates again."""
        return [r[0] for r in self._ranked()[:max(0, int(top))]]

    def repeat(self, times: int, top: int = 3) -> List[Trial]:
        """Evaluate the ``top`` best points ``times`` more times each (noisy values:
        the best point is then chosen by the mean of its evaluations, and reported
        with their spread). Returns the new trials, asked and pending; tell them as
        any other. They inform :meth:`estimate`, not the search."""
        out = []
        for t in self.candidates(top):
            for _ in range(int(times)):
                nt = self._new_trial(dict(t.params), np.array(t.u, dtype=float))
                self.repeat_of[nt.id] = self.repeat_of.get(t.id, t.id)
                out.append(nt)
        return out

    def estimate(self) -> Optional[Dict[str, Any]]:
        """The best point and what is known of its value: ``{"trial", "value"
        (the estimate, in the goal's sense), "sd" (the estimate's standard deviation),
        "noise_sd" (one evaluation's noise), "sample" (the value first told there),
        "n" (evaluations there), "method"}``.

        - Exact values (no :meth:`set_noise`): the best value told; sd 0.
        - Noisy: the told point with the lowest posterior mean of a GP with a noise
          term (``method`` "model mean"), refitted after each tell, on demand.
        - After :meth:`repeat`: of the repeated points, the one whose evaluations
          have the lowest mean (``method`` "mean of n evaluations"); sd is that
          mean's standard error, noise_sd the evaluations' standard deviation.

        None before any feasible value (and always with several objectives)."""
        if self._best is None or self.objectives.multi:
            return None
        if self._estimated_at == self.n_told:
            return self._estimate
        sign = float(self.objectives.signs[0])
        ranked = self._ranked() if self.noise or self.repeat_of else []
        repeated = [r for r in ranked if any(t.id in self.repeat_of for t in r[1])
                    and not any(t.pending for t in r[1])]
        if repeated:
            def mean(r):
                return float(np.mean([t.f[0] for t in r[1]]))
            t, group, _, _ = min(repeated, key=mean)
            v = np.array([u.f[0] for u in group], dtype=float)
            sd = float(v.std(ddof=1)) if len(v) > 1 else math.nan
            out = {"trial": t, "value": sign * float(v.mean()), "sd": sd / math.sqrt(len(v)),
                   "noise_sd": sd, "n": len(v), "method": f"mean of {len(v)} evaluations"}
        elif self.noise and ranked:
            t, group, m, s = ranked[0]
            out = {"trial": t, "value": sign * m, "sd": s, "noise_sd": (
                self._noise_fit if self.noise is True else float(self.noise)),
                "n": len(group), "method": "model mean"}
        else:
            t = self._best
            out = {"trial": t, "value": t.value, "sd": 0.0, "noise_sd": None, "n": 1,
                   "method": "best value"}
        out["sample"] = out["trial"].value
        self._estimate, self._estimated_at = out, self.n_told
        return out

    @property
    def front(self) -> List[Trial]:
        """The feasible, unpruned told trials no other such trial dominates (one
        objective: the best, and any trial tying it)."""
        ok = [t for t in self.trials if t.f is not None and t.feasible and not t.pruned]
        if not ok:
            return []
        mask = non_dominated(np.array([t.f for t in ok]))
        return [t for t, m in zip(ok, mask) if m]

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
        trial = Trial(id=len(self.trials), params=params, u=u, _pruner=self.pruner)
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

    def _propose(self, n: int) -> np.ndarray:
        raise NotImplementedError

    def _observe(self, trial: Trial, y: float) -> None:
        """Hook: ``y`` is the value to minimise, nan for a failure."""


MULTI_NAMES = ("auto", "parego", "nsga2", "random", "sobol", "lhs")


def minimised(trial: Trial, names: Tuple[str, ...], y: Optional[float] = None) -> Any:
    """A told trial's result as a child optimizer whose goal minimises every one of
    ``names`` takes it: the minimised objective(s), with the constraints if any. A
    pruned trial of one objective passes on ``y``, the parent's estimate."""
    f = trial.f
    if f is None or math.isnan(f[0]):
        return math.nan
    if trial.pruned and len(f) == 1 and y is not None and not math.isnan(y):
        f = (y,)
    if not trial.constraints:
        return f[0] if len(f) == 1 else tuple(f)
    out: Dict[str, Any] = {"value": f[0]} if len(f) == 1 else dict(zip(names, f))
    out["constraints"] = list(trial.constraints)
    return out
