"""``minimize()`` and ``maximize()``: the optimizers without a job file.

Run in a plain script they evaluate serially in-process, through the same scheduler
and run store as ``python -m parc_mpi.run`` in serial mode; run the same script under
``mpiexec -n N`` and rank 0 schedules the evaluations over the other ranks, which
take no other part in the script's call (every rank gets the same result back).
"""
from __future__ import annotations

import math
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Mapping, Optional

import numpy as np

from .job import JobError, optimize

__all__ = ["OptimizeResult", "minimize", "maximize"]


@dataclass
class OptimizeResult:
    """What an optimization found, in scipy's spirit.

    Attributes
    ----------
    x : dict
        The best parameters.
    fun : float
        The best value (nan if every evaluation failed).
    nfev : int
        Evaluations made (failed ones included).
    nfail : int
        Evaluations that raised or returned no finite number.
    success : bool
        At least one evaluation succeeded.
    message : str
    history : dict of numpy arrays
        One entry per evaluation in the order they finished: every parameter by
        name, ``value`` (nan for a failure), ``ok``, ``seconds`` (from the first
        evaluation's start to this one's end, on the worker's clock) and ``worker``
        (the MPI rank; 0 in a serial run); ``pandas.DataFrame(result.history)`` loads it.
        With several objectives, a column per objective instead of ``value``;
        with constraints, ``feasible`` and ``violation``; with a pruner, ``pruned``.
    run_dir : str or None
        Where the run store is, when one was kept.
    front : list of dict
        Several objectives: the Pareto front, ``[{"params": ..., "values": {name:
        value}}]`` sorted by the first objective (``x`` is then empty, ``fun`` nan).
    hypervolume : float or None
        Of the front, against ``reference`` (``reference_source`` says whether it
        was given or derived from the points seen).
    feasible, first_feasible : int or None
        With constraints: how many evaluations were feasible, and the number of the
        first feasible one (1-based).
    pruned : int
        Evaluations stopped early by the pruner.
    fun_sd : float
        With ``noise``: the standard deviation of ``fun``, an estimate (0 for exact
        values).
    estimate : dict or None
        With ``noise``: what ``fun`` rests on, ``{"method", "sd", "noise_sd" (one
        evaluation's), "n" (evaluations of ``x``), "sample" (the value first told
        at ``x``), "task"}``.
    repeats : int
        Evaluations made by ``repeats=`` (beyond ``nfev``; also in ``history``, where
        ``repeat_of`` names the evaluation each repeats).
    """

    x: Dict[str, Any]
    fun: float
    nfev: int
    nfail: int
    success: bool
    message: str
    history: Dict[str, np.ndarray] = field(repr=False)
    goal: Any = "min"
    run_dir: Optional[str] = None
    front: List[Dict[str, Any]] = field(default_factory=list, repr=False)
    hypervolume: Optional[float] = None
    reference: Optional[Dict[str, float]] = None
    reference_source: Optional[str] = None
    feasible: Optional[int] = None
    first_feasible: Optional[int] = None
    pruned: int = 0
    fun_sd: float = 0.0
    estimate: Optional[Dict[str, Any]] = None
    repeats: int = 0

    def __getitem__(self, key):  # scipy's OptimizeResult is a dict too
        return getattr(self, key)


def minimize(fn: Callable, space: Mapping, budget: int, optimizer: str = "auto",
             seed: Optional[int] = 0, run_dir: Optional[str] = None,
             quiet: bool = True, initial: Optional[List[Mapping]] = None,
             warm_start: Optional[str] = None, *, objectives: Optional[List[str]] = None,
             pruner: Any = None, reference: Optional[Mapping[str, float]] = None,
             noise: Any = None, repeats: int = 0, repeat_top: int = 3) -> OptimizeResult:
    """Find the parameters with the lowest ``fn(**params)``.

    Parameters
    ----------
    fn : callable
        The objective; receives the space's parameters by name.
    space : dict of str to Real, Integer or Choice
    budget : int
        Number of evaluations.
    optimizer : str, default "auto"
        See :func:`parc_mpi.optimizers.make_optimizer`.
    seed : int, default 0
    run_dir : str, optional
        Keep the run directory here (the store with every evaluation and its times,
        results.csv, best.json, report.html), serially and under mpiexec alike;
        otherwise a temporary one is used and removed.
    quiet : bool, default True
        Under mpiexec, no progress lines.
    initial : list of dict, optional
        Known points, evaluated first (within the budget).
    warm_start : str, optional
        An earlier run directory over the same space, told to the optimizer first.
    objectives : list of str, optional
        Several objectives, all minimised: ``fn`` returns a dict with these keys
        (or a tuple in this order); the result holds the Pareto front.
    pruner : {"median", "asha", "model"}, optional
        Stop evaluations early that report progress (``parc_mpi.report``) worse
        than their peers' (``"model"``: a learning-curve model predicts they cannot
        win; for curves that cross).
    reference : dict, optional
        Several objectives: the hypervolume's reference point.
    noise : True or float, optional
        ``fn`` is noisy (random numbers, a measurement): True, or one evaluation's
        noise standard deviation. ``x`` is then the evaluated point with the lowest
        mean of a model with a noise term, not the luckiest draw, and ``fun`` that
        mean, with ``fun_sd``.
    repeats : int, default 0
        After the budget, evaluate the ``repeat_top`` (3) best points this many more
        times each; ``x`` is then the one with the lowest mean of its evaluations
        (``fun``), and ``fun_sd`` that mean's standard error. Implies ``noise=True``.

    ``fn`` may return ``{"value": y, "constraints": [c1, ...]}`` (feasible when every
    ``c <= 0``): the best is then the best feasible point.

    Returns
    -------
    OptimizeResult

    Raises
    ------
    ValueError
        For a bad space, budget or optimizer name, naming the culprit.

    Examples
    --------
    >>> from parc_mpi import Real, minimize
    >>> res = minimize(lambda x: (x - 1) ** 2, {"x": Real(-5, 5)}, budget=30, seed=1)
    >>> abs(res.x["x"] - 1) < 0.5
    True
    """
    return _optimize(fn, space, budget, optimizer, seed, "min", run_dir, quiet, initial,
                     warm_start, objectives, pruner, reference, noise, repeats, repeat_top)


