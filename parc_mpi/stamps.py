"""Rank 0's start-up, step by step: a stamp (epoch seconds) as each step ends; the run
keeps the seconds of each in its meta as ``startup`` (:func:`phases`), so that a slow
start names its step. No imports beyond the standard library: run.py stamps before
anything heavy loads."""
from __future__ import annotations

import time
from typing import Dict, List, Tuple

STAMPS: List[Tuple[str, float]] = []


def stamp(name: str) -> None:
    """``name``'s step ended now."""
    STAMPS.append((name, time.time()))


def phases(started: float, first_task: float) -> Dict[str, float]:
    """The seconds of each stamped step from the process start ``started``, in order
    (a step stamped twice adds up), and from the last stamp to ``first_task``; the
    stamps are then cleared (a script may make several runs)."""
    out: Dict[str, float] = {}
    last = started
    for name, t in STAMPS:
        if t < last:
            continue
        out[name] = out.get(name, 0.0) + (t - last)
        last = t
    out["to the first task"] = max(0.0, first_task - last)
    STAMPS.clear()
    return {k: round(v, 4) for k, v in out.items()}
