"""Named records for what the store writes and what its readers return.

Result rows travel from the workers to rank 0 as plain tuples in
:class:`ResultRow`'s field order: a NamedTuple costs twice as much to unpickle,
and rank 0 unpickles every row of a million-task run. Code that looks at a row
names it with ``ResultRow._make(row)``.
"""
from __future__ import annotations

from typing import Any, Dict, List, NamedTuple, Optional

from .schema import STATUS_OK


class ResultRow(NamedTuple):
    """One attempt of one task, as inserted (params and result encoded)."""

    task: int
    attempt: int
    params: Any
    status: str
    value: Optional[float]
    result: Any
    error: Optional[str]
    worker: Optional[int]
    node: Optional[str]
    t_start: Optional[float]
    t_end: Optional[float]


class Result(NamedTuple):
    """One attempt of one task, as read back (params and result decoded)."""

    seq: int
    task: int
    attempt: int
    status: str
    params: Any
    value: Optional[float]
    result: Any
    error: Optional[str]
    worker: Optional[int]
    node: Optional[str]
    t_start: Optional[float]
    t_end: Optional[float]

    @property
    def ok(self) -> bool:
        return self.status == STATUS_OK

    @property
    def seconds(self) -> Optional[float]:
        """How long the attempt ran on its worker."""
        if self.t_start is None or self.t_end is None:
            return None
        return self.t_end - self.t_start

    @property
    def error_line(self) -> str:
        """The last line of the traceback (the exception and its message)."""
        return (self.error or "").strip().splitlines()[-1] if self.error else ""


class Ask(NamedTuple):
    """One take of an adaptive source, as journaled for ``--resume``."""

    seq: int
    after: int                 # results told before the take
    n: int                     # tasks asked for
    tasks: List[List[Any]]     # [[task, encoded argument], ...]


class NodeInfo(NamedTuple):
    """A node as the monitor saw it."""

    node: str
    ranks: List[int]
    facts: Dict[str, Any]
    baseline_throttled: Optional[int]
    first_seen: Optional[float]
    last_seen: Optional[float]


class Sample(NamedTuple):
    node: str
    t: float
    data: Dict[str, Any]       # keys: parc_mpi.monitor.sensors.SAMPLE_KEYS


class NetFigure(NamedTuple):
    """One netbench measurement from the main node to a node."""

    node: str
    peer_rank: Optional[int]
    kind: str                  # latency | upload | download
    size: int
    p50: Optional[float]
    p90: Optional[float]
    p99: Optional[float]
    min: Optional[float]
    mean: Optional[float]
    mbps: Optional[float]
    iterations: Optional[int]
    seconds: Optional[float]
    nic: Optional[str]
    link_mbit: Optional[int]


class Pair(NamedTuple):
    a: str
    b: str
    p50: Optional[float]
    p99: Optional[float]
