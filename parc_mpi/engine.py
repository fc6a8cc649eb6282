"""The scheduling policy, with no transport in it.

:class:`Scheduler` decides everything: how big a batch is, which worker gets the
next one, the retry rule, what happens to a lost worker's batches, when results are
committed and counted (commit before count), and when the run is over. The MPI main
loop (``cluster/main.py``) and the serial runner (``runner.run_serial``) only move
messages and call its methods; nothing outside writes its fields.
"""
from __future__ import annotations

import json
import logging
import math
import os
import pickle
import resource
import sys
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable, Deque, Dict, Iterable, List, Optional, Set, Tuple

from .eta import eta_seconds
from .execute import Task
from .job import Job
from .sources import OptimizeSource, Source
from .store import STATUS_FAILED, STATUS_KILLED, STATUS_OK, ResultRow, Store
from .store.digest import Digest
from .store.export import CsvStream

log = logging.getLogger(__name__)


TARGET_BATCH_SECONDS = 0.02   # work per message: message cost stays a small fraction
MAX_BATCH = 100_000
GROWTH = 4                     # a batch is at most GROWTH times the previous one
FLUSH_SECONDS_MAP = 0.5        # map jobs: a commit every half second at most
FLUSH_SECONDS_ADAPTIVE = 0.02  # adaptive jobs: results feed new tasks, commit soon
FLUSH_ROWS = 20_000
RESULT_STATUS = ResultRow._fields.index("status")  # rows arrive as plain tuples (hot path)
RESULT_ERROR = ResultRow._fields.index("error")
RESULT_T_START = ResultRow._fields.index("t_start")   # t_end follows it
KILL_LIMIT = 3     # a task whose process died this many times fails for good (poison;
#                    Dask's allowed-failures is 3 too)
USAGE_BATCH = 64   # peak memory is stored per task for batches up to this size


# --thermal: near the end, a hot node's workers get no task while the tasks left are at
# most this many rounds of the cooler workers. A throttled Pi 4 runs at 600 of 1,800 MHz,
# a third: two rounds elsewhere end before one there.
TAIL_ROUNDS = 2


def retry_due(status: str, attempt: int, kills: int, retries: int) -> bool:
    """Whether a task's failed attempt runs again: one whose process died
    (``killed``: maybe the node's doing) until it has died ``KILL_LIMIT`` times
    (``kills`` counts this one), whatever ``retries`` says; any other failure while
    its failures that were not deaths stay within ``retries``."""
    if status == STATUS_KILLED:
        return kills < KILL_LIMIT
    return attempt - kills < retries


