"""Task sources: where a job's tasks come from, one class per job kind.

A source hands out ``(task, arg)`` pairs with :meth:`take` and hears about
committed results with :meth:`done`; ``exhausted`` says no task will ever come
again unless a result brings one (a generator) -- the scheduler ends the run when
the source is exhausted and nothing is in flight.
"""
from __future__ import annotations

import itertools
import math
import time
from collections import deque
from typing import Any, Deque, Dict, Iterator, List, Optional, Tuple

from .job import GenerateJob, Job, MapJob, OptimizeJob
from .optimizers import Optimizer, Trial


class Source:
    adaptive = False  # results feed back into new tasks: commit them quickly
    total: Optional[int] = None

    def take(self, n: int) -> List[Tuple[int, Any]]:
        raise NotImplementedError

    def done(self, task: int, ok: bool, result: Any, extra: Any = None) -> None:
        """A committed final outcome of a task (``extra``: an optimize task's
        ``(curve, pruned)`` when it reported progress)."""

    def context(self) -> Any:
        """What the workers need beside the tasks (an optimizer's pruner table)."""
        return None

    def note(self) -> Optional[str]:
        """A word on the search for the progress line (several objectives: the front)."""
        return None

    @property
    def exhausted(self) -> bool:
        raise NotImplementedError

    def best(self) -> Optional[Tuple[Any, float]]:
        return None

    def best_detail(self) -> Optional[Dict[str, Any]]:
        """Where the best is an estimate (noisy values), what it rests on."""
        return None


class MapSource(Source):
    """Items of a (possibly lazy) iterable; task id = position in the iterable."""

    def __init__(self, job: MapJob, workers: int = 1):
        try:
            self.total = len(job.items)  # type: ignore[arg-type]
        except TypeError:
            self.total = None
        # cost=: the costliest first (the task number stays the item's position)
        self._it: Iterator = iter(job.ordered()) if job.cost is not None else enumerate(job.items)
        self._exhausted = False
        self.skip: Optional[set] = None  # a resume: tasks already done
        self.learner: Optional[CostLearner] = (CostLearner(job.items, workers)
                                               if job.order == "learn" else None)

    def observe(self, task: int, seconds: float) -> None:
        """A task's measured seconds (--order learn)."""
        if self.learner is not None:
            self.learner.observe(task, seconds)

    def take(self, n: int) -> List[Tuple[int, Any]]:
        if self.learner is not None:
            got: List[Tuple[int, Any]] = []
            while len(got) < n and self.learner.left:
                got.extend(x for x in self.learner.take(n - len(got))
                           if not self.skip or x[0] not in self.skip)
            self._exhausted = not self.learner.left
            return got
        out: List[Tuple[int, Any]] = []
        while len(out) < n and not self._exhausted:
            more = list(itertools.islice(self._it, n - len(out)))
            if len(more) < n - len(out):
                self._exhausted = True
            out.extend(x for x in more if not self.skip or x[0] not in self.skip)
        return out

    @property
    def exhausted(self) -> bool:
        return self._exhausted


