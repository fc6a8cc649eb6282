"""Heartbeats both ways on a communicator of their own, so a lost node is noticed.

Every worker runs a small thread that tells rank 0 "alive" every ``interval``
seconds, even while a long task holds the worker's main thread. Rank 0 declares a
worker lost after ``timeout`` seconds of silence and hands its tasks to the others.
Rank 0 beats back; a worker that stops hearing rank 0 (rank 0 died, or the worker's
link is cut) exits by itself instead of waiting forever.

A dead peer also means MPI_Finalize may hang (measured here with MPICH: ranks that
talked to a dead rank wait in it forever), so after a loss every surviving rank
leaves without finalizing; :data:`SKIP_FINALIZE` tells ``parc_mpi.run`` to.
"""
from __future__ import annotations

import logging
import os
import sys
import threading
import time
from typing import Dict, List, Optional

from mpi4py import MPI

from .protocol import TAG_HEARTBEAT, recv_quietly, wait_quietly

log = logging.getLogger(__name__)

SKIP_FINALIZE = False   # set on every surviving rank once any rank was lost
FAREWELL: Optional[str] = None  # rank 0's last line when it ends a job with a lost node
END_BY_ABORT = False   # rank 0 ends a job whose status is not 0 by MPI_Abort (MPICH)


def beat_interval(timeout: float) -> float:
    """Often enough that two beats can go missing before the timeout."""
    return max(0.05, min(5.0, timeout / 4))


def skip_finalize() -> None:
    global SKIP_FINALIZE
    SKIP_FINALIZE = True


def farewell(summary: dict, run_dir: str) -> None:
    """Rank 0's last line for a run that lost a node: what happened, from the store's
    own summary, and where everything is (the launcher may add its own lines after)."""
    global FAREWELL
    lost: Dict[str, List[str]] = {}
    for rank, info in sorted((summary.get("lost_workers") or {}).items(),
                             key=lambda kv: int(kv[0])):
        lost.setdefault(info.get("node", "?"), []).append(rank)
    nodes = ", ".join(f"{n} (rank{'s' if len(r) > 1 else ''} {', '.join(r)})"
                      for n, r in lost.items())
    FAREWELL = (f"[parc_mpi] {summary.get('status', 'ended')} with lost "
                f"node{'s' if len(lost) > 1 else ''} {nodes}: {summary.get('ok', 0)} ok, "
                f"{summary.get('failed', 0)} failed of {summary.get('tasks', 0)} tasks, all "
                f"saved in {run_dir}; ending the job with MPI_Abort, as the launcher would "
                "wait for the lost node for ever")


def await_the_end(timeout: float) -> None:
    """A surviving rank after a loss: stay until rank 0's MPI_Abort ends the job.
    Leaving first is what made MPICH's launcher trip: every rank that exits without
    MPI_Finalize makes it signal the other nodes' proxies, the lost node's included,
    whose connection is gone (``send_hdr_downstream: assert (!closed) failed``, exit
    255, or SIGPIPE, 141). ``timeout`` bounds the wait should rank 0 never abort."""
    time.sleep(timeout)


