"""What an objective returns, read the same way everywhere: one number, several
named numbers, and constraints; plus the Pareto tools (dominance, non-dominated
sorting, crowding, hypervolume). Plain numpy, no MPI.

An objective returns

* a number, for one objective (``goal="min"`` or ``"max"``);
* a dict with one entry per objective named in the goal
  (``goal={"error": "min", "seconds": "min"}``), or a tuple in the goal's order;
* either of those with constraints: a dict with the key ``"constraints"`` (a list
  of numbers, feasible when every one is <= 0) beside ``"value"`` (one objective)
  or beside the named objectives.

Internally every objective is minimised: a ``"max"`` objective's sign flips here.
"""
from __future__ import annotations

import math
from typing import Any, Dict, List, Mapping, NamedTuple, Optional, Sequence, Tuple, Union

import numpy as np

GOALS = ("min", "max")
CONSTRAINTS = "constraints"
VALUE = "value"


class Told(NamedTuple):
    """One told result, read through the goal.

    ``f``: the objectives to minimise (a tuple, nan for a failure);
    ``constraints``: the constraint values as returned (empty without);
    ``violation``: the sum of the positive constraint values (0 when feasible,
    nan for a failure); ``problem``: why the result is unusable, or None.
    """

    f: Tuple[float, ...]
    constraints: Tuple[float, ...]
    violation: float
    problem: Optional[str]

    @property
    def ok(self) -> bool:
        return self.problem is None

    @property
    def feasible(self) -> bool:
        return self.problem is None and self.violation == 0.0


def _number(value: Any) -> Optional[float]:
    """A finite float, or None (bools, strings, nan and inf are not numbers here)."""
    if isinstance(value, (bool, str, bytes)) or value is None:
        return None
    try:
        x = float(value)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


class Goal:
    """The goal of an optimization: one objective (``"min"``/``"max"``) or several
    named ones (``{"error": "min", "seconds": "min"}``).

    Attributes
    ----------
    names : tuple of str
        The objectives' names (``("value",)`` for one objective).
    senses : tuple of str
        ``"min"`` or ``"max"`` for each.
    multi : bool
        More than one objective.
    """

    def __init__(self, goal: Union[str, Mapping[str, str], "Goal"]):
        if isinstance(goal, Goal):
            self.names, self.senses, self.spec = goal.names, goal.senses, goal.spec
        elif isinstance(goal, str):
            if goal not in GOALS:
                raise ValueError(f"goal must be 'min' or 'max' (or a dict of them, one per "
                                 f"objective), got {goal!r}")
            self.names, self.senses, self.spec = (VALUE,), (goal,), goal
        elif isinstance(goal, Mapping):
            if len(goal) < 2:
                raise ValueError("goal: a dict names two objectives or more (one objective: "
                                 "goal='min' or 'max')")
            for name, sense in goal.items():
                if not isinstance(name, str) or not name or name == CONSTRAINTS:
                    raise ValueError(f"goal: objective names must be non-empty strings other "
                                     f"than 'constraints', got {name!r}")
                if sense not in GOALS:
                    raise ValueError(f"goal[{name!r}] must be 'min' or 'max', got {sense!r}")
            self.names = tuple(goal)
            self.senses = tuple(goal[n] for n in self.names)
            self.spec = dict(goal)
        else:
            raise ValueError(f"goal must be 'min', 'max' or a dict of them, got "
                             f"{type(goal).__name__}")
        self.signs = np.array([-1.0 if s == "max" else 1.0 for s in self.senses])

    @property
    def multi(self) -> bool:
        return len(self.names) > 1

    def __len__(self) -> int:
        return len(self.names)

    def describe(self) -> Union[str, Dict[str, str]]:
        return self.spec if not self.multi else dict(self.spec)

    def read(self, result: Any) -> Told:
        """Read an objective's return value (see the module's docstring)."""
        k = len(self.names)
        fail = (math.nan,) * k
        constraints: Tuple[float, ...] = ()
        if isinstance(result, Mapping):
            if CONSTRAINTS in result:
                raw = result[CONSTRAINTS]
                if _number(raw) is not None:
                    raw = [raw]
                if isinstance(raw, (str, bytes, Mapping)) or not hasattr(raw, "__iter__"):
                    return Told(fail, (), math.nan, f"objective returned constraints="
                                f"{_short(raw)}, expected a list of numbers")
                vals = [_number(c) for c in raw]
                if any(v is None for v in vals):
                    return Told(fail, (), math.nan, f"objective returned constraints="
                                f"{_short(raw)}, expected finite numbers")
                constraints = tuple(vals)  # type: ignore[arg-type]
            if not self.multi:
                if VALUE not in result:
                    return Told(fail, constraints, math.nan,
                                f"objective returned a dict without 'value' (keys: "
                                f"{', '.join(map(str, result))}); one objective is returned "
                                f"as a number or as {{'value': ..., 'constraints': [...]}}")
                values = [result[VALUE]]
            else:
                missing = [n for n in self.names if n not in result]
                if missing:
                    return Told(fail, constraints, math.nan,
                                f"objective returned no {', '.join(map(repr, missing))} "
                                f"(the goal names {', '.join(self.names)})")
                values = [result[n] for n in self.names]
        elif self.multi and isinstance(result, (tuple, list)):
            if len(result) != k:
                return Told(fail, (), math.nan, f"objective returned {len(result)} values, "
                            f"the goal names {k} ({', '.join(self.names)})")
            values = list(result)
        elif self.multi:
            return Told(fail, (), math.nan, f"objective returned {type(result).__name__}, "
                        f"expected a dict with {', '.join(map(repr, self.names))}")
        else:
            values = [result]
        f = []
        for name, v in zip(self.names, values):
            x = _number(v)
            if x is None:
                what = (f"objective returned {type(v).__name__}, expected a number"
                        if _number_like(v) is None else
                        f"objective returned {_short(v)}, expected a finite number")
                if self.multi:
                    what = what.replace("objective returned", f"objective {name!r} was", 1)
                return Told(fail, constraints, math.nan, what)
            f.append(x)
        violation = float(sum(c for c in constraints if c > 0))
        return Told(tuple(np.multiply(f, self.signs).tolist()), constraints, violation, None)

    def values(self, f: Sequence[float]) -> Dict[str, float]:
        """Objective values as the user reads them (signs restored), by name."""
        return {n: float(s * v) for n, s, v in zip(self.names, self.signs, f)}


