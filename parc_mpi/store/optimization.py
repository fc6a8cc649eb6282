"""What an optimization found, read from its store: the best point or the Pareto
front, hypervolume (against a reference point given with the job or derived from
the points seen, and said which), feasibility and pruning counts, and the curves.
One reading shared by ``minimize()``'s result, best.json, the report and the
dashboard. No MPI, no matplotlib.
"""
from __future__ import annotations

import json
from typing import Any, Dict, List, Optional

import numpy as np

from ..optimizers.objectives import Goal, hypervolume, non_dominated, reference_point
from .reader import RunReader

HV_POINTS = 100    # hypervolume-after-n-evaluations points at most


_READ = object()


def records(reader: RunReader, job: Dict[str, Any]) -> Optional[List[tuple]]:
    """The evaluations :func:`summarize` reads (``RunReader.evaluations``), or None for
    a one-objective run without optimizer records (no constraints, no progress): that
    one is counted in SQL, and a report or a dashboard poll of a 100,000-evaluation run
    reads no row in Python for it."""
    if not Goal(job.get("goal", "min")).multi and not reader.has_trials():
        return None
    return reader.evaluations()


def summarize(reader: RunReader, job: Dict[str, Any], front_limit: Optional[int] = None,
              history: bool = True, evaluations: Any = _READ) -> Dict[str, Any]:
    """The optimization's outcome from a reader and the run's job description.

    Returns a dict: ``goal``, ``objectives`` (names), ``evaluations`` (successful
    ones), ``feasible``, ``first_feasible`` (1-based evaluation number, or None),
    ``constrained``, ``pruned``; with several objectives ``front`` (``[{"task",
    "params"?, "values": {name: value}}]``, sorted by the first objective),
    ``reference`` (by name), ``reference_source`` ("given" or "derived"),
    ``hypervolume``, ``hypervolume_exact`` and ``hypervolume_history`` (``[[n,
    hv], ...]``, against the same reference). ``evaluations``: what
    :func:`records` gave, when the caller has read it already.
    """
    goal = Goal(job.get("goal", "min"))
    evs = records(reader, job) if evaluations is _READ else evaluations
    if evs is None:
        n, first = reader.plain_evaluations()
        return {"goal": goal.describe(), "objectives": list(goal.names), "evaluations": n,
                "constrained": False, "pruned": 0, "feasible": n, "first_feasible": first}
    k = len(goal)
    evs = [e for e in evs if len(e[2]) == k]
    out: Dict[str, Any] = {
        "goal": goal.describe(), "objectives": list(goal.names), "evaluations": len(evs),
        "constrained": any(e[3] for e in evs),
        "pruned": sum(1 for e in evs if e[5]),
    }
    feasible = [i for i, e in enumerate(evs) if e[4] == 0 and not e[5]]
    out["feasible"] = sum(1 for e in evs if e[4] == 0)
    first = next((i for i, e in enumerate(evs) if e[4] == 0), None)
    out["first_feasible"] = None if first is None else first + 1
    if not goal.multi:
        return out
    F = np.array([[s * v for s, v in zip(goal.signs, evs[i][2])] for i in feasible],
                 dtype=float).reshape(len(feasible), k)
    given = job.get("reference")
    if given:
        ref = np.array([goal.signs[j] * float(given[n]) for j, n in enumerate(goal.names)])
        out["reference_source"] = "given"
    elif len(F):
        ref = reference_point(F)
        out["reference_source"] = "derived: the worst value seen of each objective plus 10% of its range"
    else:
        ref = None
    if ref is None:
        out.update(front=[], reference=None, hypervolume=None, hypervolume_exact=True,
                   hypervolume_history=[])
        return out
    mask = non_dominated(F)
    idx = [feasible[i] for i in np.flatnonzero(mask)]
    idx.sort(key=lambda i: goal.signs[0] * evs[i][2][0])
    if front_limit is not None:
        idx = idx[:front_limit]
    out["front"] = [{"task": evs[i][1], "values": dict(zip(goal.names, evs[i][2]))} for i in idx]
    hv, exact = hypervolume(F[mask], ref)
    out.update(reference={n: float(goal.signs[j] * ref[j]) for j, n in enumerate(goal.names)},
               hypervolume=hv, hypervolume_exact=exact)
    if history:
        out["hypervolume_history"] = _history(evs, feasible, F, ref)
    return out


def _history(evs: List[tuple], feasible: List[int], F: np.ndarray,
             ref: np.ndarray) -> List[List[float]]:
    """Hypervolume after n evaluations (all of them counted, feasible or not), at
    up to HV_POINTS values of n."""
    n = len(evs)
    if n == 0:
        return []
    marks = sorted(set(np.linspace(1, n, min(n, HV_POINTS)).round().astype(int).tolist()))
    pos = np.searchsorted(np.array(feasible), marks, side="left")  # feasible rows before n
    out = []
    for m, upto in zip(marks, pos):
        hv = hypervolume(F[:upto], ref)[0] if upto else 0.0
        out.append([int(m), float(hv)])
    return out


def front_params(reader: RunReader, front: List[Dict[str, Any]],
                 params: Optional[Dict[int, Any]] = None) -> None:
    """Fill in each front point's parameters (by task) in place (from ``params``, by
    task, when the caller has them already)."""
    if not front:
        return
    if params is None:
        tasks = {p["task"] for p in front}
        params = {r.task: r.params for r in reader.results(status="ok") if r.task in tasks}
    for p in front:
        p["params"] = params.get(p["task"])


def repeat_map(reader: RunReader, finals: Optional[List[Any]] = None,
               meta: Optional[Dict[str, Any]] = None) -> Dict[int, int]:
    """An optimization with ``repeats=``: each repeated evaluation's task -> the task
    of the budget it evaluated again (the first with the same parameters); empty
    for any other run. ``finals`` and ``meta``: the reader's final results and meta
    when the caller has read them already."""
    meta = reader.meta() if meta is None else meta
    job = meta.get("job") or {}
    if job.get("kind") != "optimize" or not job.get("repeats"):
        return {}
    budget = int(meta.get("budget_extended") or job.get("budget") or 0)
    first: Dict[str, int] = {}
    out: Dict[int, int] = {}
    for r in (reader.final_results() if finals is None else finals):
        key = json.dumps(r.params, sort_keys=True, default=str)
        if r.task < budget:
            first.setdefault(key, r.task)
        elif key in first:
            out[r.task] = first[key]
    return out


__all__ = ["summarize", "records", "front_params", "repeat_map", "HV_POINTS"]
