"""Who does what in an MPI run, decided from every rank's host name (no MPI here:
rank 0 computes it and broadcasts it as a plain dict)."""
from __future__ import annotations

from typing import Any, Dict, List


class Layout:
    """Who does what, decided by rank 0 from every rank's host name.

    The monitor is the lowest rank after 0 on rank 0's host (3+ ranks, monitoring on);
    it samples the main node itself. Every other node is sampled by its lowest worker
    rank (its agent), which is also that node's netbench peer; rank 0 is the peer for
    the intra-node floor.
    """

    def __init__(self, hosts: List[str], monitoring: bool, run_dir: str):
        self.hosts = hosts
        self.run_dir = run_dir
        main_host = hosts[0]
        self.main_ranks = [r for r, h in enumerate(hosts) if h == main_host]
        self.monitor = None
        if monitoring and len(hosts) >= 3 and len(self.main_ranks) > 1:
            self.monitor = self.main_ranks[1]
        self.workers = [r for r in range(1, len(hosts)) if r != self.monitor]
        self.agents: Dict[int, List[int]] = {}   # agent rank -> the ranks of its node
        self.peers: Dict[int, str] = {}          # netbench peers of the monitor
        self.leaders: Dict[int, str] = {}        # one rank per node, for the pair matrix
        if self.monitor is None:
            return
        self.peers[0] = f"{main_host} (same node)"
        self.leaders[self.monitor] = main_host
        for r in self.workers:
            h = hosts[r]
            if h != main_host and h not in self.leaders.values():
                ranks = [x for x, y in enumerate(hosts) if y == h]
                self.agents[r] = ranks
                self.peers[r] = h
                self.leaders[r] = h

    def as_dict(self) -> Dict[str, Any]:
        return dict(self.__dict__)

    @classmethod
    def from_dict(cls, plan: Dict[str, Any]) -> "Layout":
        layout = cls.__new__(cls)
        layout.__dict__.update(plan)
        return layout
