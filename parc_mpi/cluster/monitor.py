"""The monitor rank: netbench before work, then health samples from every node's
agent into the run store, committed in batches, until rank 0 says stop."""
from __future__ import annotations

import logging
import os
import time
from typing import Callable, Dict, Iterable, List, Optional

from mpi4py import MPI

from ..monitor.health import LocalSampler
from ..store import HealthWriter
from . import heartbeat
from .heartbeat import skip_finalize
from .worker import REPORT_WAIT, await_goodbye
from .netbench import Leader, PeerSilent
from .protocol import TAG_MONITOR, TAG_SAMPLE, TAG_STOP, Backoff, wait_quietly

log = logging.getLogger(__name__)

BYE_WAIT = 30.0   # seconds the monitor waits, after the roll call, for every agent's "bye"


def run_netbench(nbcomm: MPI.Comm, health: HealthWriter, mode: str, peers: Dict[int, str],
                 leaders: Dict[int, str], main: str = "", max_age_hours: float = 168.0,
                 quiet: bool = False) -> None:
    """Main node -> each node, one node at a time; then the pair matrix. ``auto``: the
    figures kept for this cluster when they still hold (netkeep), else ``quick``."""
    from .. import netkeep
    leader = Leader(nbcomm, "quick" if mode == "auto" else mode)
    silent: List[str] = []
    nodes = [n for r, n in leaders.items()] or list(peers.values())
    key, ident = netkeep.cluster_key(main, nodes, MPI.Get_library_version())
    try:
        why = ""
        if mode == "auto":
            kept, why = netkeep.load(key, max_age_hours)
            if kept is not None:
                checks = _spot_check(leader, peers)
                why = netkeep.drift(kept["rows"], checks)
                if why:   # once more before half a minute of benchmark: a busy moment
                    checks = _spot_check(leader, peers)   # is not a changed link
                    why = netkeep.drift(kept["rows"], checks)
                if not why:
                    health.add_netbench(kept["rows"])
                    health.add_pairs([tuple(p) for p in kept["pairs"]])
                    health.set_meta(netbench={
                        "source": "kept", "mode": kept.get("mode"),
                        "measured_at": kept["measured_at"], "age_seconds": kept["age_seconds"],
                        "file": kept["path"], "check": checks})
                    if not quiet:
                        print(f"[parc_mpi] network figures kept from "
                              f"{netkeep.age_words(kept['age_seconds'])} ago (the links check "
                              "out; --netbench quick measures again)", flush=True)
                    return
        if not quiet and mode == "auto":
            print(f"[parc_mpi] network benchmark (quick) to {len(peers)} peer(s) before work "
                  f"starts: {why}; kept for later runs", flush=True)
        rows: List[dict] = []
        for peer, node in sorted(peers.items()):
            try:
                got = leader.node(peer, node)
                rows.extend(got)
                health.add_netbench(got)
            except PeerSilent as exc:  # a cable pulled now: skip the node, not the run
                silent.append(node)
                print(f"[parc_mpi] warning: network benchmark: node {node} stopped "
                      f"answering ({exc}); its link may be down, skipped", flush=True)
        alive = {r: n for r, n in leaders.items() if n not in silent}
        pairs = leader.pair_matrix(alive) if len(alive) > 2 else []
        health.add_pairs(pairs)
        kept_at = None
        if not silent and rows:   # a partial measurement is not kept
            kept_at = netkeep.save(key, ident, leader.mode_name, rows, pairs)
        health.set_meta(netbench={"source": "measured", "mode": leader.mode_name,
                                  "measured_at": time.time(), "age_seconds": 0.0,
                                  "file": kept_at, "why": why or f"--netbench {mode}"})
    finally:   # rank 0 first: it learns which nodes went silent and starts the work
        leader.end(sorted(set(peers) | (set(leaders) - {nbcomm.rank})), silent)


def _spot_check(leader: Leader, peers: Dict[int, str]) -> Dict[str, Optional[tuple]]:
    """Each node's 1-byte latency median (us) and a 1 MB upload's rate (MB/s) now
    (None: silent)."""
    out: Dict[str, Optional[tuple]] = {}
    for peer, node in sorted(peers.items()):
        try:
            out[node] = leader.check(peer)
        except PeerSilent:
            out[node] = None
    return out


FIGURES_EVERY = 3   # live report: figures redrawn at most every third rewrite