class WorkerHeartbeat(threading.Thread):
    """A worker's side: beat to rank 0; exit the process if rank 0 goes silent.

    The watchdog starts with rank 0's first beat (rank 0 starts beating when it
    starts scheduling, after the network benchmark)."""

    def __init__(self, comm: MPI.Comm, timeout: float):
        super().__init__(name="parc-heartbeat", daemon=True)
        self.comm = comm
        self.timeout = timeout
        self.interval = beat_interval(timeout)
        self.stop = threading.Event()
        self.heard: Optional[float] = None

    def run(self) -> None:
        sends: List[MPI.Request] = []
        next_beat = 0.0
        while not self.stop.wait(min(self.interval, 0.5)):
            now = time.monotonic()
            while self.comm.Iprobe(source=0, tag=TAG_HEARTBEAT):
                self.comm.recv(source=0, tag=TAG_HEARTBEAT)
                self.heard = now
            if now >= next_beat:
                next_beat = now + self.interval
                sends = [r for r in sends if not r.Test()]
                sends.append(self.comm.isend(None, dest=0, tag=TAG_HEARTBEAT))
            if self.heard is not None and now - self.heard > self.timeout:
                print(f"error: rank {self.comm.rank} on {MPI.Get_processor_name()}: rank 0 "
                      f"silent for {now - self.heard:.0f} s (--heartbeat-timeout "
                      f"{self.timeout:g}); the main node or its link is gone, exiting",
                      file=sys.stderr, flush=True)
                os._exit(3)

    def finish(self) -> None:
        """Stop beating; a last "bye" tells rank 0 no beat of ours is still on its way
        (messages from one sender on one communicator arrive in order)."""
        self.stop.set()
        self.join(timeout=5)
        wait_quietly([self.comm.isend("bye", dest=0, tag=TAG_HEARTBEAT)], timeout=5)

    def drain(self, timeout: float = 5.0) -> None:
        """Take rank 0's beats up to its "bye", so none is left unreceived at exit."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = recv_quietly(self.comm, source=0, tag=TAG_HEARTBEAT,
                               timeout=max(0.0, deadline - time.monotonic()))
            if got is None or got[0] == "bye":
                return


class Liveness:
    """Rank 0's side: who was heard from when, beats back, and who is lost."""

    def __init__(self, comm: MPI.Comm, workers: List[int], timeout: float,
                 enabled: bool = True):
        self.comm = comm
        self.timeout = timeout
        self.interval = beat_interval(timeout)
        self.enabled = enabled
        now = time.monotonic()
        self.last: Dict[int, float] = {w: now for w in workers}
        self.next_tick = 0.0
        self.next_beat = 0.0
        self.sends: List[MPI.Request] = []

    def heard(self, worker: int) -> None:
        self.last[worker] = time.monotonic()

    def tick(self, running) -> List[int]:
        """Cheap on most calls; returns the workers newly found silent too long."""
        now = time.monotonic()
        if not self.enabled or now < self.next_tick:
            return []
        self.next_tick = now + min(self.interval, 0.5)
        status = MPI.Status()
        while self.comm.Iprobe(source=MPI.ANY_SOURCE, tag=TAG_HEARTBEAT, status=status):
            src = status.Get_source()
            self.comm.recv(source=src, tag=TAG_HEARTBEAT)
            self.last[src] = now
        if now >= self.next_beat:
            self.next_beat = now + self.interval
            self.sends = [r for r in self.sends if not r.Test()]
            for w in running:
                self.sends.append(self.comm.isend(None, dest=w, tag=TAG_HEARTBEAT))
            if log.isEnabledFor(logging.DEBUG):
                quiet = {w: round(now - self.last.get(w, now), 1) for w in running
                         if now - self.last.get(w, now) > self.interval * 2}
                log.debug("heartbeat to %d worker(s)%s", len(running),
                          f"; silent for s: {quiet}" if quiet else "")
        lost = [w for w in running if now - self.last.get(w, now) > self.timeout]
        for w in lost:
            self.last.pop(w, None)
        return lost

    def close(self, alive: List[int], timeout: float = 5.0) -> None:
        """The last beat: "bye" to every live worker, and take theirs up to their "bye"."""
        if not self.enabled:
            return
        self.sends += [self.comm.isend("bye", dest=w, tag=TAG_HEARTBEAT) for w in alive]
        waiting = set(alive)
        deadline = time.monotonic() + timeout
        while waiting and time.monotonic() < deadline:
            got = recv_quietly(self.comm, tag=TAG_HEARTBEAT,
                               timeout=max(0.0, deadline - time.monotonic()))
            if got is None:
                break
            if got[0] == "bye":
                waiting.discard(got[1])
        wait_quietly(self.sends, timeout=max(0.1, deadline - time.monotonic()))