def _number_like(value: Any) -> Optional[float]:
    if isinstance(value, (bool, str, bytes)) or value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


# -- Pareto tools (everything minimised) ---------------------------------------

def non_dominated(F: np.ndarray) -> np.ndarray:
    """Mask of the rows of ``F`` (n, k) that no other row dominates (duplicates
    are all kept)."""
    F = np.asarray(F, dtype=float)
    n = len(F)
    if n == 0:
        return np.zeros(0, dtype=bool)
    keep = np.ones(n, dtype=bool)
    order = np.lexsort(F.T[::-1])   # by the first objective: a dominator comes first
    front: List[int] = []
    for i in order:
        fi = F[i]
        if front:
            P = F[front]
            if np.any(np.all(P <= fi, axis=1) & np.any(P < fi, axis=1)):
                keep[i] = False
                continue
        front.append(i)
    return keep


def pareto_ranks(F: np.ndarray) -> np.ndarray:
    """Non-dominated sorting (NSGA-II): 0 for the first front, 1 for the next, ..."""
    F = np.asarray(F, dtype=float)
    n = len(F)
    ranks = np.full(n, -1, dtype=int)
    left = np.arange(n)
    r = 0
    while len(left):
        mask = non_dominated(F[left])
        ranks[left[mask]] = r
        left = left[~mask]
        r += 1
    return ranks


def crowding(F: np.ndarray) -> np.ndarray:
    """NSGA-II's crowding distance of each row within its front (ends: inf)."""
    F = np.asarray(F, dtype=float)
    n, k = F.shape
    d = np.zeros(n)
    if n <= 2:
        return np.full(n, np.inf)
    for j in range(k):
        order = np.argsort(F[:, j], kind="stable")
        span = F[order[-1], j] - F[order[0], j]
        d[order[0]] = d[order[-1]] = np.inf
        if span > 0:
            d[order[1:-1]] += (F[order[2:], j] - F[order[:-2], j]) / span
    return d


def reference_point(F: np.ndarray, margin: float = 0.1) -> np.ndarray:
    """A reference point derived from the points seen: the worst value of each
    objective plus ``margin`` of its range (1 where the range is 0)."""
    F = np.asarray(F, dtype=float)
    worst, best = F.max(axis=0), F.min(axis=0)
    span = worst - best
    return worst + margin * np.where(span > 0, span, np.maximum(np.abs(worst), 1.0))


EXACT_WORK = 1e5   # above this many slices of slices, estimate by sampling


def hypervolume(F: np.ndarray, ref: Sequence[float], samples: int = 200_000,
                seed: int = 0) -> Tuple[float, bool]:
    """The hypervolume dominated by the rows of ``F`` (minimised) and bounded by
    ``ref``; returns ``(volume, exact)``. Exact for two objectives (a sweep) and,
    while the work stays small, for more (slicing along the last objective);
    otherwise a Monte Carlo estimate from ``samples`` points (``exact`` False)."""
    F = np.asarray(F, dtype=float)
    ref = np.asarray(ref, dtype=float)
    if len(F) == 0:
        return 0.0, True
    F = F[np.all(F < ref, axis=1)]
    if len(F) == 0:
        return 0.0, True
    F = np.unique(F[non_dominated(F)], axis=0)
    n, k = F.shape
    if k == 1:
        return float(ref[0] - F[:, 0].min()), True
    if k == 2 or float(n) ** (k - 1) <= EXACT_WORK:
        return _hv_exact(F, ref), True
    rng = np.random.default_rng(seed)
    lo = F.min(axis=0)
    box = float(np.prod(ref - lo))
    hit = 0
    for start in range(0, samples, 20_000):
        m = min(20_000, samples - start)
        Z = lo + rng.random((m, k)) * (ref - lo)
        dominated = np.zeros(m, dtype=bool)
        for p in F:
            dominated |= np.all(Z >= p, axis=1)
        hit += int(dominated.sum())
    return box * hit / samples, False


def _hv_exact(F: np.ndarray, ref: np.ndarray) -> float:
    k = F.shape[1]
    if k == 2:
        order = np.argsort(F[:, 0], kind="stable")
        vol, ceiling = 0.0, ref[1]
        for i in order:
            x, y = F[i]
            if y < ceiling:
                vol += (ref[0] - x) * (ceiling - y)
                ceiling = y
        return float(vol)
    # slice along the last objective: between consecutive levels, the cross-section
    # is the (k-1)-d hypervolume of the points at or below the level
    order = np.argsort(F[:, -1], kind="stable")
    levels = np.append(F[order, -1], ref[-1])
    vol = 0.0
    for i in range(len(order)):
        height = levels[i + 1] - levels[i]
        if height <= 0:
            continue
        P = F[order[:i + 1], :-1]
        P = P[non_dominated(P)]
        vol += height * _hv_exact(P, ref[:-1])
    return float(vol)
