"""The scheduler's brain, with no transport in it: batching, retries, the store,
commit-before-count and progress. The MPI main loop (``cluster/main.py``) and the
serial runner (``serial.py``) move batches; this class decides what they hold.
"""
from __future__ import annotations

import logging
import math
import pickle
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Deque, Dict, List, Optional, Tuple

from .execute import Outcome, Task
from .job import Job
from .sources import OptimizeSource, Source, objective_problem
from .store import STATUS_FAILED, STATUS_OK, STATUS_TIMEOUT, Store

log = logging.getLogger(__name__)

TARGET_BATCH_SECONDS = 0.02   # work per message: message cost stays a small fraction
MAX_BATCH = 100_000
GROWTH = 4                     # a batch is at most GROWTH times the previous one
FLUSH_SECONDS_MAP = 0.5        # map jobs: a commit every half second at most
FLUSH_SECONDS_ADAPTIVE = 0.02  # adaptive jobs: results feed new tasks, commit soon
FLUSH_ROWS = 20_000


@dataclass
class WorkerStats:
    node: str = "?"
    tasks: int = 0
    busy: float = 0.0
    last_seen: float = field(default_factory=time.time)


class Scheduler:
    """Hands out batches of tasks and takes their outcomes.

    Parameters
    ----------
    job : Job
    source : Source
    store : Store
    workers : int
        How many workers share the tasks (sizes batches near the end of a run).
    """

    def __init__(self, job: Job, source: Source, store: Store, workers: int = 1):
        self.job = job
        self.source = source
        self.store = store
        self.workers = max(1, workers)
        self.retry: Deque[Task] = deque()
        self.in_flight: Dict[int, Tuple[int, Any]] = {}  # task -> (attempt, arg)
        self.uncounted: List[Tuple[int, bool, Any]] = []
        self.taken = 0
        self.done = 0
        self.failed = 0
        self.attempts_failed = 0
        self.t_task: Optional[float] = None  # measured seconds per task (EMA)
        self.batch = 1
        self.stopping = False
        self.stop_reason = ""
        self.t0 = time.time()
        self.last_flush = time.monotonic()
        self.stats: Dict[int, WorkerStats] = {}
        self.single = isinstance(source, OptimizeSource)  # one point per message

    # -- handing out work ---------------------------------------------------
    def batch_size(self) -> int:
        if self.single or self.t_task is None:
            return 1
        size = int(TARGET_BATCH_SECONDS / max(self.t_task, 1e-9))
        size = max(1, min(size, self.batch * GROWTH, MAX_BATCH))
        total = self.source.total
        if total is not None:  # guided: near the end, share what is left evenly
            left = total - self.taken
            size = min(size, max(1, math.ceil(left / (2 * self.workers))))
        return size

    def next_batch(self) -> List[Task]:
        """The next batch for a free worker, or [] when there is none now."""
        if self.stopping:
            return []
        n = self.batch_size()
        out: List[Task] = []
        while self.retry and len(out) < n:
            out.append(self.retry.popleft())
        if len(out) < n:
            fresh = self.source.take(n - len(out))
            self.taken += len(fresh)
            out.extend((task, 0, arg) for task, arg in fresh)
        for task, attempt, arg in out:
            self.in_flight[task] = (attempt, arg)
        if out:
            self.batch = max(self.batch, len(out))
        return out

    def give_back(self, tasks: List[Task]) -> None:
        """Tasks sent out but never run (a soft stop, a lost worker) go back in line."""
        for task, attempt, arg in tasks:
            if task in self.in_flight:
                self.retry.append((task, attempt, arg))
                del self.in_flight[task]

    # -- taking results -----------------------------------------------------
    def receive(self, worker: int, outcomes: List[Outcome], compute: float,
                node: str = "?") -> None:
        """Record a batch of outcomes (queued for the next commit)."""
        st = self.stats.get(worker)
        if st is None:
            st = self.stats[worker] = WorkerStats(node=node)
        st.tasks += len(outcomes)
        st.busy += compute
        st.last_seen = time.time()
        if outcomes:
            per = compute / len(outcomes)
            self.t_task = per if self.t_task is None else 0.7 * self.t_task + 0.3 * per
        for task, attempt, ok, result, t_start, t_end in outcomes:
            entry = self.in_flight.pop(task, None)
            if entry is None:  # a duplicate (a worker thought lost came back)
                continue
            arg = entry[1]
            status = STATUS_OK
            error = None
            if ok and self.single:
                problem = objective_problem(result)
                if problem:
                    ok, status, error = False, STATUS_FAILED, problem
            elif not ok:
                status = STATUS_TIMEOUT if _is_timeout(result) else STATUS_FAILED
                error, result = result, None
            self.store.add_result(task, attempt, status, arg, result if ok else None, error,
                                  worker, node, t_start, t_end)
            if not ok:
                self.attempts_failed += 1
                if attempt < self.job.retries and not self.stopping:
                    self.retry.append((task, attempt + 1, arg))
                    continue
            self.uncounted.append((task, ok, result))

    def flush_due(self) -> bool:
        if not self.store.pending_rows:
            return False
        wait = FLUSH_SECONDS_ADAPTIVE if self.source.adaptive else FLUSH_SECONDS_MAP
        return (time.monotonic() - self.last_flush >= wait
                or self.store.pending_rows >= FLUSH_ROWS)

    def flush(self) -> None:
        """Commit queued rows, then count them (and feed them to the job)."""
        self.store.flush()
        self.last_flush = time.monotonic()
        counted, self.uncounted = self.uncounted, []
        for task, ok, result in counted:
            self.done += 1
            if not ok:
                self.failed += 1
            self.source.done(task, ok, result)

    @property
    def finished(self) -> bool:
        """No task in flight, nothing to commit, and no task will come."""
        if self.in_flight or self.uncounted or self.store.pending_rows:
            return False
        return self.stopping or (not self.retry and self.source.exhausted)

    # -- reporting ----------------------------------------------------------
    def progress_line(self, live_workers: Optional[int] = None) -> str:
        elapsed = max(time.time() - self.t0, 1e-9)
        rate = self.done / elapsed
        total = self.source.total
        parts = [f"{self.done}/{total}" if total is not None else f"{self.done} done"]
        if total:
            parts[0] += f" ({100.0 * self.done / total:.0f}%)"
        parts.append(f"{self.failed} failed")
        parts.append(f"{rate:,.1f} tasks/s")
        best = self.source.best()
        if best is not None:
            parts.append(f"best {best[1]:.6g}")
        if live_workers is not None:
            parts.append(f"{live_workers}/{len(self.stats) or live_workers} workers")
        if total and rate > 0 and self.done < total:
            parts.append(f"ETA {_hms((total - self.done) / rate)}")
        return ", ".join(parts)

    def summary(self) -> Dict[str, Any]:
        elapsed = time.time() - self.t0
        out: Dict[str, Any] = {
            "tasks": self.done, "ok": self.done - self.failed, "failed": self.failed,
            "failed_attempts": self.attempts_failed, "seconds": round(elapsed, 3),
            "tasks_per_second": round(self.done / elapsed, 3) if elapsed > 0 else None,
            "stopped": self.stop_reason or None,
        }
        best = self.source.best()
        if best is not None:
            out["best"] = {"params": best[0], "value": best[1]}
        return out


def _is_timeout(text: Any) -> bool:
    return isinstance(text, str) and "parc_mpi.execute.TaskTimeout" in text


def _hms(seconds: float) -> str:
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}"


def check_picklable(job: Job, first: Any, label: str) -> None:
    """Raise ValueError naming the culprit when a task argument cannot be sent."""
    try:
        pickle.dumps(first, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as exc:
        raise ValueError(f"{label}: the first task's argument cannot be sent to the workers "
                         f"(not picklable: {exc})") from None
