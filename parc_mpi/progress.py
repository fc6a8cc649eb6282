"""Progress values from inside an objective, and early stopping.

    def objective(lr, layers):
        model = build(lr, layers)
        for epoch in range(1, 51):
            loss = model.train_one_epoch()
            if parc_mpi.report(epoch, loss):   # worse than its peers: stop here
                break
        return loss

``report(step, value)`` records the value (the run store keeps every evaluation's
curve) and returns True when the job's pruner (``optimize(..., pruner="median")``,
``"asha"`` or ``"model"``) judges the evaluation hopeless. It never waits on the
main node: the pruner's thresholds (or its learning-curve model's data) travel with
each task (``optimizers/pruners.py``, ``optimizers/curves.py``), so a worker
decides alone, in microseconds (milliseconds with the model). Outside an
evaluation run by parc_mpi (calling your objective by hand) it records nothing and
returns False.

An evaluation that was told to stop is stored as pruned, with its last reported
value when the objective returns nothing.
"""
from __future__ import annotations

import math
import threading
from typing import Any, List, Optional, Tuple

from .optimizers.pruners import judge

_local = threading.local()


class Evaluation:
    """The evaluation running now on this thread: its curve and the pruner's table."""

    __slots__ = ("table", "curve", "stop", "params")

    def __init__(self, table: Optional[tuple], params: Optional[dict] = None):
        self.table = table
        self.params = params    # what the "model" pruner predicts from
        self.curve: List[Tuple[float, float]] = []
        self.stop = False


def report(step: float, value: float) -> bool:
    """Record a progress ``value`` at ``step`` (an epoch, an iteration, seconds);
    return True when the evaluation should stop early.

    Raises
    ------
    TypeError
        When ``step`` or ``value`` is not a number.
    """
    try:
        s, v = float(step), float(value)
    except (TypeError, ValueError):
        raise TypeError(f"parc_mpi.report(step, value) takes numbers, got step={step!r}, "
                        f"value={value!r}") from None
    ev = getattr(_local, "current", None)
    if ev is None:
        return False
    check_step(ev.curve, s)
    ev.curve.append((s, v))
    if not ev.stop and ev.table is not None and judge(ev.table, ev.curve, ev.params):
        ev.stop = True
    return ev.stop


def check_step(curve: List[Tuple[float, float]], step: float) -> None:
    """Steps must increase within an evaluation (a curve is judged step by step)."""
    if math.isnan(step):
        raise ValueError("parc_mpi.report(step, value): step is nan")
    if curve and step <= curve[-1][0]:
        raise ValueError(f"parc_mpi.report(step={step:g}, ...): steps must increase within "
                         f"an evaluation (the last was {curve[-1][0]:g})")


def should_stop() -> bool:
    """Whether the pruner has told the running evaluation to stop."""
    ev = getattr(_local, "current", None)
    return bool(ev is not None and ev.stop)


def begin(table: Optional[tuple], params: Optional[dict] = None) -> Evaluation:
    ev = Evaluation(table, params)
    _local.current = ev
    return ev


def end() -> None:
    _local.current = None


def outcome(ev: Evaluation, result: Any) -> Any:
    """The result to store: a pruned evaluation that returned nothing gets its last
    reported value."""
    if ev.stop and result is None and ev.curve:
        return ev.curve[-1][1]
    return result