@dataclass
class WorkerStats:
    node: str = "?"
    tasks: int = 0
    busy: float = 0.0          # seconds inside tasks
    bytes_in: int = 0          # bytes of results messages received from it
    cpu: Optional[float] = None   # the worker process's CPU seconds, told at the end
    wall: Optional[float] = None  # the worker loop's wall seconds, told at the end
    last_seen: float = field(default_factory=time.time)

    def describe(self) -> Dict[str, Any]:
        out: Dict[str, Any] = {"node": self.node, "tasks": self.tasks,
                               "busy_seconds": round(self.busy, 6)}
        if self.bytes_in:
            out["bytes_in"] = self.bytes_in
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
        self.held: Dict[int, Set[int]] = {}         # worker -> the batch ids it holds
        self.batch_id = 0
        self.uncounted: List[Tuple[int, bool, Any, Any]] = []  # adaptive jobs: for the source
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
        self.kills: Dict[int, int] = {}   # task -> how often its process died
        self.avoid: Dict[int, int] = {}   # task -> the worker it died on (run it elsewhere)
        self.killed_attempts = 0
        self.sheet: Optional[CsvStream] = None  # results.csv as results arrive (map jobs)
        self.digest: Optional[Digest] = None    # what the report reads, kept as they arrive
        self.benched: Set[int] = set()   # workers given no tasks (cores per task: place())
        self.sizing: Optional[Cores] = None   # cores that differ by task: where each fits
        self.waiting: Deque[Task] = deque()   # tasks waiting for a node with their cores
        self.hot: Set[int] = set()   # --thermal: workers on a node that is hot now
        self.thermal: Optional[Dict[str, Any]] = None   # ... and what the summary keeps

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

    # -- the policy's decisions, as methods --------------------------------
    def start_clock(self) -> None:
        """Rates and CPU count from now (an MPI run: after the network benchmark)."""
        self.t0, self.cpu0 = time.time(), time.process_time()

    def request_stop(self, reason: str) -> None:
        """A soft stop: no new tasks; tasks out now finish and are stored."""
        if not self.stopping:
            log.debug("stop requested (%s): %d batch(es) out", reason, len(self.in_flight))
            self.stopping = True
            self.stop_reason = reason

    def restore(self, *, done: int, failed: int, attempts_failed: int, taken: int,
                told: int, rerun: Iterable[Task], kills: Optional[Dict[int, int]] = None
                ) -> None:
        """Stand where a stored run stood (``--resume``): counts, and the tasks to
        run again first."""
        self.kills = dict(kills or {})
        self.done = self.done_before = done
        self.failed = failed
        self.attempts_failed = attempts_failed
        self.taken = taken
        self.told = told
        self.retry.extend(rerun)

    def assign(self, free: Dict[int, int]) -> List[Tuple[int, Tuple[int, List[Task]]]]:
        """Batches for workers with free slots (``{worker: slots}``), as
        ``[(worker, (batch id, tasks)), ...]``: each worker in rank order is topped
        up to its slots before the next, so a fast worker's freed slot is refilled
        as soon as its result arrives."""
        out = []
        sized = self.sizing is not None
        hot = self.hot
        tail = bool(hot) and self._near_end()
        for w in sorted(free, key=lambda w: (w in hot, w)) if hot else sorted(free):
            if sized and self.holding(w):   # its cores are reserved: no queue behind
                continue
            if tail and w in hot:   # near the end: a cooler worker will take it sooner
                continue
            for _ in range(1 if sized else free[w]):
                batch = self.next_batch(w)
                if batch is None:
                    if not self.avoid and not sized:
                        return out   # nothing for anyone (sized: maybe for another node)
                    break   # only tasks this worker should not run: ask the next one
                out.append((w, batch))
        return out

    def _near_end(self) -> bool:
        """Are the tasks left to hand out no more than TAIL_ROUNDS rounds of the cooler
        workers (--thermal)? Then a task started on a hot node would finish after the
        rest: it waits for a cooler worker."""
        total = self.source.total
        if total is None:
            return False
        left = max(0, total - self.taken) + len(self.retry) + len(self.waiting)
        cool = self.workers - len(self.lost) - len(self.hot - set(self.lost))
        return left <= TAIL_ROUNDS * max(cool, 0)

    def holding(self, worker: int) -> int:
        """How many batches ``worker`` holds."""
        held = self.held.get(worker)
        return len(held) if held else 0

    @property
    def drained(self) -> bool:
        """Nothing to hand out and nothing coming back: workers can be told to stop.
        (Results still to be counted may make an adaptive source produce more; the
        caller commits them first.)"""
        return (not self.in_flight and not self.retry and not self.waiting
                and not self.has_uncounted and self.source.exhausted)

    @property
    def has_uncounted(self) -> bool:
        """Results received but not yet committed and counted."""
        return bool(self.uncounted or self.uncounted_ok or self.uncounted_failed
                    or self.store.pending_rows)

    def next_batch(self, worker: Optional[int] = None) -> Optional[Tuple[int, List[Task]]]:
        """The next batch for a free worker as (batch id, tasks), or None."""
        if self.stopping:
            return None
        if self.source.adaptive and self.uncounted:
            # results in hand must reach the optimizer (or generator) before it makes
            # the next point: commit and tell first, else fast objectives outrun it
            self.flush()
        if self.sizing is not None:
            return self._next_sized(worker)
        n = self.batch_size()
        out: List[Task] = []
        if self.retry and self.kills:
            first = self._retry_for(worker)
            if first is not None and first[0] in self.kills:
                n = 1   # a task whose process died runs alone: it takes nothing down
            if first is not None:
                out.append(first)
        while self.retry and len(out) < n and not (self.kills and self.retry[0][0] in self.kills):
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
        if worker is not None:
            self.held.setdefault(worker, set()).add(self.batch_id)
        return self.batch_id, out

    def _next_sized(self, worker: Optional[int]) -> Optional[Tuple[int, List[Task]]]:
        """One task whose cores are free on ``worker``'s node: a task to run again,
        one that waited for cores, or a fresh one (a few wait while nodes are full)."""
        sizing = self.sizing
        worker = 0 if worker is None else worker
        free = sizing.free(worker)
        for pool in (self.retry, self.waiting):
            i = 0
            while i < len(pool):
                t = pool[i]
                why = sizing.problem(t)
                if why or sizing.need(t) <= free:
                    del pool[i]
                    if not why:
                        return self._hand(worker, t)
                    self._fail_here(t, why)   # may put it back to run again: finitely
                    continue
                i += 1
        while len(self.waiting) < 2 * self.workers:
            fresh = self.source.take(1)
            if not fresh:
                return None
            self.taken += 1
            if self.source.adaptive:
                self.store.add_ask(self.told, 1, fresh)
            t = (fresh[0][0], 0, fresh[0][1])
            why = sizing.problem(t)
            if why:
                self._fail_here(t, why)
                continue
            if sizing.need(t) <= free:
                return self._hand(worker, t)
            self.waiting.append(t)
        return None

    def _hand(self, worker: int, t: Task) -> Tuple[int, List[Task]]:
        self.batch_id += 1
        self.in_flight[self.batch_id] = [t]
        self.held.setdefault(worker, set()).add(self.batch_id)
        self.sizing.reserve(self.batch_id, worker, t)
        return self.batch_id, [t]

    def _fail_here(self, t: Task, why: str) -> None:
        """A task that cannot run anywhere fails on the main node with its reason."""
        from .store.values import encode
        self.batch_id += 1
        self.in_flight[self.batch_id] = [t]
        now = time.time()
        row = (t[0], t[1], encode(t[2], None), STATUS_FAILED, None, None,
               f"task {t[0]}: {why}", -1, "main", now, now)
        had = -1 in self.stats
        self.receive(self.batch_id, -1, [row], [None], 0.0, "main")
        if not had:
            self.stats.pop(-1, None)

    def _retry_for(self, worker: Optional[int]) -> Optional[Task]:
        """The next task to run again, skipping those whose process died on this
        worker while another worker is there to take them."""
        others = self.workers - len(self.lost) > 1
        for _ in range(len(self.retry)):
            t = self.retry[0]
            if others and worker is not None and self.avoid.get(t[0]) == worker:
                self.retry.rotate(-1)
                continue
            return self.retry.popleft()
        return None

    def give_back(self, batch_id: int, worker: Optional[int] = None) -> None:
        """A batch sent out but never run (a soft stop, a lost worker) goes back in line."""
        if worker is not None:
            self.held.get(worker, set()).discard(batch_id)
        tasks = self.in_flight.pop(batch_id, None)
        if self.sizing is not None:
            self.sizing.release(batch_id)
        if tasks:
            self.retry.extend(tasks)

    # -- taking results -----------------------------------------------------
    def context(self) -> Any:
        """What a worker needs beside the tasks: an optimize job's pruner table."""
        return self.source.context()

    def received_bytes(self, worker: int, n: int, node: str = "?") -> None:
        """A results message of ``n`` bytes came from ``worker`` (the network's share
        of the run, analysis.py)."""
        st = self.stats.get(worker)
        if st is None:
            st = self.stats[worker] = WorkerStats(node=node)
        st.bytes_in += n

    def receive(self, batch_id: int, worker: int, rows: List[Tuple], raw: Optional[List[Any]],
                compute: float, node: str = "?", curves: Optional[dict] = None,
                sheet: Optional[str] = None, peak: Optional[int] = None,
                files: Optional[dict] = None) -> None:
        """Take a batch's store rows (plain tuples in ResultRow order, made by
        ``store.rows_for``) and, for adaptive jobs, the raw results, for optimize
        jobs the progress curves by task, for map jobs the rows' results.csv lines
        (``sheet``, when the worker made them), and program tasks' output files
        (``files``, written to the run folder before their rows are stored); they are
        counted at the next commit."""
        held = self.held.get(worker)
        if held:
            held.discard(batch_id)
        tasks = self.in_flight.pop(batch_id, None)
        if tasks is None:  # a duplicate (a worker thought lost came back)
            return
        if self.sizing is not None:
            self.sizing.release(batch_id)
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
            rows = self._check_objectives(rows, raw, curves)
        status = RESULT_STATUS
        clean = all(row[status] == STATUS_OK for row in rows)
        if files:
            save_outputs(self.store.run_dir, files)
        self.store.add_rows(rows)
        if peak is not None and len(rows) <= USAGE_BATCH:
            mbytes = round(peak / 2**20, 1)
            self.store.add_usage([(row[0], row[1], mbytes) for row in rows])
        if self.avoid:   # tasks that died before and are now done
            for row in rows:
                if row[status] != STATUS_KILLED:
                    self.avoid.pop(row[0], None)
        learns = getattr(self.source, "learner", None) is not None   # --order learn
        if learns:   # each task's seconds on its worker
            t0, t1 = RESULT_T_START, RESULT_T_START + 1
            for row in rows:
                if row[status] == STATUS_OK and row[t0] is not None and row[t1] is not None:
                    self.source.observe(row[0], row[t1] - row[t0])
        if clean and not self.source.adaptive:
            self.uncounted_ok += len(rows)
            if self.sheet is not None:
                self.sheet.add(rows, sheet)
            if self.digest is not None:
                self.digest.add(rows, None, clean=True, plain=sheet is not None)
            return
        final, where = [], []
        for i, row in enumerate(rows):
            ok = row[status] == STATUS_OK
            if not ok:
                self.attempts_failed += 1
                task, attempt, arg = tasks[i]
                kills = 0
                if row[status] == STATUS_KILLED:
                    self.killed_attempts += 1
                    kills = self.kills[task] = self.kills.get(task, 0) + 1
                    self.avoid[task] = worker
                    print(f"[parc_mpi] warning: task {task}: {row[RESULT_ERROR]}"
                          + ("; it runs again" if kills < KILL_LIMIT else
                             f"; {KILL_LIMIT} times: it fails for good"),
                          file=sys.stderr, flush=True)
                elif self.kills:
                    kills = self.kills.get(task, 0)
                if retry_due(row[status], attempt, kills, self.job.retries) \
                        and not self.stopping:
                    self.retry.append((task, attempt + 1, arg))
                    continue
            final.append(row)
            where.append(i)
            if self.source.adaptive:
                task = tasks[i][0]
                self.uncounted.append((task, ok, raw[i] if ok else None,
                                       curves.get(task) if curves else None))
            elif ok:
                self.uncounted_ok += 1
            else:
                self.uncounted_failed += 1
        if self.sheet is not None:
            self.sheet.add(final)
        if self.digest is not None:
            self.digest.add(rows, where)

    def _check_objectives(self, rows: List[Tuple], raw: List[Any],
                          curves: Optional[dict]) -> List[ResultRow]:
        """An optimize task's result read through the goal: one that gives no usable
        number is a failed task; the stored value is the objective when it is one,
        feasible and not pruned; several objectives, constraints and progress curves
        go to the store's trials and curves tables."""
        goal = self.source.goal
        out, records, points = [], [], []
        for row, result in zip(rows, raw):
            row = ResultRow._make(row)
            if row.status != STATUS_OK:
                out.append(row)
                continue
            told = goal.read(result)
            if told.problem:
                out.append(row._replace(status=STATUS_FAILED, value=None, error=told.problem))
                continue
            curve, pruned = curves.get(row.task, (None, False)) if curves else (None, False)
            if curve:
                points.extend((row.task, s, v) for s, v in curve)
            if goal.multi or told.constraints or curve:
                values = list(goal.values(told.f).values())
                records.append((row.task, json.dumps(values), json.dumps(list(told.constraints))
                                if told.constraints else None, told.violation, int(pruned)))
            value = None
            if not goal.multi and told.violation == 0 and not pruned:
                value = float(goal.signs[0] * told.f[0])
            out.append(row._replace(value=value) if value != row.value else row)
        self.store.add_trials(records)
        self.store.add_curves(points)
        return out

    def worker_lost(self, worker: int, node: str) -> int:
        """A worker gone silent: every batch it held goes back in line for the
        others, and whatever it sends later is ignored. Returns the tasks requeued."""
        batches = sorted(self.held.pop(worker, set()))
        tasks = sum(len(self.in_flight.get(b, ())) for b in batches)
        for bid in batches:
            self.give_back(bid)
        self.lost[worker] = {"node": node, "at": time.time(), "tasks_requeued": tasks}
        log.debug("worker %d on %s lost: %d batch(es), %d task(s) requeued", worker, node,
                  len(batches), tasks)
        return tasks

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
        n = self.store.flush()
        if n and log.isEnabledFor(logging.DEBUG):
            log.debug("committed %d row(s); %d done, %d batch(es) out, %d to retry", n,
                      self.done + len(self.uncounted) + self.uncounted_ok +
                      self.uncounted_failed, len(self.in_flight), len(self.retry))
        self.last_flush = time.monotonic()
        self.done += self.uncounted_ok + self.uncounted_failed
        self.failed += self.uncounted_failed
        self.uncounted_ok = self.uncounted_failed = 0
        counted, self.uncounted = self.uncounted, []
        for task, ok, result, extra in counted:
            self.done += 1
            self.told += 1
            if not ok:
                self.failed += 1
            self.source.done(task, ok, result, extra)

    @property
    def finished(self) -> bool:
        """No task in flight, nothing to commit, and no task will come."""
        if self.in_flight or self.has_uncounted:
            return False
        return self.stopping or (not self.retry and not self.waiting and
                                 self.source.exhausted)

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
        note = self.source.note()
        if note:
            parts.append(note)
        if live_workers is not None:
            parts.append(f"{live_workers}/{len(self.stats) or live_workers} workers")
        eta = eta_seconds(self.done - self.done_before, total and total - self.done_before,
                          rate, self.workers, elapsed)
        if eta is not None:
            parts.append(f"ETA {_hms(eta)}")
        return ", ".join(parts)

    def summary(self) -> Dict[str, Any]:
        elapsed = time.time() - self.t0
        out: Dict[str, Any] = {
            "tasks": self.done, "ok": self.done - self.failed, "failed": self.failed,
            "failed_attempts": self.attempts_failed, "seconds": round(elapsed, 3),
            "killed_attempts": self.killed_attempts,
            "tasks_per_second": (round((self.done - self.done_before) / elapsed, 3)
                                 if elapsed > 0 else None),
            "stopped": self.stop_reason or None,
            "main_cpu_seconds": round(time.process_time() - self.cpu0, 3),
            "main_peak_rss_mb": round(_peak_rss_mb(), 1),
            "workers": {str(w): st.describe() for w, st in sorted(self.stats.items())},
        }
        if self.lost:
            out["lost_workers"] = {str(w): v for w, v in sorted(self.lost.items())}
        if self.thermal is not None:
            out["thermal"] = self.thermal
        if hasattr(self.source, "optimizer_seconds"):   # its asks and tells, on rank 0
            out["optimizer_seconds"] = round(self.source.optimizer_seconds, 4)
        best = self.source.best()
        if best is not None:
            out["best"] = {"params": best[0], "value": best[1]}
            detail = self.source.best_detail()
            if detail is not None:   # noisy values: an estimate, with its spread
                out["best"] = detail
        return out


