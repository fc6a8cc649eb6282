"""Rank 0's scheduling loop: dynamic master/worker over MPI.

Each worker holds up to ``prefetch`` batches; every result message frees one
slot, which is refilled at once. The loop never blocks in MPI: it probes, and
sleeps with back-off when there is nothing to do.
"""
from __future__ import annotations

import logging
import sys
from typing import Dict, List, Optional, Set

from mpi4py import MPI

from ..engine import Scheduler
from ..runner import Watch
from .heartbeat import Liveness, skip_finalize
from .protocol import (TAG_DONE, TAG_RESULTS, TAG_STOP, TAG_TASKS, Backoff,
                       wait_quietly)

log = logging.getLogger(__name__)


def main_loop(comm: MPI.Comm, sched: Scheduler, workers: List[int], nodes: Dict[int, str],
              prefetch: int, watch: Watch, liveness: Optional[Liveness] = None) -> None:
    """Schedule until the job is done or a soft stop has drained the workers.

    A worker silent for longer than the heartbeat timeout is declared lost: its
    batches go back in line for the others, and whatever it sends later is ignored
    (so nothing is counted twice)."""
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
            if src in sched.lost:  # declared lost, then heard again: too late
                continue
            if liveness is not None:
                liveness.heard(src)
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
        if liveness is not None:
            for w in liveness.tick(sorted(running)):
                _declare_lost(sched, w, nodes.get(w, "?"), out, liveness.timeout)
                open_workers.discard(w)
                running.discard(w)
                if not running and not sched.finished:
                    sched.stopping = True
                    sched.stop_reason = "every worker was lost"
                    print("error: every worker was lost; what is done is saved; continue "
                          "with --resume", file=sys.stderr, flush=True)
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
    if sched.lost:  # a send to a dead rank may never complete
        skip_finalize()
        wait_quietly(sends, timeout=5)
    else:
        wait_quietly(sends)
    sched.flush()
    if liveness is not None:
        liveness.close([w for w in workers if w not in sched.lost])
    # the last word to every worker still here: is finalizing safe?
    bye = {"finalize": not sched.lost}
    wait_quietly([comm.isend(bye, dest=w, tag=TAG_STOP) for w in workers
                  if w not in sched.lost], timeout=10)


def _declare_lost(sched: Scheduler, worker: int, node: str, out: Dict[int, Set[int]],
                  timeout: float) -> None:
    batches = sorted(out[worker])
    tasks = sum(len(sched.in_flight.get(b, ())) for b in batches)
    for bid in batches:
        sched.give_back(bid)
    out[worker].clear()
    sched.worker_lost(worker, node, tasks)
    print(f"[parc_mpi] warning: worker rank {worker} on {node} lost (silent for over "
          f"{timeout:g} s); {tasks} task(s) it held go to other workers", flush=True)


def _nothing_left(sched: Scheduler) -> bool:
    """True when the job has no work to hand out and none is coming back."""
    if sched.in_flight or sched.retry:
        return False
    if sched.uncounted or sched.uncounted_ok or sched.uncounted_failed or \
            sched.store.pending_rows:
        sched.flush()  # an adaptive job's next tasks may wait on these results
        return False
    return sched.source.exhausted
