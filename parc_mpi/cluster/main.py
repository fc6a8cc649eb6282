"""Rank 0's scheduling loop: dynamic master/worker over MPI.

Each worker holds up to ``prefetch`` batches; every result message frees one
slot, which is refilled at once. The loop never blocks in MPI: it probes, and
sleeps with back-off when there is nothing to do.
"""
from __future__ import annotations

import logging
from typing import Dict, List, Set

from mpi4py import MPI

from ..engine import Scheduler
from ..runner import Watch
from .protocol import (TAG_DONE, TAG_RESULTS, TAG_STOP, TAG_TASKS, Backoff,
                       wait_quietly)

log = logging.getLogger(__name__)


def main_loop(comm: MPI.Comm, sched: Scheduler, workers: List[int], nodes: Dict[int, str],
              prefetch: int, watch: Watch) -> None:
    """Schedule until the job is done or a soft stop has drained the workers."""
    out: Dict[int, Set[int]] = {w: set() for w in workers}  # batch ids each worker holds
    open_workers = set(workers)  # not yet told to stop
    running = set(workers)       # not yet answered the stop
    sends: List[MPI.Request] = []
    status = MPI.Status()
    backoff = Backoff()
    while running:
        active = False
        while comm.Iprobe(source=MPI.ANY_SOURCE, tag=MPI.ANY_TAG, status=status):
            src, tag = status.Get_source(), status.Get_tag()
            msg = comm.recv(source=src, tag=tag)
            active = True
            if tag == TAG_RESULTS:
                done_id, rows, raw, compute = msg
                out[src].discard(done_id)
                sched.receive(done_id, src, rows, raw, compute, nodes.get(src, "?"))
            elif tag == TAG_DONE:
                for bid, _tasks in msg["unstarted"]:
                    out[src].discard(bid)
                    sched.give_back(bid)
                sched.worker_finished(src, msg["cpu"], msg["wall"], nodes.get(src, "?"))
                running.discard(src)
        # refill every worker that has a free slot
        for w in workers:
            if w not in open_workers:
                continue
            while len(out[w]) < prefetch:
                batch = sched.next_batch()
                if batch is None:
                    break
                out[w].add(batch[0])
                sends.append(comm.isend(batch, dest=w, tag=TAG_TASKS))
                active = True
        if sends and len(sends) > 2 * len(workers):
            sends[:] = [r for r in sends if not r.Test()]
        if sched.flush_due():
            sched.flush()
        watch.tick()
        if open_workers and (sched.stopping or _nothing_left(sched)):
            for w in open_workers:
                sends.append(comm.isend(None, dest=w, tag=TAG_STOP))
            open_workers.clear()
        if not active:
            if sched.store.pending_rows and not running:
                sched.flush()
            backoff.pause()
        else:
            backoff.reset()
    wait_quietly(sends)
    sched.flush()


def _nothing_left(sched: Scheduler) -> bool:
    """True when the job has no work to hand out and none is coming back."""
    if sched.in_flight or sched.retry:
        return False
    if sched.uncounted or sched.uncounted_ok or sched.uncounted_failed or \
            sched.store.pending_rows:
        sched.flush()  # an adaptive job's next tasks may wait on these results
        return False
    return sched.source.exhausted