def node_cores(host: Optional[str] = None) -> int:
    """The cores this node offers tasks: ``$PARC_MPI_CORES`` when it says (a number for
    this node, or ``pi0=8,pi1=4`` by host name, which the launcher can pass to every
    node alike; the simulated box sets it from the node list, its nodes sharing one
    machine), else the CPUs this process may run on."""
    env = os.environ.get("PARC_MPI_CORES", "").strip()
    if env:
        if "=" not in env and env.isdigit() and int(env) > 0:
            return int(env)
        import socket
        names = {host or socket.gethostname()}
        names |= {n.split(".")[0] for n in names}
        for part in env.split(","):
            name, _, value = part.strip().partition("=")
            if name.strip() in names and value.strip().isdigit() and int(value) > 0:
                return int(value)
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


class Cores:
    """Tasks whose cores differ (``cores=`` a function of the task's argument): a task
    goes to a worker only where its node has that many cores free, reserved from when
    it is handed out until its result comes back (or it is given back)."""

    def __init__(self, of: Callable[[Any], int], hosts: Dict[int, str],
                 offered: Dict[str, int]):
        self.of, self.hosts, self.offered = of, hosts, dict(offered)
        self.in_use: Dict[str, int] = {h: 0 for h in self.offered}
        self.held: Dict[int, Tuple[str, int]] = {}   # batch id -> (host, cores)
        self.needs: Dict[int, Any] = {}              # task -> its cores (or why not)
        self.largest = max(self.offered.values()) if self.offered else 1

    def _ask(self, t: Task) -> Any:
        got = self.needs.get(t[0])
        if got is None:
            try:
                got = self.of(t[2])
            except Exception as exc:  # the user's function
                got = f"cores({t[2]!r}) raised {type(exc).__name__}: {exc}"
            else:
                if isinstance(got, bool) or not isinstance(got, int) or got < 1:
                    got = f"cores({t[2]!r}) must give a positive integer, got {got!r}"
                elif got > self.largest:
                    got = (f"needs {got} cores; no node has that many (the most is "
                           f"{self.largest})")
            self.needs[t[0]] = got
        return got

    def problem(self, t: Task) -> Optional[str]:
        got = self._ask(t)
        return got if isinstance(got, str) else None

    def need(self, t: Task) -> int:
        got = self._ask(t)
        return got if isinstance(got, int) else 1

    def free(self, worker: int) -> int:
        host = self.hosts.get(worker)
        return self.offered.get(host, 1) - self.in_use.get(host, 0)

    def reserve(self, batch_id: int, worker: int, t: Task) -> None:
        host = self.hosts.get(worker)
        c = self.need(t)
        self.in_use[host] = self.in_use.get(host, 0) + c
        self.held[batch_id] = (host, c)

    def release(self, batch_id: int) -> None:
        got = self.held.pop(batch_id, None)
        if got is not None:
            self.in_use[got[0]] -= got[1]


