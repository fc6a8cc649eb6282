"""The worker loop: keep a few batches queued, run them, post the results.

A result message doubles as the request for more work, so the main rank tops
the queue up while this rank computes: a worker never waits a round trip.
"""
from __future__ import annotations

import logging
import pickle
import time
from collections import deque
from typing import Deque, List

from mpi4py import MPI

from ..job import Job
from .heartbeat import skip_finalize
from .protocol import (TAG_DONE, TAG_RESULTS, TAG_STOP, TAG_TASKS, Backoff, Done, Goodbye,
                       RollCall, Tasks, recv_quietly, wait_quietly)

log = logging.getLogger(__name__)



def worker_loop(comm: MPI.Comm, job: Job, host, on_stop=None) -> None:
    """Hand batches from rank 0 to this rank's task host (``parc_mpi.tasks``) until
    rank 0 says stop; ``on_stop()`` runs before the worker's DONE goes out (the
    heartbeat's last word must precede it)."""
    queue: Deque[bytearray] = deque()   # batches as rank 0 pickled them (Tasks)
    sends: List[MPI.Request] = []
    status = MPI.Status()
    backoff = Backoff()
    stop = False
    busy = 0.0
    batches = 0
    wall0, cpu0 = time.monotonic(), time.process_time()
    while True:
        while comm.Iprobe(source=0, tag=MPI.ANY_TAG, status=status):
            tag = status.Get_tag()
            if tag == TAG_TASKS:   # kept as rank 0 pickled it: the task host reads it
                raw = bytearray(status.Get_count(MPI.BYTE))
                comm.Recv([raw, MPI.BYTE], source=0, tag=tag)
                queue.append(raw)
                continue
            msg = comm.recv(source=0, tag=tag)
            if tag == TAG_STOP:
                stop = True
                log.debug("stop received; %d batch(es) queued, not started", len(queue))
        if stop:
            break
        if queue:
            backoff.reset()
            msg, compute = host.run_raw(queue.popleft())
            batches += 1
            busy += compute
            if type(msg) is bytes:   # a task process's pickle goes on as it is
                sends.append(comm.Isend([msg, MPI.BYTE], dest=0, tag=TAG_RESULTS))
            else:
                sends.append(comm.isend(msg, dest=0, tag=TAG_RESULTS))
            if len(sends) > 4:
                sends[:] = [r for r in sends if not r.Test()]
            continue
        backoff.pause()
    wait_quietly(sends)
    if on_stop is not None:
        on_stop()
    # batches that were queued but never started go back to rank 0, with this
    # rank's own account of its time (for the idle-CPU figures and the report)
    unstarted = [Tasks._make(pickle.loads(raw)) for raw in queue]
    done = Done(unstarted, busy, time.monotonic() - wall0, time.process_time() - cpu0)
    log.debug("done: %d batch(es) run, %.3f s busy of %.3f s", batches, busy, done.wall)
    wait_quietly([comm.isend(done, dest=0, tag=TAG_DONE)])


REPORT_WAIT = 600.0   # how long a rank waits for the roll call while rank 0 writes the
#                      end-of-run files and the report (a rank 0 killed meanwhile)


def await_goodbye(comm: MPI.Comm, timeout: float, later: float = REPORT_WAIT) -> None:
    """Rank 0's last word after this rank's DONE: whether finalizing is safe (no rank
    was lost). A Goodbye(None) means: stay, rank 0 writes the report, then calls the
    roll (answer "here") and says. No word in time: leave without finalizing."""
    wait = timeout
    while True:
        got = recv_quietly(comm, source=0, tag=TAG_STOP, timeout=wait)
        msg = got[0] if got else None
        if isinstance(msg, RollCall):
            log.debug("roll call: here")
            wait_quietly([comm.isend("here", dest=0, tag=TAG_DONE)], timeout=wait)
            continue
        if isinstance(msg, Goodbye) and msg.finalize is None:
            wait = max(later, timeout)   # the end-of-run files and the report first
            continue
        if msg is None or not msg.finalize:
            skip_finalize()
        return