def maximize(fn: Callable, space: Mapping, budget: int, optimizer: str = "auto",
             seed: Optional[int] = 0, run_dir: Optional[str] = None,
             quiet: bool = True, initial: Optional[List[Mapping]] = None,
             warm_start: Optional[str] = None, *, objectives: Optional[List[str]] = None,
             pruner: Any = None, reference: Optional[Mapping[str, float]] = None,
             noise: Any = None, repeats: int = 0, repeat_top: int = 3) -> OptimizeResult:
    """Find the parameters with the highest ``fn(**params)``; as :func:`minimize`
    (``objectives`` are then all maximised)."""
    return _optimize(fn, space, budget, optimizer, seed, "max", run_dir, quiet, initial,
                     warm_start, objectives, pruner, reference, noise, repeats, repeat_top)


def _optimize(fn, space, budget, optimizer, seed, sense, run_dir, quiet, initial=None,
              warm_start=None, objectives=None, pruner=None, reference=None, noise=None,
              repeats=0, repeat_top=3) -> OptimizeResult:
    goal: Any = sense
    if objectives is not None:
        if isinstance(objectives, str) or len(objectives) < 2:
            raise ValueError(f"objectives: name two objectives or more, got {objectives!r}")
        goal = {str(n): sense for n in objectives}
    try:
        job = optimize(fn, space, budget, goal=goal, optimizer=optimizer, seed=seed,
                       name="minimize" if sense == "min" else "maximize", initial=initial,
                       warm_start=warm_start, pruner=pruner, reference=reference,
                       noise=noise, repeats=repeats, repeat_top=repeat_top)
    except JobError as exc:
        raise ValueError(str(exc)) from None
    from .cluster.world import world
    comm = world()
    if comm is None:
        return _serial(job, run_dir, quiet)
    return _cluster(comm, job, run_dir, quiet)


def _options(run_dir: Optional[str], quiet: bool):
    from .runner import RunOptions
    label = os.path.basename(sys.argv[0] or "script")
    keep = run_dir is not None
    # a kept run gets its report like any run; a temporary one is not drawn for nothing
    return RunOptions(job_path=label, run_dir=run_dir, quiet=quiet, monitor=False,
                      netbench="off", quiet_summary=True, report=keep), keep


def _serial(job, run_dir: Optional[str], quiet: bool) -> OptimizeResult:
    """No launcher: the same scheduler and store as ``python -m parc_mpi.run`` in
    serial mode, so retries, timeouts, the objective check and ``run_dir`` mean the
    same everywhere."""
    from .runner import open_run, run_serial
    from .store import StoreError
    opts, keep = _options(run_dir, quiet)
    if not keep:
        opts.run_dir = tempfile.mkdtemp(prefix="parc-minimize-")
    try:
        try:
            store = open_run(job, opts)
        except StoreError as exc:
            raise ValueError(str(exc)) from None
        run_serial(job, opts, store)
        return _from_store(opts.run_dir, job, keep)
    finally:
        if not keep:
            shutil.rmtree(opts.run_dir, ignore_errors=True)