def place(cores: int, workers: List[int], hosts: List[str], offered: Dict[str, int]
          ) -> Tuple[List[int], Set[int], str]:
    """Which workers take tasks that use ``cores`` cores each, so that no node runs
    more task threads than it has cores: on each node, its lowest worker ranks, as
    many as its cores hold such tasks (``offered``: cores by host; ``hosts``: by rank).
    Returns (the workers that take tasks, those that take none, a line saying so);
    raises ValueError when no node has ``cores`` cores."""
    by_node: Dict[str, List[int]] = {}
    for w in workers:
        by_node.setdefault(hosts[w], []).append(w)
    takers: List[int] = []
    notes = []
    for host, ranks in by_node.items():
        room = offered.get(host, 1) // cores
        takers.extend(ranks[:room])
        if room < len(ranks):
            notes.append(f"{host} {min(room, len(ranks))} of {len(ranks)}")
    if not takers:
        best = max(offered.get(h, 1) for h in by_node) if by_node else 0
        raise ValueError(f"cores={cores}: no node has that many cores (the most is {best}, "
                         f"on {', '.join(h for h in by_node if offered.get(h, 1) == best)})")
    benched = set(workers) - set(takers)
    line = ""
    if benched:
        line = (f"{cores} cores per task: {len(takers)} of {len(workers)} workers take tasks "
                f"({', '.join(notes)}), so that no node runs more task threads than cores")
    return sorted(takers), benched, line


def save_outputs(run_dir: str, files: Dict[int, Dict[str, bytes]]) -> None:
    """Program tasks' outputs into ``<run>/outputs/task-<N>/`` (each file whole or not
    at all: written aside, then renamed)."""
    for task, named in files.items():
        folder = os.path.join(run_dir, "outputs", f"task-{task}")
        for name, data in named.items():
            path = os.path.join(folder, name)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            tmp = path + ".part"
            with open(tmp, "wb") as fh:
                fh.write(data)
            os.replace(tmp, path)


def _peak_rss_mb() -> float:
    """This process's peak resident memory (Linux reports KiB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if peak > 2**32 else peak / 1024


def _hms(seconds: float) -> str:
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}"


def check_picklable(first: Any, label: str) -> None:
    """Raise ValueError naming the culprit when a task argument cannot be sent."""
    try:
        pickle.dumps(first, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as exc:
        raise ValueError(f"{label}: the first task's argument cannot be sent to the workers "
                         f"(not picklable: {exc})") from None
