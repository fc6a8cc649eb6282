"""Stopping hopeless evaluations early: the median rule, asynchronous successive
halving (ASHA) and a learning-curve model (``"model"``, in curves.py), off by default.

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
* ``"model"`` (curves.py): a GP over (settings, step) fitted on every curve so far
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
        from .curves import judge_model
        return judge_model(settings, rows, curve, point)
    raise ValueError(f"unknown pruner table {kind!r}")


def _model_pruner(sign: float = 1.0) -> Pruner:
    from .curves import ModelPruner
    return ModelPruner(sign)


PRUNERS = {"median": MedianPruner, "asha": ASHA, "model": _model_pruner}


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
