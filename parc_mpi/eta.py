"""When an ETA can be shown (the progress line, the dashboard, the kiosk).

Early throughput misleads: the first batches are small while the scheduler measures
task times, workers join one after another, and a run's first seconds are start-up.
An ETA is given only once the rate is measured over at least 5% of the tasks, three
tasks per worker and three seconds of work; before that there is none (on the
throughput benchmark's runs the first ETA so given was within 25% of the time the runs
then took: benchmarks/throughput.py --only eta).
"""
from __future__ import annotations

from typing import Optional

MIN_SHARE = 0.05      # of the run's tasks
MIN_PER_WORKER = 3    # tasks per worker
MIN_SECONDS = 3.0     # of work measured


def eta_seconds(done: int, total: Optional[int], rate: Optional[float], workers: int,
                measured: float, left: Optional[int] = None) -> Optional[float]:
    """Seconds left at ``rate`` tasks/s, or None while the rate is not yet trusted.
    ``done``: tasks done over the ``measured`` seconds the rate was taken from;
    ``left``: tasks still to do (default ``total - done``)."""
    if not total or not rate or rate <= 0:
        return None
    left = total - done if left is None else left
    if left <= 0:
        return None
    if done < max(MIN_PER_WORKER * max(workers, 1), MIN_SHARE * total) or \
            measured < MIN_SECONDS:
        return None
    return left / rate
