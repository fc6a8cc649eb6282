"""The two messages a batch travels in, with no MPI in them: a task process reads a
worker's ``Tasks`` as rank 0 pickled it, and writes the ``Results`` tuple rank 0 reads,
so that a worker forwards both as bytes without unpickling them."""
from __future__ import annotations

from typing import Any, List, NamedTuple, Optional, Tuple


class Tasks(NamedTuple):
    """A batch for a worker: ``[(task, attempt, arg), ...]``, and for an optimize job
    with a pruner, the pruner's table its evaluations judge their progress by."""

    batch_id: int
    tasks: List[Tuple[int, int, Any]]
    context: Any = None


class Results(NamedTuple):
    """A batch's outcome: store rows as plain tuples in ``store.ResultRow`` order,
    the raw return values for adaptive jobs (else None), compute seconds, and the
    rows' ``results.csv`` lines (``store.export.sheet_text``). A worker whose tasks
    run in a task process sends this tuple's pickle, as the task process made it,
    as bytes (``tasks.message`` reads either)."""

    batch_id: int
    rows: List[tuple]
    raw: Optional[List[Any]]
    compute: float
    curves: Optional[dict] = None   # optimize jobs: {task: (curve, pruned)} (progress)
    sheet: Optional[str] = None     # map jobs: the rows' results.csv lines, when plain
    peak: Optional[int] = None      # the task process's peak resident bytes in the batch
    files: Optional[dict] = None    # program tasks' outputs for the run folder:
    #                                 {task: {name: bytes}} (program.py)