def _cluster(comm, job, run_dir, quiet) -> OptimizeResult:
    from .cluster.launch import agree_and_run
    from .cluster.protocol import bcast_quietly
    from .runner import open_run
    from .store import StoreError
    opts, keep = _options(run_dir, quiet)
    store, err = None, None
    if comm.rank == 0:
        if not keep:
            opts.run_dir = tempfile.mkdtemp(prefix="parc-minimize-")
        try:
            store = open_run(job, opts)
        except StoreError as exc:
            err = str(exc)
    status, summary = agree_and_run(comm, job, err, store, opts)
    if summary and summary.get("error"):
        raise ValueError(summary["error"])  # the same message on every rank
    result = None
    if comm.rank == 0 and status in (0, 1):
        result = _from_store(opts.run_dir, job, keep)
        if not keep:
            shutil.rmtree(opts.run_dir, ignore_errors=True)
    result = bcast_quietly(comm, result)
    if result is None:
        raise RuntimeError("the optimization did not run on the cluster (see rank 0's error)")
    return result


def _from_store(run_dir: str, job, keep: bool) -> OptimizeResult:
    """The result from the run store: one entry per evaluation in commit order;
    ``seconds`` counts from the first evaluation's start to this one's end."""
    from .optimizers.objectives import Goal
    from .store import RunReader
    from .store.optimization import front_params, repeat_map, summarize
    goal = Goal(job.goal)
    names = job.space.names
    with RunReader(run_dir) as reader:
        rows = reader.results()
        evs = reader.evaluations()
        summary = summarize(reader, job.describe(), history=False, evaluations=evs)
        front_params(reader, summary.get("front", []), {r.task: r.params for r in rows if r.ok})
        repeated = repeat_map(reader)
        estimate = ((reader.meta().get("summary") or {}).get("best") or {}) \
            if job.noise is not None else {}
    told = {e[1]: e for e in evs}
    constrained, pruning = summary["constrained"], job.pruner is not None
    outs = list(goal.names) if goal.multi else ["value"]
    hist: Dict[str, List[Any]] = {n: [] for n in names}
    hist.update({n: [] for n in outs})
    hist.update(ok=[], seconds=[], worker=[])
    if constrained:
        hist.update(feasible=[], violation=[])
    if pruning:
        hist["pruned"] = []
    if job.repeats:
        hist["repeat_of"] = []
    t0 = min((r.t_start for r in rows if r.t_start is not None), default=0.0)
    best_x, best, last_error = {}, math.nan, None
    sign = float(goal.signs[0])
    for r in rows:
        e = told.get(r.task) if r.ok else None
        ok = e is not None
        for n in names:
            hist[n].append(r.params[n])
        values = e[2] if ok else [math.nan] * len(outs)
        for n, v in zip(outs, values):
            hist[n].append(v)
        hist["ok"].append(ok)
        hist["seconds"].append(r.t_end - t0)
        hist["worker"].append(r.worker)
        if constrained:
            hist["feasible"].append(ok and e[4] == 0)
            hist["violation"].append(e[4] if ok else math.nan)
        if pruning:
            hist["pruned"].append(ok and e[5])
        if job.repeats:
            hist["repeat_of"].append(repeated.get(r.task, -1))
        if ok and not goal.multi and e[4] == 0 and not e[5] and (
                math.isnan(best) or sign * values[0] < sign * best):
            best, best_x = values[0], r.params
        if not ok and r.error:
            last_error = r.error_line
    arrays = {k: np.asarray(v) for k, v in hist.items()}
    nrep = len(repeated)
    nfev = len(rows) - nrep
    fun_sd, detail = 0.0, None
    if "method" in estimate:   # noisy: the best is the estimate the run ended with
        best_x, best, fun_sd = estimate["params"], estimate["value"], estimate["sd"]
        detail = {k: estimate[k] for k in ("method", "sd", "noise_sd", "n", "sample", "task")}
    nfail = len(rows) - int(arrays["ok"].sum()) if rows else 0
    success = nfev > nfail
    if not success:
        message = f"every evaluation failed; the last: {last_error or 'no usable number'}"
    elif goal.multi:
        message = (f"{nfev} evaluations, {nfail} failed; a front of {len(summary['front'])} "
                   f"point(s)")
    else:
        message = f"{nfev} evaluations, {nfail} failed"
        if detail:
            message += (f"; the best is an estimate ({detail['method']}): {best:.6g} ± "
                        f"{fun_sd:.2g}")
        if nrep:
            message += f"; {nrep} repeated evaluations of the best points"
    if constrained:
        message += (f"; {summary['feasible']} feasible" +
                    (f", the first at evaluation {summary['first_feasible']}"
                     if summary["first_feasible"] else ", none yet"))
    if summary["pruned"]:
        message += f"; {summary['pruned']} pruned"
    front = [{"params": p["params"], "values": p["values"]} for p in summary.get("front", [])]
    return OptimizeResult(
        x=best_x, fun=best, nfev=nfev, nfail=nfail, success=success, message=message,
        history=arrays, goal=job.goal, run_dir=run_dir if keep else None, front=front,
        hypervolume=summary.get("hypervolume"), reference=summary.get("reference"),
        reference_source=summary.get("reference_source"),
        feasible=summary["feasible"] if constrained else None,
        first_feasible=summary["first_feasible"] if constrained else None,
        pruned=summary["pruned"], fun_sd=fun_sd, estimate=detail, repeats=nrep)
