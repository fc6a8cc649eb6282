"""Message tags and types, and waiting for messages without spinning.

MPICH's and Open MPI's blocking receives poll at 100% of a core; on a 4-core Pi
that is a worker's core stolen. Every wait here is ``Iprobe`` plus a sleep that
backs off from 0 to ``MAX_SLEEP``: a busy rank reacts at once, an idle one wakes
a few hundred times a second for a few microseconds each.
"""
from __future__ import annotations

import sys
import time
from typing import Any, List, NamedTuple, Optional, Tuple

from mpi4py import MPI

from ..messages import Results, Tasks  # noqa: F401  (no MPI: a task process reads them)

EXIT_INPUT = 2   # every rank's exit status when start-up found bad input


def fail_input(rank: int, message: str) -> int:
    """Start-up's verdict on bad input, reached by every rank: rank 0 says it in one
    line; every rank returns the same status."""
    if rank == 0:
        print(f"error: {message}", file=sys.stderr, flush=True)
    return EXIT_INPUT


# Every tag of the protocol. Heartbeats and netbench run on communicators of their
# own (comm.Dup()), so their tags cannot be confused with the scheduling ones.
TAG_CONTROL = 1   # start-up handshake, both ways (bcast_quietly / gather_quietly)
TAG_TASKS = 2     # main -> worker: Tasks
TAG_RESULTS = 3   # worker -> main: Results; each one also asks for more work
TAG_STOP = 4      # main -> worker: None = no more work, finish the running batch. After
                  # the worker's Done, a second one: Goodbye
TAG_DONE = 5      # worker -> main: Done; then the worker waits for Goodbye and exits
                  # (a Goodbye(None) first: answer a RollCall with "here", then a Goodbye)
TAG_SAMPLE = 6    # agent -> monitor: ("hello", node, ranks, facts, sample) |
                  # ("sample", node, sample) | ("bye", node)
TAG_MONITOR = 7   # main -> monitor: ("stop", finalize); monitor -> main: "done"; then the
                  # monitor, like a worker, takes the RollCall and Goodbye on TAG_STOP
TAG_HEARTBEAT = 8  # both ways on the heartbeat communicator: None (a beat) | "bye"
TAG_CLOCK = 9     # start-up: main -> a node's first rank, None; back: its time.time()
TAG_NET_CMD = 41   # netbench communicator: monitor -> peer, a command (cluster/netbench.py)
TAG_NET_DATA = 42  # netbench communicator: the timed payload, both ways
TAG_NET_REPLY = 43  # netbench communicator: acks and figures back to the monitor


class Done(NamedTuple):
    """A stopping worker's account: batches it never started, and its own times."""

    unstarted: List[Tasks]
    busy: float
    wall: float
    cpu: float


class Goodbye(NamedTuple):
    """Rank 0's last word to a worker (and to the monitor): whether MPI_Finalize is
    safe (no rank lost). None: not yet; stay for the roll call after the report."""

    finalize: Optional[bool]


class RollCall(NamedTuple):
    """Rank 0, once the report is written: is every rank still there? Each answers
    "here" (TAG_DONE) and waits for its Goodbye: a node whose cable went after the
    last result would otherwise leave MPI_Finalize, and the launcher, waiting for
    ever (MPICH: the lost node's proxy never reports)."""

MAX_SLEEP = 0.002     # an idle rank answers within ~2 ms
SPIN_FIRST = 50       # probes without sleeping right after activity


class Backoff:
    """Sleep a little longer each idle turn, up to MAX_SLEEP; ``reset`` on activity."""

    __slots__ = ("idle",)

    def __init__(self) -> None:
        self.idle = 0

    def reset(self) -> None:
        self.idle = 0

    def pause(self) -> None:
        self.idle += 1
        if self.idle <= SPIN_FIRST:
            return
        time.sleep(min(MAX_SLEEP, 0.00005 * (self.idle - SPIN_FIRST)))


def recv_quietly(comm: MPI.Comm, source: int = MPI.ANY_SOURCE, tag: int = MPI.ANY_TAG,
                 timeout: Optional[float] = None) -> Optional[Tuple[Any, int, int]]:
    """Receive one pickled message without spinning: (obj, source, tag), or None
    when ``timeout`` seconds pass first."""
    status = MPI.Status()
    backoff = Backoff()
    deadline = None if timeout is None else time.monotonic() + timeout
    while not comm.Iprobe(source=source, tag=tag, status=status):
        if deadline is not None and time.monotonic() > deadline:
            return None
        backoff.pause()
    src, tg = status.Get_source(), status.Get_tag()
    return comm.recv(source=src, tag=tg), src, tg


def wait_quietly(requests: List[MPI.Request], timeout: Optional[float] = None) -> bool:
    """Complete send requests without spinning; False if ``timeout`` seconds pass
    first (a send to a dead peer may never complete)."""
    backoff = Backoff()
    deadline = None if timeout is None else time.monotonic() + timeout
    while requests and not MPI.Request.Testall(requests):
        if deadline is not None and time.monotonic() > deadline:
            requests.clear()
            return False
        backoff.pause()
    requests.clear()
    return True


def bcast_quietly(comm: MPI.Comm, obj: Any = None, root: int = 0) -> Any:
    """``comm.bcast`` that does not spin while the root is still busy."""
    if comm.rank == root:
        reqs = [comm.isend(obj, dest=r, tag=TAG_CONTROL) for r in range(comm.size) if r != root]
        wait_quietly(reqs)
        return obj
    return recv_quietly(comm, source=root, tag=TAG_CONTROL)[0]


def gather_quietly(comm: MPI.Comm, obj: Any, root: int = 0) -> Optional[List[Any]]:
    """``comm.gather`` that does not spin; the root gets the list in rank order."""
    if comm.rank != root:
        req = comm.isend(obj, dest=root, tag=TAG_CONTROL)
        wait_quietly([req])
        return None
    out: List[Any] = [None] * comm.size
    out[root] = obj
    for _ in range(comm.size - 1):
        value, src, _tag = recv_quietly(comm, tag=TAG_CONTROL)
        out[src] = value
    return out
