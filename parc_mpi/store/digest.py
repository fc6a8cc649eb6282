"""A map run's digest: what its report reads of the results, kept by rank 0 as the
results arrive, so that the end of a million-task run does not scan the store again.

The scheduler adds every stored row (and says which are final attempts) right after
inserting them; at the end of the run the digest goes into the run's metadata
(``meta["digest"]``), stamped with the number of rows it covers. A reader uses it only
while that stamp still matches the store (a resumed run adds rows: the report then
aggregates in SQL, as for any store). Everything here is per batch, not per row,
where the batch allows: rank 0 is the busiest process of a run of tiny tasks.
"""
from __future__ import annotations

from itertools import repeat
from operator import itemgetter
from typing import Any, Dict, List, Optional, Sequence

TIMELINE = 4_000   # attempts kept for the task timeline (about; plots.MAX_BARS)
FIRST = 10         # the lowest tasks' final attempts (the report's first rows)
SAMPLE = 5_000     # final attempts sampled evenly by task (the results figure)
BINS = 4_096       # end-time histogram bins; their width doubles as the run goes on
WIDTH = 0.001      # the first bin width (s)

_TASK, _ATTEMPT, _STATUS = 0, 1, 3
_WORKER, _NODE, _T0, _T1 = 7, 8, 9, 10
_task = itemgetter(_TASK)


def consecutive(rows: Sequence[tuple]) -> bool:
    """Whether the rows are tasks n, n+1, n+2, ... in this order."""
    first = rows[0][_TASK]
    return rows[-1][_TASK] - first == len(rows) - 1 and \
        list(map(_task, rows)) == list(range(first, first + len(rows)))


def _thin(picks: List[tuple], every: int, limit: int):
    """(the picks whose key (first field) is a multiple of a doubled ``every``, that
    step), doubled until at most ``limit`` are left: an even sample stays even."""
    while len(picks) > limit:
        every *= 2
        picks = [p for p in picks if p[0] % every == 0]
    return picks, every


def _count(counts: Dict[str, int], rows: Sequence[tuple], clean: bool) -> None:
    """Add the rows to counts by status (``clean``: all ok, counted at once)."""
    if clean:
        counts["ok"] = counts.get("ok", 0) + len(rows)
        return
    for row in rows:
        st = row[_STATUS]
        counts[st] = counts.get(st, 0) + 1


