"""Sampling a node's health into the run store, and the end-of-run health lines
(no MPI). The writer itself is :class:`parc_mpi.store.HealthWriter`."""
from __future__ import annotations

import threading
from typing import List, Optional

from ..store import HealthWriter, RunReader
from .sensors import Sensors, node_facts


class LocalSampler(threading.Thread):
    """Samples this node every ``interval`` seconds into a HealthWriter (no MPI):
    what the monitor does for its own node, and rank 0 when there is no monitor."""

    def __init__(self, health: HealthWriter, node: str, ranks: List[int], interval: float,
                 sensors: Optional[Sensors] = None):
        super().__init__(name="parc-sampler", daemon=True)
        self.health, self.node, self.ranks, self.interval = health, node, ranks, interval
        self.sensors = sensors or Sensors()
        self.stop = threading.Event()
        self.lock = threading.Lock()  # shared with the thread that commits

    def run(self) -> None:
        with self.lock:
            self.health.node_hello(self.node, self.ranks, node_facts(), self.sensors.sample())
        while not self.stop.wait(self.interval):
            sample = self.sensors.sample()
            with self.lock:
                self.health.add_sample(self.node, sample)
                if self.health.commit_due():
                    self.health.commit()

    def finish(self) -> None:
        self.stop.set()
        self.join(timeout=10)
        with self.lock:
            self.health.close()


def health_lines(reader: RunReader) -> List[str]:
    """One line per node for the end of a run: what was sampled, what it lacks, and
    any alert (new throttle bits with their cause, heat, memory)."""
    from .alerts import summarize_alerts
    lines = []
    by_node = reader.samples_by_node()
    for node, info in reader.nodes().items():
        samples = by_node.get(node)
        if not samples:
            continue
        temps = [s["cpu_temp_c"] for s in samples if s.get("cpu_temp_c") is not None]
        parts = [f"{len(samples)} sample{'s' if len(samples) != 1 else ''}"]
        parts.append(f"CPU max {max(temps):.0f} °C" if temps else
                     "no temperature sensor (n/a)")
        parts += summarize_alerts(samples, info.baseline_throttled)
        lines.append(f"{node}: " + ", ".join(parts))
    return lines
