"""Thermal-aware scheduling (``--thermal``): which nodes are hot now, from the health
samples the monitor commits to the run's store. No MPI: rank 0's loop asks
:meth:`Thermal.poll` and tells the scheduler which workers are on a hot node; the
scheduler gives those one task in flight instead of ``--prefetch``, and near the end
of a run none while a cooler worker is idle (``engine.Scheduler.assign``).

A node is hot while its firmware says its clock is capped, it is throttled or at the
soft temperature limit now (``get_throttled`` bits 1 to 3), or its CPU is at 80 °C or
more; it is cool again below 75 °C with none of those bits (hysteresis, so a node at
the limit does not flap). Under-voltage alone (bit 0) is the power supply, not heat:
fewer tasks do not cure it, so it does not count.

A Pi that runs hot computes slower (600 MHz instead of 1.5-1.8 GHz on a Pi 4), so a
task that starts there near the end finishes long after the others: holding it for a
cooler worker shortens the tail, and fewer tasks in flight let it cool.
"""
from __future__ import annotations

import time
from typing import Any, Dict, List, Optional, Set, Tuple

from .store import RunReader, StoreError

HOT_BITS = 0x2 | 0x4 | 0x8     # ARM frequency capped, throttled, soft temperature limit
HOT_C = 80.0                   # a Pi 4 starts to throttle here
COOL_C = 75.0


def is_hot(sample: Dict[str, Any], was_hot: bool) -> bool:
    """Is a node hot, by one health sample (and whether it was hot before)?"""
    bits = sample.get("throttled")
    if bits is not None and bits & HOT_BITS:
        return True
    temps = [t for t in (sample.get("cpu_temp_c"), sample.get("gpu_temp_c")) if t is not None]
    if not temps:
        return False
    return max(temps) >= (COOL_C if was_hot else HOT_C)


class Thermal:
    """The hot nodes of a run, read from its store at most every ``every`` seconds
    (only the samples committed since the last read)."""

    def __init__(self, run_dir: str, every: float = 2.0):
        self.run_dir = run_dir
        self.every = every
        self.next = 0.0
        self.row = 0
        self.hot: Set[str] = set()
        self.changes: List[Tuple[float, str, bool]] = []   # (t, node, hot): the log
        self.hot_seconds: Dict[str, float] = {}
        self._since: Dict[str, float] = {}

    def poll(self, now: Optional[float] = None) -> Set[str]:
        """The nodes hot now (the last answer, between reads)."""
        now = time.monotonic() if now is None else now
        if now < self.next:
            return self.hot
        self.next = now + self.every
        try:
            with RunReader(self.run_dir) as r:
                got = r.samples_after(self.row, 10_000)
        except StoreError:   # a busy or missing store: keep the last answer
            return self.hot
        for row, s in got:
            self.row = row
            was = s.node in self.hot
            hot = is_hot(s.data, was)
            if hot != was:
                (self.hot.add if hot else self.hot.discard)(s.node)
                self.changes.append((s.t, s.node, hot))
                if hot:
                    self._since[s.node] = s.t
                else:
                    start = self._since.pop(s.node, s.t)
                    self.hot_seconds[s.node] = self.hot_seconds.get(s.node, 0.0) + s.t - start
        return self.hot

    def summary(self, end: float) -> Dict[str, Any]:
        """What the run's summary keeps: seconds each node was hot, and how often it
        turned hot."""
        seconds = dict(self.hot_seconds)
        for node, start in self._since.items():
            seconds[node] = seconds.get(node, 0.0) + max(0.0, end - start)
        turned = {}
        for _t, node, hot in self.changes:
            if hot:
                turned[node] = turned.get(node, 0) + 1
        return {"hot_seconds": {n: round(v, 1) for n, v in sorted(seconds.items())},
                "turned_hot": turned}
