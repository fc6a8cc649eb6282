"""``parc_mpi.load(run_dir)``: a run's results back in Python, in one line.

Read-only and lock-free: it works on a finished run and on one that is still going
(each read is a short read transaction; the run's writer is never held up).
"""
from __future__ import annotations

import math
import os
import pickle
import sys
from typing import Any, Dict, List, NamedTuple, Optional

from .reader import RunReader, StoreError
from .records import Result
from .export import bare, fields, plain
from .optimization import repeat_map
from .values import Unpicklable, numeric


class Task(NamedTuple):
    """A task as it ended: its final attempt, and how many attempts it took."""

    task: int
    params: Any               # the item (map, generate) or the parameters (optimize)
    result: Any               # what the task returned, as it returned it (None if failed)
    status: str               # ok | failed | timeout | killed (its process died)
    error: Optional[str]      # the traceback of a failed task
    worker: Optional[int]
    node: Optional[str]
    t_start: Optional[float]
    t_end: Optional[float]
    attempts: int
    peak_mb: Optional[float] = None   # its task process's peak memory (MB), when measured

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def seconds(self) -> Optional[float]:
        return None if self.t_start is None or self.t_end is None else self.t_end - self.t_start


class Unloadable(NamedTuple):
    """A stored object whose class cannot be imported here (its module is missing)."""

    type: str
    reason: str