class CostLearner:
    """``--order learn``: the longest tasks first, their length learned as the run goes.

    The first tasks handed out are a probe spread evenly over the items (at least 8,
    two per worker), so the model sees their whole range; until the probe is measured,
    the next ones keep spreading (bit-reversed positions). Once it is, and each time
    the measured tasks have doubled (up to 1,024 of them), the items not yet handed out are ordered by
    predicted seconds, longest first: the mean log-seconds of the 3 nearest measured
    items in the items' numeric fields (each scaled to its spread); items with no
    numeric field are predicted by their position in the list (neighbours cost
    alike). Task numbers stay the items' positions."""

    MAX_FIT = 1024
    K = 3
    CHUNK = 4096

    def __init__(self, items: Any, workers: int):
        import numpy as np
        self.items = items
        n = len(items)
        self.probe = min(n, max(8, 2 * workers))
        first = sorted(set(np.linspace(0, n - 1, self.probe).round().astype(int).tolist())) \
            if n else []
        chosen = set(first)
        bits = max(1, (n - 1).bit_length())   # until the probe is measured, the rest go
        spread = sorted((i for i in range(n) if i not in chosen),   # in bit-reversed order:
                        key=lambda i: int(format(i, f"0{bits}b")[::-1], 2))  # gaps halved
        self.left: List[int] = first + spread
        self.seen: Dict[int, float] = {}
        self.fitted = 0
        self._features: Optional[Any] = None

    def observe(self, task: int, seconds: float) -> None:
        if seconds is not None and seconds >= 0 and len(self.seen) < self.MAX_FIT:
            self.seen[task] = seconds

    def take(self, n: int) -> List[Tuple[int, Any]]:
        handed = len(self.items) - len(self.left)
        if handed >= self.probe and len(self.seen) >= max(self.probe, 2 * self.fitted) \
                and len(self.left) > n:
            self._order()
        out, self.left = self.left[:n], self.left[n:]
        return [(i, self.items[i]) for i in out]

    def _feature_matrix(self):
        import numpy as np
        if self._features is None:
            from .store.export import fields, plain
            rows = []
            for item in self.items:
                rows.append([float(v) for _c, v in fields(item, "item", ".", plain)
                             if isinstance(v, (int, float)) and not isinstance(v, bool)])
            width = min((len(r) for r in rows), default=0)
            x = np.array([r[:width] for r in rows], dtype=float) if width else \
                np.arange(len(self.items), dtype=float)[:, None]
            spread = x.std(axis=0)
            self._features = x / np.where(spread > 0, spread, 1.0)
        return self._features

    def _order(self) -> None:
        import numpy as np
        self.fitted = len(self.seen)
        x = self._feature_matrix()
        known = np.array(list(self.seen), dtype=int)
        y = np.log(np.maximum(np.array([self.seen[t] for t in known]), 1e-6))
        left = np.array(self.left, dtype=int)
        k = min(self.K, len(known))
        guess = np.empty(len(left))
        for a in range(0, len(left), self.CHUNK):
            d = ((x[left[a:a + self.CHUNK], None, :] - x[None, known, :]) ** 2).sum(axis=2)
            near = np.argpartition(d, k - 1, axis=1)[:, :k]
            guess[a:a + self.CHUNK] = y[near].mean(axis=1)
        self.left = left[np.argsort(-guess, kind="stable")].tolist()


