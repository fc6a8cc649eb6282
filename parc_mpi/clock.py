"""Wall-clock time on this node in the main node's terms.

A Raspberry Pi has no battery-backed clock: booted without a network time server (a
box in the field, an isolated switch) its clock is wherever it stopped, minutes or
days off. Timestamps from such a node (a task's start and end, a health sample) would
put its work outside the run, out of order in the timeline, and its "last seen" in
the past or future. At start-up rank 0 measures each node's clock against its own
(``cluster/clocks.py``: a few round trips, the midpoint of the fastest); every rank
then stamps with :func:`now` = its clock minus its node's offset. Offsets under
``THRESHOLD`` are left alone (NTP-synchronised nodes; no cost on the hot path).
"""
from __future__ import annotations

import time
from typing import Callable

THRESHOLD = 0.25   # seconds: smaller offsets are noise of the measurement, or NTP's own
OFFSET = 0.0       # this node's clock minus the main node's, once measured


def set_offset(seconds: float) -> None:
    global OFFSET
    OFFSET = float(seconds) if abs(seconds) >= THRESHOLD else 0.0


def now() -> float:
    """Seconds since the epoch on the main node's clock."""
    return time.time() - OFFSET


def wall_clock() -> Callable[[], float]:
    """``time.time`` itself when this node's clock needs no correction (the hot path
    calls it twice per task), else :func:`now`."""
    return time.time if OFFSET == 0.0 else now