class Digest:
    """Aggregates of every stored attempt (counts by status and node, the workers,
    the first start and last end, a histogram of end times, a timeline sample) and of
    the final attempts (the lowest tasks, an even sample by task), by row number
    (``seq``) so the report fetches those rows by key."""

    def __init__(self, first_seq: int = 1):
        self.next_seq = first_seq       # seq of the next row inserted (fresh store: 1)
        self.attempts = 0
        self.by_status: Dict[str, int] = {}
        self.final_by_status: Dict[str, int] = {}   # tasks by their final attempt
        self.by_node: Dict[Optional[str], int] = {}
        self.lanes: set = set()
        self.first_start: Optional[float] = None
        self.last_end: Optional[float] = None
        self.retried = False
        self.origin: Optional[float] = None
        self.width = WIDTH
        self.bins: List[float] = []
        self.every = 1                  # timeline: attempts with seq % every == 0
        self.bars: List[list] = []
        self.sample_every = 1           # final attempts with task % sample_every == 0
        self.sample: List[int] = []     # their seqs
        self.first: List[tuple] = []    # (task, seq) of the lowest tasks, sorted

    # -- taking rows ------------------------------------------------------------
    def add(self, rows: Sequence[tuple], final: Optional[Sequence[int]] = None,
            clean: bool = False, plain: bool = False) -> None:
        """Rows just inserted into the store (one worker's batch, in order); ``final``
        the positions of final attempts among them (None: all); ``clean``: every
        row succeeded; ``plain``: the worker found them consecutive first attempts,
        all ok (it made their results.csv lines)."""
        n = len(rows)
        if not n:
            return
        s0 = self.next_seq
        self.next_seq += n
        self.attempts += n
        head, tail = rows[0], rows[-1]
        node = head[_NODE]
        self.by_node[node] = self.by_node.get(node, 0) + n
        if head[_WORKER] is not None:
            self.lanes.add((head[_WORKER], node))
        _count(self.by_status, rows, clean)
        _count(self.final_by_status, rows if final is None else [rows[i] for i in final],
               clean and final is None)
        if not plain and not self.retried and any(map(itemgetter(_ATTEMPT), rows)):
            self.retried = True
        t0, t1 = head[_T0], tail[_T1]   # a batch runs in order on one worker
        if t0 is not None and (self.first_start is None or t0 < self.first_start):
            self.first_start = t0
        if t1 is not None and (self.last_end is None or t1 > self.last_end):
            self.last_end = t1
        self._spread(head[_T1], t1, n)
        self._bars(rows, s0, clean)
        self._finals(rows, s0, final, plain)

    def _spread(self, a: Optional[float], b: Optional[float], n: int) -> None:
        """``n`` attempts ended evenly between ``a`` and ``b`` into the histogram."""
        if a is None or b is None:
            return
        if self.origin is None:
            self.origin = a
        while b - self.origin >= self.width * BINS:   # coarser bins: merge pairs
            old = self.bins
            self.bins = [sum(old[i:i + 2]) for i in range(0, len(old), 2)]
            self.width *= 2
        lo = max(0.0, (a - self.origin) / self.width)
        hi = max(lo, (b - self.origin) / self.width)
        top = int(hi) + 1
        if len(self.bins) < top:
            self.bins.extend([0.0] * (top - len(self.bins)))
        if int(lo) == int(hi) or hi - lo <= 0:
            self.bins[int(lo)] += n
            return
        per = n / (hi - lo)
        i = int(lo)
        while i < top:
            part = min(hi, i + 1) - max(lo, i)
            if part > 0:
                self.bins[i] += per * part
            i += 1

    def _bars(self, rows: Sequence[tuple], s0: int, clean: bool) -> None:
        """The attempts whose seq is a multiple of ``every``, for the timeline."""
        k = self.every
        start = (-s0) % k
        picked = rows[start::k]
        self.bars.extend(zip(
            range(s0 + start, s0 + len(rows), k), map(itemgetter(_WORKER), picked),
            map(itemgetter(_T0), picked), map(itemgetter(_T1), picked),
            repeat(True) if clean else (r[_STATUS] == "ok" for r in picked)))
        if len(self.bars) > 2 * TIMELINE:
            self.bars, self.every = _thin(self.bars, self.every, TIMELINE)

    def _finals(self, rows: Sequence[tuple], s0: int,
                final: Optional[Sequence[int]], plain: bool = False) -> None:
        """The final attempts whose task is a multiple of ``sample_every`` (the
        results figure), and the lowest tasks' (the results table)."""
        k = self.sample_every
        if final is None and (plain or consecutive(rows)):   # the common case: arithmetic
            t_first = rows[0][_TASK]
            start = (-t_first) % k
            self.sample.extend(zip(range(t_first + start, t_first + len(rows), k),
                                   range(s0 + start, s0 + len(rows), k)))
            picks = [(t_first + i, s0 + i) for i in range(min(len(rows), FIRST))]
        else:
            picks = [(rows[i][_TASK], s0 + i)
                     for i in (range(len(rows)) if final is None else final)]
            self.sample.extend(p for p in picks if p[0] % k == 0)
        if picks and (len(self.first) < FIRST or min(picks)[0] < self.first[-1][0]):
            self.first = sorted(self.first + picks)[:FIRST]
        if len(self.sample) > 2 * SAMPLE:
            self.sample, self.sample_every = _thin(self.sample, self.sample_every, SAMPLE)

    # -- the end ----------------------------------------------------------------
    def state(self) -> Dict[str, Any]:
        """The digest as JSON-ready data for ``meta["digest"]``."""
        bars, _k = _thin(self.bars, self.every, TIMELINE)
        sample, _k = _thin(self.sample, self.sample_every, SAMPLE)
        return {"rows": self.next_seq - 1, "attempts": self.attempts,
                "by_status": self.by_status, "final_by_status": self.final_by_status,
                "by_node": [[k, v] for k, v in self.by_node.items()],
                "lanes": sorted(self.lanes, key=lambda wn: (wn[1] or "", wn[0])),
                "first_start": self.first_start, "last_end": self.last_end,
                "retried": self.retried, "origin": self.origin, "width": self.width,
                "bins": [round(b, 3) for b in self.bins], "bars": [list(b[1:]) for b in bars],
                "first": [s for _t, s in self.first], "sample": sorted(s for _t, s in sample)}
