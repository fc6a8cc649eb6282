"""The monitor rank: netbench before work, then health samples from every node's
agent into the run store, committed in batches, until rank 0 says stop."""
from __future__ import annotations

import logging
import os
from typing import Dict, List

from mpi4py import MPI

from ..cluster.protocol import TAG_MONITOR, TAG_SAMPLE, Backoff, wait_quietly
from .health import HealthStore, LocalSampler
from .netbench import Leader

log = logging.getLogger(__name__)


def run_netbench(nbcomm: MPI.Comm, health: HealthStore, mode: str, peers: Dict[int, str],
                 leaders: Dict[int, str]) -> None:
    """Main node -> each node, one node at a time; then the pair matrix."""
    leader = Leader(nbcomm, mode)
    try:
        for peer, node in sorted(peers.items()):
            health.add_netbench(leader.node(peer, node))
        if len(leaders) > 2:
            health.add_pairs(leader.pair_matrix(leaders))
    finally:
        leader.end(sorted(set(peers) | (set(leaders) - {nbcomm.rank})))


def monitor_loop(comm: MPI.Comm, nbcomm: MPI.Comm, run_dir: str, node: str,
                 node_ranks: List[int], interval: float, netbench: str,
                 peers: Dict[int, str], leaders: Dict[int, str]) -> None:
    health = HealthStore(os.path.join(run_dir, "run.sqlite"))
    sampler = LocalSampler(health, node, node_ranks, interval)
    sampler.start()
    if netbench != "off" and peers:
        with sampler.lock:
            run_netbench(nbcomm, health, netbench, peers, leaders)
    status = MPI.Status()
    backoff = Backoff()
    while True:
        if comm.Iprobe(source=MPI.ANY_SOURCE, tag=MPI.ANY_TAG, status=status):
            src, tag = status.Get_source(), status.Get_tag()
            msg = comm.recv(source=src, tag=tag)
            backoff.reset()
            if tag == TAG_MONITOR:
                break
            if tag == TAG_SAMPLE:
                with sampler.lock:
                    if msg[0] == "hello":
                        _kind, name, ranks, facts, sample = msg
                        health.node_hello(name, ranks, facts, sample)
                    else:
                        health.add_sample(msg[1], msg[2])
            continue
        if health.commit_due():
            with sampler.lock:
                health.commit()
        backoff.pause()
    sampler.finish()  # commits and closes
    wait_quietly([comm.isend("done", dest=0, tag=TAG_MONITOR)])
