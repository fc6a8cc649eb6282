"""Running a batch of tasks on a worker (or in-process for a serial run).

A batch is a list of ``(task, attempt, arg)``; the answer is a list of
:class:`Outcome` in the same order, each with an explicit status.
"""
from __future__ import annotations

import os
import signal
import threading
import time
import traceback
from typing import Any, Callable, List, NamedTuple, Optional, Tuple

from . import programs as _program
from .clock import wall_clock
from .store.schema import STATUS_FAILED, STATUS_OK, STATUS_TIMEOUT

Task = Tuple[int, int, Any]


class Outcome(NamedTuple):
    """What running one task gave. The executor makes plain tuples in this order (a
    NamedTuple per task is too slow for the hot path); ``Outcome._make(o)`` names one."""

    task: int
    attempt: int
    status: str                # ok | failed | timeout
    result: Any                # the return value (None unless ok)
    error: Optional[str]       # the formatted traceback (None when ok)
    t_start: float
    t_end: float


class TaskTimeout(Exception):
    """A task ran past the job's ``timeout``."""


def _on_alarm(signum, frame):
    raise TaskTimeout("task ran past its time limit")


_PACKAGE = os.path.dirname(os.path.abspath(__file__)) + os.sep


def format_error(exc: BaseException, rename: Optional[Tuple[str, str]] = None) -> str:
    """A task's traceback as the user needs it: no parc_mpi frames, and the job file
    named as the user knows it (``rename``: (the loaded copy's path, the user's))."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__)
              if not os.path.abspath(f.filename).startswith(_PACKAGE)]
    if rename is not None:
        copy, user = rename
        for f in frames:
            if f.filename == copy:
                f.filename = user
    lines = ["Traceback (most recent call last):\n"] if frames else []
    lines += traceback.format_list(frames)
    if isinstance(exc, _program.ProgramError):   # its message is the whole story
        lines.append(f"ProgramError: {exc}\n")
    else:
        lines += traceback.format_exception_only(type(exc), exc)
    return "".join(lines)


def execute_batch(fn: Callable, call: str, batch: List[Task],
                  timeout: Optional[float] = None,
                  rename: Optional[Tuple[str, str]] = None,
                  mark: Optional[Callable[[int], None]] = None
                  ) -> Tuple[List[Outcome], float]:
    """Run every task of ``batch``; return the outcomes and the compute seconds.

    A task that raises gives status ``failed`` and its formatted traceback; the batch
    goes on. With ``timeout``, a task is interrupted (where Python can interrupt
    it: between bytecodes, not inside a long C call) after that many seconds and
    raises :class:`TaskTimeout`: status ``timeout``. ``mark(i)`` is called before the
    batch's i-th task: a task process tells its rank which task runs since when (so
    that the rank can end one stuck in C) and puts the task's number before what it
    prints.
    """
    if timeout is not None and threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGALRM, _on_alarm)
        try:
            return _run(fn, call, batch, timeout, rename, mark)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
    return _run(fn, call, batch, None, rename, mark)


def _run(fn: Callable, call: str, batch: List[Task], timeout: Optional[float],
         rename: Optional[Tuple[str, str]] = None,
         mark: Optional[Callable[[int], None]] = None) -> Tuple[List[Outcome], float]:
    out: List[Outcome] = []
    now = _program.NOW   # the task running now: what a program task names its folder by
    append = out.append
    clock = wall_clock()   # this node's clock in the main node's terms (clock.py)
    kwargs = call == "kwargs"
    t_begin = time.perf_counter()
    for i, item in enumerate(batch):
        task, attempt, arg = now[0] = item
        t0 = clock()
        try:
            if mark is not None:
                mark(i)
            if timeout is not None:
                signal.setitimer(signal.ITIMER_REAL, timeout)
            try:
                result = fn(**arg) if kwargs else fn(arg)
            finally:
                if timeout is not None:
                    signal.setitimer(signal.ITIMER_REAL, 0)
            # a plain tuple in Outcome's field order: a NamedTuple per task costs a
            # microsecond, four times the trivial task itself
            append((task, attempt, STATUS_OK, result, None, t0, clock()))
        except BaseException as exc:  # the user's code: record anything it raises
            if isinstance(exc, KeyboardInterrupt):
                raise
            error = format_error(exc, rename)
            status = STATUS_TIMEOUT if isinstance(exc, TaskTimeout) else STATUS_FAILED
            append((task, attempt, status, None, error, t0, clock()))
    now[0] = None
    return out, time.perf_counter() - t_begin


class BatchResult(NamedTuple):
    """A batch's store rows, raw results (adaptive jobs only), compute seconds, and
    for optimize jobs whose objective reported progress, ``{task: (curve, pruned)}``."""

    rows: List[tuple]
    raw: Optional[List[Any]]
    compute: float
    curves: Optional[dict] = None
    sheet: Optional[str] = None
    files: Optional[dict] = None   # program tasks' outputs: {task: {name: bytes}}


def run_batch(job, batch: List[Task], worker: int, node: str,
              context: Optional[tuple] = None,
              mark: Optional[Callable[[int], None]] = None) -> BatchResult:
    """Run a batch of ``job``'s tasks and make its store rows: the one path a batch
    takes, on an MPI worker and in a serial run alike. ``context``: the pruner's
    table an optimize job's evaluations judge their progress by."""
    from .store import rows_for
    from .store.export import sheet_text
    fn, records = job.fn, None
    cores = getattr(job, "cores", 1)
    if not isinstance(cores, int) and len(batch) == 1:   # this task's own cores
        try:
            own = cores(batch[0][2])
        except Exception:  # the main node checked it before handing the task out
            own = 1
        _program.CONTEXT.cores = own if isinstance(own, int) and own > 0 else 1
    if job.kind == "optimize":
        fn, records = _with_progress(job.fn, context)
    outcomes, compute = execute_batch(fn, job.call, batch, job.timeout,
                                      getattr(job, "rename", None), mark)
    raw = [o[3] for o in outcomes] if job.kind != "map" else None  # Outcome.result
    rows = rows_for(batch, outcomes, worker, node)
    curves = None
    if records and any(records):  # one record per call, in the batch's order
        curves = {task: rec for (task, _a, _arg), rec in zip(batch, records) if rec}
    sheet = sheet_text(rows) if getattr(job, "stream", False) else None  # results.csv
    return BatchResult(rows, raw, compute, curves, sheet, _program.take_files())


def _with_progress(fn: Callable, context: Optional[tuple]):
    """``fn`` run as an evaluation that may report progress (``parc_mpi.report``):
    each call appends its ``(curve, pruned)`` (or None) to the returned list."""
    from . import progress
    records: list = []

    def evaluation(**params):
        ev = progress.begin(context, params)
        try:
            result = fn(**params)
        finally:
            progress.end()
            records.append((ev.curve, ev.stop) if ev.curve else None)
        return progress.outcome(ev, result)

    return evaluation, records