class LiveReport:
    """Rewrites the live report every ``interval`` seconds, in a thread, so that drawing
    never delays the samples; the final report is rank 0's, at the end."""

    def __init__(self, run_dir: str, out_dir: Optional[str], interval: float):
        import threading
        self.interval = interval
        self.out_dir = out_dir or run_dir
        os.makedirs(self.out_dir, exist_ok=True)
        self.run_dir = run_dir
        self.reporter = None   # made by the thread at its first rewrite: matplotlib's
        #                        import (half a CPU second) then stays out of start-up
        self.stop = threading.Event()
        self.renders = 0
        self.cpu = 0.0  # this thread's CPU seconds, for the monitor's own account
        self.thread = threading.Thread(target=self._run, name="parc-live-report", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stop.wait(self.interval):
            t = time.thread_time()
            try:
                if self.reporter is None:
                    from ..monitor.report import Reporter  # matplotlib: the monitor's only
                    # numbers and tables every rewrite, a figure with new data every third
                    self.reporter = Reporter(self.run_dir, self.out_dir,
                                             redraw_after=FIGURES_EVERY * self.interval)
                self.reporter.render(live=True, refresh=self.interval)
                self.renders += 1
            except Exception as exc:  # a report must never stop the job
                log.warning("live report failed: %s", exc)
            self.cpu += time.thread_time() - t

    def finish(self) -> None:
        self.stop.set()
        self.thread.join(timeout=60)


def monitor_loop(comm: MPI.Comm, nbcomm: MPI.Comm, run_dir: str, node: str,
                 node_ranks: List[int], interval: float, netbench: str,
                 peers: Dict[int, str], leaders: Dict[int, str],
                 report_interval: float = 10.0, live_dir: Optional[str] = None,
                 commit_seconds: float = 5.0, agents: Iterable[int] = (),
                 netbench_max_age: float = 168.0, quiet: bool = False) -> None:
    """``agents``: the ranks whose agent thread sends their node's samples; each says
    "bye" when its rank stops working, and the monitor takes every message up to it
    before it finalizes."""
    health = HealthWriter(os.path.join(run_dir, "run.sqlite"), commit_seconds)
    wall0, cpu0 = time.monotonic(), time.process_time()
    live = LiveReport(run_dir, live_dir, report_interval)
    sampler = LocalSampler(health, node, node_ranks, interval)
    sampler.start()
    if netbench != "off" and peers:
        with sampler.lock:
            run_netbench(nbcomm, health, netbench, peers, leaders, node, netbench_max_age,
                         quiet)
    status = MPI.Status()
    backoff = Backoff()
    talking = set(agents)        # agents that have not said "bye" yet
    while True:
        if comm.Iprobe(source=MPI.ANY_SOURCE, tag=MPI.ANY_TAG, status=status):
            src, tag = status.Get_source(), status.Get_tag()
            msg = comm.recv(source=src, tag=tag)
            backoff.reset()
            if tag == TAG_MONITOR:
                finalize = msg[1] if isinstance(msg, tuple) else None
                if finalize is False:  # a rank was lost
                    skip_finalize()
                break
            if tag == TAG_SAMPLE:
                if msg[0] == "bye":
                    talking.discard(src)
                    continue
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
    live.finish()
    # what the monitor rank cost, for the report's readers and benchmarks/monitor_cost.py
    with sampler.lock:  # the sampler thread shares the connection
        health.set_meta(monitor_cost={
            "wall_seconds": round(time.monotonic() - wall0, 3),
            "cpu_seconds": round(time.process_time() - cpu0, 3),
            "live_reports": live.renders, "live_report_cpu_seconds": round(live.cpu, 3),
            "report_interval": report_interval})
    sampler.finish()  # commits and closes
    wait_quietly([comm.isend("done", dest=0, tag=TAG_MONITOR)])
    if finalize is None:   # rank 0 calls the roll once its report is written
        _take_samples_until(comm, talking, lambda: comm.Iprobe(source=0, tag=TAG_STOP))
        await_goodbye(comm, REPORT_WAIT)
        if not heartbeat.SKIP_FINALIZE:
            # every worker answered the roll after its agent's "bye": those still on
            # their way are taken, so MPI_Finalize finds nothing unreceived
            deadline = time.monotonic() + BYE_WAIT
            _take_samples_until(comm, talking, lambda: time.monotonic() > deadline)


def _take_samples_until(comm: MPI.Comm, talking: set, done: Callable[[], bool]) -> None:
    """Receive (and drop: the store is closed) the agents' last samples and their
    "bye" until every agent has said it or ``done()``."""
    status = MPI.Status()
    backoff = Backoff()
    while talking and not done():
        if comm.Iprobe(source=MPI.ANY_SOURCE, tag=TAG_SAMPLE, status=status):
            msg = comm.recv(source=status.Get_source(), tag=TAG_SAMPLE)
            if msg[0] == "bye":
                talking.discard(status.Get_source())
            backoff.reset()
        else:
            backoff.pause()
