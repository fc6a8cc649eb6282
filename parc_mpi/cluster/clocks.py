"""Each node's clock against the main node's, measured once at start-up
(``parc_mpi/clock.py`` says why)."""
from __future__ import annotations

import time
from typing import Dict, List

from mpi4py import MPI

from .. import clock
from .protocol import TAG_CLOCK, bcast_quietly, recv_quietly

ROUNDS = 3


def measure_clocks(comm: MPI.Comm, hosts: List[str]) -> Dict[str, float]:
    """Rank 0 asks the first rank of every other node for its time ``ROUNDS`` times;
    a node's offset is its time less the midpoint of the round trip, from the fastest
    round trip. Every rank gets the table ({host: seconds ahead of the main node})
    and sets its own offset."""
    first: Dict[str, int] = {}
    for r, h in enumerate(hosts):
        first.setdefault(h, r)
    table = None
    if comm.rank == 0:
        table = {hosts[0]: 0.0}
        for host, r in first.items():
            if r == 0:
                continue
            best = None
            for _ in range(ROUNDS):
                t0 = time.time()
                comm.send(None, dest=r, tag=TAG_CLOCK)
                got = recv_quietly(comm, source=r, tag=TAG_CLOCK, timeout=30)
                t1 = time.time()
                if got is None:   # a node that does not answer: its times stay as they are
                    break
                if best is None or t1 - t0 < best[0]:
                    best = (t1 - t0, got[0] - (t0 + t1) / 2)
            table[host] = round(best[1], 4) if best else 0.0
    elif first[hosts[comm.rank]] == comm.rank:
        for _ in range(ROUNDS):
            if recv_quietly(comm, source=0, tag=TAG_CLOCK, timeout=60) is None:
                break
            comm.send(time.time(), dest=0, tag=TAG_CLOCK)
    table = bcast_quietly(comm, table)
    clock.set_offset(table.get(hosts[comm.rank], 0.0))
    return table
