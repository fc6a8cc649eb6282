"""The per-node sampler thread: one per node (its lowest worker rank), sending a
health sample to the monitor rank every ``interval`` seconds while the job runs.

It needs MPI_THREAD_MULTIPLE (mpi4py asks for it by default); with less, the node
is sampled by nobody and the report says so.
"""
from __future__ import annotations

import threading
from typing import List, Optional

from mpi4py import MPI

from ..monitor.sensors import Sensors, node_facts
from .protocol import TAG_SAMPLE, wait_quietly



def threads_ok() -> bool:
    return MPI.Query_thread() >= MPI.THREAD_MULTIPLE


class Agent(threading.Thread):
    def __init__(self, comm: MPI.Comm, monitor: int, node: str, ranks: List[int],
                 interval: float, sensors: Optional[Sensors] = None):
        super().__init__(name="parc-agent", daemon=True)
        self.comm, self.monitor, self.node, self.ranks = comm, monitor, node, ranks
        self.interval = interval
        self.sensors = sensors
        self.stop = threading.Event()

    def _send(self, msg, timeout: Optional[float] = None) -> None:
        wait_quietly([self.comm.isend(msg, dest=self.monitor, tag=TAG_SAMPLE)], timeout)

    def run(self) -> None:
        sensors = self.sensors or Sensors()
        self._send(("hello", self.node, self.ranks, node_facts(), sensors.sample()))
        while not self.stop.wait(self.interval):
            self._send(("sample", self.node, sensors.sample()))

    def finish(self) -> None:
        """Stop sampling, then say "bye": the monitor takes samples until every agent
        has, so none is left unreceived when it finalizes (MPICH's MPI_Finalize fails
        on a communicator with unmatched messages, and its launcher then ends the
        node's other ranks)."""
        self.stop.set()
        self.join(timeout=10)
        self._send(("bye", self.node), timeout=10)   # the main node may be gone
