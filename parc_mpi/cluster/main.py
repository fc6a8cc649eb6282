"""Rank 0's message loop: dynamic master/worker over MPI.

Each worker holds up to ``prefetch`` batches; every result message frees one
slot, which is refilled at once. What goes into a batch, who gets it, retries and
lost workers are the scheduler's (``engine.Scheduler``) decisions: this loop only
moves messages. It never blocks in MPI: it probes, and sleeps with back-off when
there is nothing to do.
"""
from __future__ import annotations

import logging
import pickle
import sys
from typing import Dict, List, Optional

from mpi4py import MPI

from ..engine import Scheduler
from ..runner import Watch
from ..thermal import Thermal
from ..tasks import message
from .heartbeat import Liveness, skip_finalize
from .protocol import (TAG_DONE, TAG_RESULTS, TAG_STOP, TAG_TASKS, Backoff, Goodbye,
                       Tasks, wait_quietly)

log = logging.getLogger(__name__)



def main_loop(comm: MPI.Comm, sched: Scheduler, workers: List[int], nodes: Dict[int, str],
              prefetch: int, watch: Watch, liveness: Optional[Liveness] = None,
              thermal: Optional[Thermal] = None) -> None:
    """Move messages until the job is done or a soft stop has drained the workers;
    every decision is the scheduler's.

    A worker silent for longer than the heartbeat timeout is declared lost: the
    scheduler puts its batches back in line for the others, and whatever it sends
    later is ignored (so nothing is counted twice)."""
    open_workers = set(workers) - set(sched.lost)  # not yet told to stop
    running = set(open_workers)                    # not yet answered the stop
    sends: List[MPI.Request] = []
    status = MPI.Status()
    backoff = Backoff()
    received = sent = 0
    benched = sched.benched
    seen = 0   # --thermal: changes of the hot nodes taken in
    while running:
        active = False
        if thermal is not None:
            hot = thermal.poll()
            if len(thermal.changes) != seen:
                seen = len(thermal.changes)
                sched.hot = {w for w in workers if nodes.get(w) in hot}
        while comm.Iprobe(source=MPI.ANY_SOURCE, tag=MPI.ANY_TAG, status=status):
            src, tag = status.Get_source(), status.Get_tag()
            if tag == TAG_RESULTS:   # a pickle, from mpi4py or a task process as bytes
                raw = bytearray(status.Get_count(MPI.BYTE))
                comm.Recv([raw, MPI.BYTE], source=src, tag=tag)
                msg = pickle.loads(raw)
                sched.received_bytes(src, len(raw), nodes.get(src, "?"))
            else:
                msg = comm.recv(source=src, tag=tag)
            active = True
            received += 1
            if src in sched.lost:  # declared lost, then heard again: too late
                continue
            if liveness is not None:
                liveness.heard(src)
            if tag == TAG_RESULTS:
                bid, rows, raw, compute, curves, sheet, peak, files = message(msg)
                sched.receive(bid, src, rows, raw, compute, nodes.get(src, "?"), curves,
                              sheet, peak, files)
            elif tag == TAG_DONE:
                for unstarted in msg.unstarted:
                    sched.give_back(unstarted.batch_id, src)
                sched.worker_finished(src, msg.cpu, msg.wall, nodes.get(src, "?"))
                running.discard(src)
        # refill every worker that has a free slot (the scheduler says with what)
        free = None
        for w in open_workers:
            if w in benched:   # its node's cores are taken by tasks of several cores
                continue
            n = (1 if w in sched.hot else prefetch) - sched.holding(w)
            if n > 0:
                if free is None:
                    free = {}
                free[w] = n
        if free:
            context = sched.context()
            for w, batch in sched.assign(free):
                sends.append(comm.isend(Tasks(*batch, context), dest=w, tag=TAG_TASKS))
                active = True
                sent += 1
        if sends and len(sends) > 2 * len(workers):
            sends[:] = [r for r in sends if not r.Test()]
        if liveness is not None:
            for w in liveness.tick(sorted(running)):
                _declare_lost(sched, w, nodes.get(w, "?"), liveness.timeout)
                open_workers.discard(w)
                running.discard(w)
                if not running and not sched.finished:
                    sched.request_stop("every worker was lost")
                    print("error: every worker was lost; what is done is saved; continue "
                          "with --resume", file=sys.stderr, flush=True)
        if sched.flush_due() or (not sched.in_flight and sched.has_uncounted):
            # with nothing out, results in hand may be all an adaptive job waits on
            sched.flush()
        watch.tick()
        if open_workers and (sched.stopping or sched.drained):
            log.debug("telling %d worker(s) to stop (%s); %d batches sent, %d messages "
                      "received", len(open_workers), sched.stop_reason or "no work left",
                      sent, received)
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
    # the word to every worker still here: after a loss, no finalizing; else stay for
    # the roll call once the report is written (lifecycle.roll_call)
    bye = Goodbye(finalize=False if sched.lost else None)
    wait_quietly([comm.isend(bye, dest=w, tag=TAG_STOP) for w in workers
                  if w not in sched.lost], timeout=10)


def _declare_lost(sched: Scheduler, worker: int, node: str, timeout: float) -> None:
    """A worker silent past the timeout: its batches go back in line. One that went
    after the last result (every task in, the workers told to stop) cost nothing: the
    store and the user's last lines say so, as for one the roll call finds gone."""
    after_last = sched.drained and not sched.holding(worker)
    tasks = sched.worker_lost(worker, node)
    if after_last:
        sched.lost[worker]["after_last_result"] = True
        print(f"[parc_mpi] warning: rank {worker} on {node} stopped answering after the "
              f"last result (silent for over {timeout:g} s)", file=sys.stderr, flush=True)
        return
    print(f"[parc_mpi] warning: worker rank {worker} on {node} lost (silent for over "
          f"{timeout:g} s); {tasks} task(s) it held go to other workers", flush=True)
