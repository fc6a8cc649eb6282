"""The scheduler's brain, with no transport in it: batching, retries, the store,
commit-before-count and progress. The MPI main loop (``cluster/main.py``) and the
serial runner (``serial.py``) move batches; this class decides what they hold.
"""
from __future__ import annotations

import logging
import math
import pickle
import resource
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Deque, Dict, List, Optional, Tuple

from .execute import Task
from .job import Job
from .sources import OptimizeSource, Source, objective_problem
from .store import ROW_STATUS, STATUS_FAILED, STATUS_OK, Store

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
    busy: float = 0.0          # seconds inside tasks
    cpu: Optional[float] = None   # the worker process's CPU seconds, told at the end
    wall: Optional[float] = None  # the worker loop's wall seconds, told at the end
    last_seen: float = field(default_factory=time.time)

    def describe(self) -> Dict[str, Any]:
        out: Dict[str, Any] = {"node": self.node, "tasks": self.tasks,
                               "busy_seconds": round(self.busy, 6)}
        if self.cpu is not None and self.wall:
            out.update(cpu_seconds=round(self.cpu, 6), wall_seconds=round(self.wall, 6),
                       busy_fraction=round(self.busy / self.wall, 4))
            idle = self.wall - self.busy
            if idle > 0.5:  # CPU burnt while not in a task: waiting must be cheap
                out["idle_cpu_fraction"] = round(max(self.cpu - self.busy, 0.0) / idle, 4)
        return out


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
        self.in_flight: Dict[int, List[Task]] = {}  # batch id -> its tasks
        self.batch_id = 0
        self.uncounted: List[Tuple[int, bool, Any]] = []  # adaptive jobs: fed to the source
        self.uncounted_ok = 0      # map jobs: only counted
        self.uncounted_failed = 0
        self.taken = 0
        self.told = 0              # adaptive jobs: results fed to the source so far
        self.done_before = 0       # a resume: tasks the run had done already
        self.done = 0
        self.failed = 0
        self.attempts_failed = 0
        self.t_task: Optional[float] = None  # measured seconds per task (EMA)
        self.batch = 1
        self.stopping = False
        self.stop_reason = ""
        self.t0 = time.time()
        self.cpu0 = time.process_time()
        self.last_flush = time.monotonic()
        self.stats: Dict[int, WorkerStats] = {}
        self.lost: Dict[int, Dict[str, Any]] = {}  # worker rank -> node, when, tasks
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

    def next_batch(self) -> Optional[Tuple[int, List[Task]]]:
        """The next batch for a free worker as (batch id, tasks), or None."""
        if self.stopping:
            return None
        if self.source.adaptive and self.uncounted:
            # results in hand must reach the optimizer (or generator) before it makes
            # the next point: commit and tell first, else fast objectives outrun it
            self.flush()
        n = self.batch_size()
        out: List[Task] = []
        while self.retry and len(out) < n:
            out.append(self.retry.popleft())
        if len(out) < n:
            want = n - len(out)
            fresh = self.source.take(want)
            self.taken += len(fresh)
            if fresh and self.source.adaptive:  # the journal --resume replays
                self.store.add_ask(self.told, want, fresh)
            out.extend([(task, 0, arg) for task, arg in fresh])
        if not out:
            return None
        self.batch = max(self.batch, len(out))
        self.batch_id += 1
        self.in_flight[self.batch_id] = out
        return self.batch_id, out

    def give_back(self, batch_id: int) -> None:
        """A batch sent out but never run (a soft stop, a lost worker) goes back in line."""
        tasks = self.in_flight.pop(batch_id, None)
        if tasks:
            self.retry.extend(tasks)

    # -- taking results -----------------------------------------------------
    def receive(self, batch_id: int, worker: int, rows: List[Tuple], raw: Optional[List[Any]],
                compute: float, node: str = "?") -> None:
        """Take a batch's store rows (``rows_for``) and, for adaptive jobs, the raw
        results; they are counted at the next commit."""
        tasks = self.in_flight.pop(batch_id, None)
        if tasks is None:  # a duplicate (a worker thought lost came back)
            return
        st = self.stats.get(worker)
        if st is None:
            st = self.stats[worker] = WorkerStats(node=node)
        st.tasks += len(rows)
        st.busy += compute
        st.last_seen = time.time()
        if rows:
            per = compute / len(rows)
            self.t_task = per if self.t_task is None else 0.7 * self.t_task + 0.3 * per
        if self.single:
            rows = [self._check_objective(row, r) for row, r in zip(rows, raw)]
        clean = all(row[ROW_STATUS] == STATUS_OK for row in rows)
        self.store.add_rows(rows)
        if clean and not self.source.adaptive:
            self.uncounted_ok += len(rows)
            return
        for i, row in enumerate(rows):
            ok = row[ROW_STATUS] == STATUS_OK
            if not ok:
                self.attempts_failed += 1
                task, attempt, arg = tasks[i]
                if attempt < self.job.retries and not self.stopping:
                    self.retry.append((task, attempt + 1, arg))
                    continue
            if self.source.adaptive:
                self.uncounted.append((row[0], ok, raw[i] if ok else None))
            elif ok:
                self.uncounted_ok += 1
            else:
                self.uncounted_failed += 1

    @staticmethod
    def _check_objective(row: Tuple, result: Any) -> Tuple:
        """An optimize task that returned no usable number is a failed task."""
        if row[ROW_STATUS] != STATUS_OK:
            return row
        problem = objective_problem(result)
        if problem is None:
            return row
        return row[:ROW_STATUS] + (STATUS_FAILED, None, row[5], problem) + row[7:]

    def worker_lost(self, worker: int, node: str, tasks: int) -> None:
        self.lost[worker] = {"node": node, "at": time.time(), "tasks_requeued": tasks}

    def worker_finished(self, worker: int, cpu: float, wall: float, node: str = "?") -> None:
        st = self.stats.setdefault(worker, WorkerStats(node=node))
        st.cpu, st.wall = cpu, wall

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
        self.done += self.uncounted_ok + self.uncounted_failed
        self.failed += self.uncounted_failed
        self.uncounted_ok = self.uncounted_failed = 0
        counted, self.uncounted = self.uncounted, []
        for task, ok, result in counted:
            self.done += 1
            self.told += 1
            if not ok:
                self.failed += 1
            self.source.done(task, ok, result)

    @property
    def finished(self) -> bool:
        """No task in flight, nothing to commit, and no task will come."""
        if (self.in_flight or self.uncounted or self.uncounted_ok or self.uncounted_failed
                or self.store.pending_rows):
            return False
        return self.stopping or (not self.retry and self.source.exhausted)

    # -- reporting ----------------------------------------------------------
    def progress_line(self, live_workers: Optional[int] = None) -> str:
        elapsed = max(time.time() - self.t0, 1e-9)
        rate = (self.done - self.done_before) / elapsed
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
            "tasks_per_second": (round((self.done - self.done_before) / elapsed, 3)
                                 if elapsed > 0 else None),
            "stopped": self.stop_reason or None,
            "main_cpu_seconds": round(time.process_time() - self.cpu0, 3),
            "main_peak_rss_mb": round(_peak_rss_mb(), 1),
            "workers": {str(w): st.describe() for w, st in sorted(self.stats.items())},
        }
        if self.lost:
            out["lost_workers"] = {str(w): v for w, v in sorted(self.lost.items())}
        best = self.source.best()
        if best is not None:
            out["best"] = {"params": best[0], "value": best[1]}
        return out


def _peak_rss_mb() -> float:
    """This process's peak resident memory (Linux reports KiB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if peak > 2**32 else peak / 1024


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