class OptimizeSource(Source):
    """Points asked from an optimizer, ``budget`` of them; results are told back."""

    adaptive = True

    def __init__(self, job: OptimizeJob, workers: int = 1):
        self.job = job
        self.optimizer: Optimizer = job.make_optimizer(workers=workers)
        self.goal = self.optimizer.objectives
        self.total = job.budget + job.repeats * job.repeat_top
        self._trials: Dict[int, Trial] = {}
        self.offset = 0  # optimizer trials that are not tasks (a warm start's)
        self._repeats: Optional[Deque[Trial]] = None   # planned once the budget is told
        self.optimizer_seconds = 0.0   # rank 0's time in the optimizer's asks and tells
        if job.warm_start:
            from .store.warm import warm_points
            for params, value in warm_points(job.warm_start):
                self.optimizer.enqueue(params)
                self.optimizer.tell(self.optimizer.ask(1)[0], value)
            self.offset = len(self.optimizer.trials)
        for params in job.initial:   # known points are asked first
            self.optimizer.enqueue(params)

    @property
    def asked(self) -> int:
        return len(self.optimizer.trials) - self.offset

    def take(self, n: int) -> List[Tuple[int, Any]]:
        if self.asked >= self.job.budget and self.job.repeats:
            trials = self._take_repeats(n)
        else:
            n = min(n, self.job.budget - self.asked)
            if n <= 0:
                return []
            t0 = time.perf_counter()
            trials = self.optimizer.ask(n)
            self.optimizer_seconds += time.perf_counter() - t0
        for t in trials:
            self._trials[t.id - self.offset] = t
        return [(t.id - self.offset, t.params) for t in trials]

    def _take_repeats(self, n: int) -> List[Trial]:
        """``repeats=``: once every evaluation of the budget is told, the best points
        again, as tasks numbered after the budget's."""
        if self._repeats is None:
            if self._trials:
                return []      # the best is not known before the last result is in
            self._repeats = deque(self.optimizer.repeat(self.job.repeats,
                                                        self.job.repeat_top))
            self.total = self.job.budget + len(self._repeats)
        out = []
        while self._repeats and len(out) < n:
            out.append(self._repeats.popleft())
        return out

    def estimate(self) -> Optional[Dict[str, Any]]:
        """The best point as :meth:`Optimizer.estimate` says (with noise: the model's
        or the repeats' mean, and its spread), by task, or None."""
        est = self.optimizer.estimate()
        if est is None or est["trial"].id < self.offset:
            return None
        t = est["trial"]
        return {"params": t.params, "value": est["value"], "task": t.id - self.offset,
                "sd": est["sd"], "noise_sd": est["noise_sd"], "sample": est["sample"],
                "n": est["n"], "method": est["method"]}

    def done(self, task: int, ok: bool, result: Any, extra: Any = None) -> None:
        trial = self._trials.pop(task)
        pruned = False
        if extra:
            curve, pruned = extra
            trial.curve = [tuple(p) for p in curve]
        t0 = time.perf_counter()
        self.optimizer.tell(trial, result if ok else math.nan, pruned=bool(pruned))
        self.optimizer_seconds += time.perf_counter() - t0

    def context(self) -> Any:
        pruner = self.optimizer.pruner
        return pruner.table() if pruner is not None else None

    def note(self) -> Optional[str]:
        if not self.goal.multi and not self.optimizer.constrained:
            return None
        if self.goal.multi:
            n = len(self.optimizer.front)
            return f"front {n} point{'s' if n != 1 else ''}" if n else "no feasible point yet"
        return None if self.optimizer.best is not None else "no feasible point yet"

    @property
    def exhausted(self) -> bool:
        if self.asked < self.job.budget:
            return False
        return not self.job.repeats or (self._repeats is not None and not self._repeats)

    def extend(self, budget: int) -> None:
        """Ask further, up to ``budget`` evaluations (``--resume --budget``)."""
        if self._repeats is not None:
            raise ValueError("--budget: this run has re-evaluated its best points "
                             "(repeats=) already; start a new run with warm_start= instead")
        self.job.budget = budget
        self.total = budget + self.job.repeats * self.job.repeat_top

    def best_detail(self) -> Optional[Dict[str, Any]]:
        if not (self.optimizer.noise or self.optimizer.repeat_of):
            return None
        out = self.estimate()
        if out is not None and self.optimizer.repeat_of:   # counted apart from the budget
            out["repeats"] = len(self.optimizer.repeat_of)
        return out

    def best(self) -> Optional[Tuple[Any, float]]:
        if self.optimizer.noise or self.optimizer.repeat_of:
            est = self.estimate()
            return (est["params"], est["value"]) if est is not None else None
        b = self.optimizer.best
        if b is not None and b.id < self.offset:  # a warm start's point: not this run's
            sign = -1.0 if self.optimizer.goal == "max" else 1.0
            mine = [t for t in self.optimizer.trials[self.offset:]
                    if t.value is not None and not math.isnan(t.value)]
            b = min(mine, key=lambda t: sign * t.value) if mine else None
        return (b.params, b.value) if b is not None else None


class GenerateSource(Source):
    """Initial items, then whatever ``on_result(item, result)`` returns."""

    adaptive = True

    def __init__(self, job: GenerateJob):
        self.job = job
        self._initial: Iterator = iter(job.items)
        self._queue: Deque[Any] = deque()
        self._items: Dict[int, Any] = {}
        self._next_id = 0
        self._initial_done = False

    def take(self, n: int) -> List[Tuple[int, Any]]:
        out = []
        while len(out) < n:
            if self.job.max_tasks is not None and self._next_id >= self.job.max_tasks:
                break
            if self._queue:
                item = self._queue.popleft()
            elif not self._initial_done:
                try:
                    item = next(self._initial)
                except StopIteration:
                    self._initial_done = True
                    continue
            else:
                break
            out.append((self._next_id, item))
            self._items[self._next_id] = item
            self._next_id += 1
        return out

    def done(self, task: int, ok: bool, result: Any, extra: Any = None) -> None:
        item = self._items.pop(task)
        if ok:
            new = self.job.on_result(item, result)
            if new is not None:
                self._queue.extend(new)

    @property
    def exhausted(self) -> bool:
        if self.job.max_tasks is not None and self._next_id >= self.job.max_tasks:
            return True
        return self._initial_done and not self._queue


def make_source(job: Job, workers: int = 1) -> Source:
    if isinstance(job, OptimizeJob):
        return OptimizeSource(job, workers)
    if isinstance(job, GenerateJob):
        return GenerateSource(job)
    if isinstance(job, MapJob):
        return MapSource(job, workers)
    raise TypeError(f"unknown job kind {type(job).__name__}")