class Run:
    """A run directory's results, tasks, failures, health and network figures.

    Parameters
    ----------
    run_dir : str
        A run directory (it holds ``run.sqlite``).

    Attributes
    ----------
    tasks : list of Task
        Every task's final attempt, in task order.
    meta : dict
        The run's metadata: ``status``, ``job`` (kind, space, budget, ...), ``argv``,
        ``started``, ``finished``, ``summary``, the MPI world.
    repeat_of : dict
        An optimization with ``repeats=``: each repeated evaluation's task -> the
        task it evaluated again (``to_pandas()`` has it as a column).

    Examples
    --------
    >>> run = parc_mpi.load("runs/sweep_epidemic-20261125-101500")   # doctest: +SKIP
    >>> run.status, len(run.tasks), run.tasks[0].result               # doctest: +SKIP
    >>> df = run.to_pandas()                                          # doctest: +SKIP
    """

    def __init__(self, run_dir: str):
        self.run_dir = run_dir
        with RunReader(run_dir) as reader:
            self.meta = reader.meta()
            finals = reader.final_results()
            attempts = reader.columns(("task",))["task"]
            peaks = {(t, a): p for t, a, p in reader.usage()}
            self.repeat_of: Dict[int, int] = repeat_map(reader, finals, self.meta)
        counts: Dict[int, int] = {}
        for t in attempts:
            counts[t] = counts.get(t, 0) + 1
        self.tasks: List[Task] = [
            Task(r.task, self._value(r.params), self._value(r.result) if r.ok else None,
                 r.status, r.error, r.worker, r.node, r.t_start, r.t_end, counts[r.task],
                 peaks.get((r.task, r.attempt)))
            for r in finals]

    # -- what the run was ---------------------------------------------------
    @property
    def status(self) -> str:
        """running, finished, stopped, failed, aborted or crashed (a run whose process
        is gone while its store says running: ``kill -9``, a power cut)."""
        return liveness(self.run_dir, self.meta) if self.meta.get("status") else "?"

    @property
    def kind(self) -> str:
        return (self.meta.get("job") or {}).get("kind", "?")

    @property
    def options(self) -> Dict[str, Any]:
        """The job's settings and the command line the run was started with."""
        return {"job": self.meta.get("job"), "argv": self.meta.get("argv"),
                "job_file": self.meta.get("job_file")}

    @property
    def verdict(self) -> Optional[str]:
        """What limited the run, in a sentence or two (made at its end; None before,
        or when it was not analysed): a slow node, the tail, the scheduler, failures,
        or that nothing stands out. ``meta["verdict"]`` holds the figures it rests on."""
        return (self.meta.get("verdict") or {}).get("text")

    # -- results ------------------------------------------------------------
    @property
    def results(self) -> List[Any]:
        """What the successful tasks returned, in task order."""
        return [t.result for t in self.tasks if t.ok]

    @property
    def failures(self) -> List[Task]:
        """Tasks that failed for good, lowest task first."""
        return [t for t in self.tasks if not t.ok]

    @property
    def best(self) -> Optional[Dict[str, Any]]:
        """An optimize run's best evaluation so far: ``{"params", "value", "task"}``.
        With ``noise=`` (noisy values), once the run has ended: the estimate it ended
        with, ``value`` the model's or the repeats' mean, and ``sd``, ``noise_sd``,
        ``n``, ``sample`` (the value first told there) and ``method`` beside it."""
        if self.kind != "optimize":
            return None
        est = (self.meta.get("summary") or {}).get("best") or {}
        if "method" in est:
            return {k: v for k, v in est.items() if k != "repeats"}
        sign = -1.0 if (self.meta.get("job") or {}).get("goal") == "max" else 1.0
        best = None
        for t in self.tasks:
            v = numeric(t.result) if t.ok else None
            if v is not None and math.isfinite(v) and (best is None or sign * v < sign * best[1]):
                best = (t, v)
        return None if best is None else {"params": best[0].params, "value": best[1],
                                          "task": best[0].task}

    @property
    def history(self) -> Dict[str, List[Any]]:
        """An optimize run's evaluations in the order they finished: every parameter,
        ``value`` (nan when failed), ``ok``, ``seconds`` since the first start."""
        order = sorted(self.tasks, key=lambda t: (t.t_end is None, t.t_end or 0.0))
        t0 = min((t.t_start for t in self.tasks if t.t_start is not None), default=0.0)
        names = list(((self.meta.get("job") or {}).get("space") or {}).keys())
        out: Dict[str, List[Any]] = {n: [] for n in names}
        out.update(value=[], ok=[], seconds=[])
        for t in order:
            for n in names:
                out[n].append(t.params.get(n) if isinstance(t.params, dict) else None)
            v = numeric(t.result) if t.ok else None
            out["value"].append(v if v is not None else math.nan)
            out["ok"].append(t.ok)
            out["seconds"].append(None if t.t_end is None else t.t_end - t0)
        return out

    def to_pandas(self):
        """A DataFrame, one row per task: task, status, attempts, a column per input
        field and per output field (as in results.csv, but values kept as they are:
        arrays stay arrays), worker, node, seconds, error. Needs pandas."""
        try:
            import pandas as pd
        except ImportError:
            raise ImportError("to_pandas() needs pandas: pip install pandas") from None
        rows = []
        for t in self.tasks:
            row: Dict[str, Any] = {"task": t.task, "status": t.status, "attempts": t.attempts}
            row.update((bare(c), v) for c, v in fields(t.params, "item", ".", plain))
            if t.ok:
                row.update(fields(t.result, "result", ".", plain))
            row.update(worker=t.worker, node=t.node, seconds=t.seconds,
                       error=(t.error or "").strip().splitlines()[-1] if t.error else None)
            if (self.meta.get("job") or {}).get("repeats"):
                row["repeat_of"] = self.repeat_of.get(t.task)
            rows.append(row)
        return pd.DataFrame(rows)

    # -- the machines -------------------------------------------------------
    @property
    def health(self) -> Dict[str, List[Dict[str, Any]]]:
        """Health samples by node, in time order (``cpu_temp_c``, ``throttled``, ...)."""
        with RunReader(self.run_dir) as reader:
            return reader.samples_by_node()

    @property
    def nodes(self):
        with RunReader(self.run_dir) as reader:
            return reader.nodes()

    @property
    def network(self):
        """The network benchmark's figures (``store.NetFigure``) and node pairs."""
        with RunReader(self.run_dir) as reader:
            return {"figures": reader.netbench(), "pairs": reader.pairs()}

    def __repr__(self) -> str:
        ok = sum(t.ok for t in self.tasks)
        return (f"<parc_mpi run {self.run_dir!r}: {self.kind}, {self.status}, "
                f"{ok} ok, {len(self.tasks) - ok} failed>")

    # -- values whose class lives in the job file ---------------------------
    def _value(self, value: Any) -> Any:
        if not isinstance(value, Unpicklable):
            return value
        try:
            return pickle.loads(value.blob)
        except (ModuleNotFoundError, AttributeError, ImportError):
            pass
        self._import_job_module()
        try:
            return pickle.loads(value.blob)
        except Exception as exc:
            return Unloadable(value.type_hint, f"{type(exc).__name__}: {exc}")

    def _import_job_module(self) -> None:
        """Objects of classes defined in the job file unpickle once it is imported."""
        path = self.meta.get("job_path") or self.meta.get("job_file")
        if not path or getattr(self, "_job_imported", False):
            return
        self._job_imported = True
        if not os.path.isabs(path):
            path = os.path.join(self.meta.get("cwd") or os.getcwd(), path)
        from ..job import JobError, load_job, module_name_for
        if module_name_for(path) in sys.modules:
            return
        try:
            load_job(path)
        except (JobError, OSError):
            pass


def load(run_dir: str) -> Run:
    """Load a run directory's results: ``parc_mpi.load("runs/my-run").tasks``.

    Raises
    ------
    StoreError
        When the folder does not exist or holds no run store (the message names it).
    """
    return Run(run_dir)


__all__ = ["Run", "Task", "Unloadable", "load", "StoreError", "Result"]


def liveness(run_dir: str, meta: Dict[str, Any]) -> str:
    """The run's status word; a run the store calls running whose process is gone
    (run.lock says free, or names a pid on this host that no longer exists: a kill -9,
    a power cut) is ``crashed``. The dashboard, ``load()`` and the report say the same."""
    status = meta.get("status") or "starting"
    if status != "running":
        return status
    try:
        with open(os.path.join(run_dir, "run.lock"), encoding="utf-8") as fh:
            holder = fh.read().split()
    except OSError:
        return status
    if holder[:1] == ["free"]:
        return "crashed"
    if len(holder) >= 4 and holder[0] == "pid" and holder[3] == os.uname().nodename:
        if holder[1].isdigit() and not os.path.exists(f"/proc/{holder[1]}"):
            return "crashed"
    return status
