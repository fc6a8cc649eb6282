"""Running a batch of tasks on a worker (or in-process for a serial run).

A batch is a list of ``(task, attempt, arg)``; the answer is a list of
``(task, attempt, ok, result_or_traceback, t_start, t_end)`` in the same order.
"""
from __future__ import annotations

import signal
import threading
import time
import traceback
from typing import Any, Callable, List, Optional, Tuple

Task = Tuple[int, int, Any]
Outcome = Tuple[int, int, bool, Any, float, float]


class TaskTimeout(Exception):
    """A task ran past the job's ``timeout``."""


def _on_alarm(signum, frame):
    raise TaskTimeout("task ran past its time limit")


def execute_batch(fn: Callable, call: str, batch: List[Task],
                  timeout: Optional[float] = None) -> Tuple[List[Outcome], float]:
    """Run every task of ``batch``; return the outcomes and the compute seconds.

    A task that raises gives ``ok=False`` and its formatted traceback; the batch
    goes on. With ``timeout``, a task is interrupted (where Python can interrupt
    it: between bytecodes, not inside a long C call) after that many seconds and
    raises :class:`TaskTimeout`.
    """
    if timeout is not None and threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGALRM, _on_alarm)
        try:
            return _run(fn, call, batch, timeout)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
    return _run(fn, call, batch, None)


def _run(fn: Callable, call: str, batch: List[Task],
         timeout: Optional[float]) -> Tuple[List[Outcome], float]:
    out: List[Outcome] = []
    append = out.append
    clock = time.time
    kwargs = call == "kwargs"
    t_begin = time.perf_counter()
    for task, attempt, arg in batch:
        t0 = clock()
        try:
            if timeout is not None:
                signal.setitimer(signal.ITIMER_REAL, timeout)
            try:
                result = fn(**arg) if kwargs else fn(arg)
            finally:
                if timeout is not None:
                    signal.setitimer(signal.ITIMER_REAL, 0)
            ok = True
        except BaseException as exc:  # the user's code: record anything it raises
            if isinstance(exc, KeyboardInterrupt):
                raise
            result = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
            ok = False
        append((task, attempt, ok, result, t0, clock()))
    return out, time.perf_counter() - t_begin
