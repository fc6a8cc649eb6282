"""Writing health samples and network results to the run store (no MPI).

The monitor rank (or, with no monitor rank, a thread of rank 0) owns one of these,
on its own SQLite connection, and commits in batches every ``COMMIT_SECONDS``.
"""
from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from typing import Any, Dict, Iterable, List, Optional, Tuple

from .sensors import Sensors, node_facts

log = logging.getLogger(__name__)

COMMIT_SECONDS = 10.0


class HealthStore:
    """Samples, node facts and netbench rows for one run directory."""

    def __init__(self, db_path: str):
        self.db = sqlite3.connect(db_path, timeout=60, isolation_level=None,
                                  check_same_thread=False)
        self.db.execute("PRAGMA synchronous=NORMAL")
        self._samples: List[Tuple[str, float, str]] = []
        self._nodes: Dict[str, Dict[str, Any]] = {}
        self.last_commit = time.monotonic()

    def node_hello(self, node: str, ranks: List[int], facts: Dict[str, Any],
                   first: Dict[str, Any]) -> None:
        """A node's facts and its throttle state at job start (the alert baseline)."""
        self._nodes[node] = {"ranks": ranks, "facts": facts,
                             "baseline": first.get("throttled"), "first": first["t"],
                             "last": first["t"]}
        self.add_sample(node, first)

    def add_sample(self, node: str, sample: Dict[str, Any]) -> None:
        self._samples.append((node, sample["t"], json.dumps(sample)))
        if node in self._nodes:
            self._nodes[node]["last"] = sample["t"]

    def add_netbench(self, rows: Iterable[Dict[str, Any]]) -> None:
        cols = ("node", "peer_rank", "kind", "size", "p50", "p90", "p99", "min", "mean",
                "mbps", "iterations", "seconds", "nic", "link_mbit")
        self._write("INSERT INTO netbench(%s) VALUES (%s)" % (",".join(cols),
                                                              ",".join("?" * len(cols))),
                    [tuple(r.get(c) for c in cols) for r in rows])

    def add_pairs(self, rows: Iterable[Tuple[str, str, float, float]]) -> None:
        self._write("INSERT INTO pairs(a, b, p50, p99) VALUES (?,?,?,?)", list(rows))

    def commit_due(self) -> bool:
        return time.monotonic() - self.last_commit >= COMMIT_SECONDS

    def commit(self) -> None:
        samples, self._samples = self._samples, []
        nodes = [(n, json.dumps(v["ranks"]), json.dumps(v["facts"]), v["baseline"],
                  v["first"], v["last"]) for n, v in self._nodes.items()]
        self._write("INSERT INTO samples(node, t, data) VALUES (?,?,?)", samples,
                    "INSERT OR REPLACE INTO nodes(node, ranks, facts, baseline_throttled, "
                    "first_seen, last_seen) VALUES (?,?,?,?,?,?)", nodes)
        self.last_commit = time.monotonic()

    def _write(self, sql: str, rows: list, sql2: Optional[str] = None,
               rows2: Optional[list] = None) -> None:
        if not rows and not rows2:
            return
        try:
            self.db.execute("BEGIN IMMEDIATE")
            if rows:
                self.db.executemany(sql, rows)
            if rows2:
                self.db.executemany(sql2, rows2)
            self.db.execute("COMMIT")
        except sqlite3.Error as exc:  # health data must never stop the job
            log.warning("could not store health data: %s", exc)
            try:
                self.db.execute("ROLLBACK")
            except sqlite3.Error:
                pass

    def close(self) -> None:
        self.commit()
        self.db.close()


class LocalSampler(threading.Thread):
    """Samples this node every ``interval`` seconds into a HealthStore (no MPI):
    what the monitor does for its own node, and rank 0 when there is no monitor."""

    def __init__(self, health: HealthStore, node: str, ranks: List[int], interval: float,
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


def health_lines(db: sqlite3.Connection) -> List[str]:
    """One line per node for the end of a run: what was sampled, what it lacks, and
    any alert (new throttle bits with their cause, heat, memory)."""
    from .sensors import summarize_alerts
    lines = []
    nodes = db.execute("SELECT node, baseline_throttled FROM nodes ORDER BY node").fetchall()
    for node, baseline in nodes:
        samples = [json.loads(d) for (d,) in db.execute(
            "SELECT data FROM samples WHERE node = ? ORDER BY t", (node,))]
        if not samples:
            continue
        temps = [s["cpu_temp_c"] for s in samples if s.get("cpu_temp_c") is not None]
        parts = [f"{len(samples)} sample{'s' if len(samples) != 1 else ''}"]
        parts.append(f"CPU max {max(temps):.0f} °C" if temps else
                     "no temperature sensor (n/a)")
        parts += summarize_alerts(samples, baseline)
        lines.append(f"{node}: " + ", ".join(parts))
    return lines
