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
    run_dir : str or None
        Where the run store is, when one was kept.
    """

    x: Dict[str, Any]
    fun: float
    nfev: int
    nfail: int
    success: bool
    message: str
    history: Dict[str, np.ndarray] = field(repr=False)
    goal: str = "min"
    run_dir: Optional[str] = None

    def __getitem__(self, key):  # scipy's OptimizeResult is a dict too
        return getattr(self, key)


def minimize(fn: Callable, space: Mapping, budget: int, optimizer: str = "auto",
             seed: Optional[int] = 0, run_dir: Optional[str] = None,
             quiet: bool = True, initial: Optional[List[Mapping]] = None,
             warm_start: Optional[str] = None) -> OptimizeResult:
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
                     warm_start)


def maximize(fn: Callable, space: Mapping, budget: int, optimizer: str = "auto",
             seed: Optional[int] = 0, run_dir: Optional[str] = None,
             quiet: bool = True, initial: Optional[List[Mapping]] = None,
             warm_start: Optional[str] = None) -> OptimizeResult:
    """Find the parameters with the highest ``fn(**params)``; as :func:`minimize`."""
    return _optimize(fn, space, budget, optimizer, seed, "max", run_dir, quiet, initial,
                     warm_start)


def _optimize(fn, space, budget, optimizer, seed, goal, run_dir, quiet, initial=None,
              warm_start=None) -> OptimizeResult:
    try:
        job = optimize(fn, space, budget, goal=goal, optimizer=optimizer, seed=seed,
                       name="minimize" if goal == "min" else "maximize", initial=initial,
                       warm_start=warm_start)
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


def _result(x, fun, hist, goal, run_dir, last_error) -> OptimizeResult:
    arrays = {k: np.asarray(v) for k, v in hist.items()}
    nfev = len(arrays["value"])
    nfail = int(nfev - arrays["ok"].sum()) if nfev else 0
    success = nfev > nfail
    message = (f"{nfev} evaluations, {nfail} failed" if success else
               f"every evaluation failed; the last: {last_error or 'no usable number'}")
    return OptimizeResult(x=x, fun=fun, nfev=nfev, nfail=nfail, success=success,
                          message=message, history=arrays, goal=goal, run_dir=run_dir)


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
    from .store import RunReader
    names = job.space.names
    hist: Dict[str, List[Any]] = {n: [] for n in names}
    hist.update(value=[], ok=[], seconds=[], worker=[])
    with RunReader(run_dir) as reader:
        rows = reader.results()
    t0 = min((r.t_start for r in rows if r.t_start is not None), default=0.0)
    best_x, best, last_error = {}, math.nan, None
    sign = -1.0 if job.goal == "max" else 1.0
    for r in rows:
        ok = r.ok and r.value is not None and math.isfinite(r.value)
        for n in names:
            hist[n].append(r.params[n])
        hist["value"].append(r.value if ok else math.nan)
        hist["ok"].append(ok)
        hist["seconds"].append(r.t_end - t0)
        hist["worker"].append(r.worker)
        if ok and (math.isnan(best) or sign * r.value < sign * best):
            best, best_x = r.value, r.params
        if not ok and r.error:
            last_error = r.error_line
    return _result(best_x, best, hist, job.goal, run_dir if keep else None, last_error)
