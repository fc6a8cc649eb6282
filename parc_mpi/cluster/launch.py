"""An MPI run's roles: after start-up (``startup.py``) every rank reports, rank 0
rules, and each rank takes its part: rank 0 schedules (``lifecycle.py``), the
monitor samples (``monitor.py``), everyone else works (``worker.py``)."""
from __future__ import annotations

import logging
import os
import shutil
import sys
import threading
import time
from typing import Any, Dict, List, Optional, Tuple

from mpi4py import MPI

from ..engine import Cores, node_cores, place
from ..job import Job
from ..layout import Layout
from ..runner import RunOptions, start_scheduler, stop_dashboard
from ..stamps import stamp
from ..store import StoreError
from .. import clock
from .agent import Agent, threads_ok
from .clocks import measure_clocks
from .heartbeat import WorkerHeartbeat
from .lifecycle import run_main
from .monitor import monitor_loop
from .netbench import serve
from .protocol import EXIT_INPUT, bcast_quietly, fail_input, gather_quietly
from .worker import await_goodbye, worker_loop

__all__ = ["agree_and_run", "Layout"]

log = logging.getLogger(__name__)

STALL_SECONDS = 30.0   # at least: how long the ranks' last steps together may take
EXIT_STALLED = 4       # the exit status when they did not
ABORT_GRACE = 3.0      # seconds the other ranks leave rank 0 to say so and end the job


def netbench_mode(asked: str, hosts) -> str:
    """The network benchmark this run makes: none on a single machine (there is no
    network; the default ``quick`` would measure the node against itself and hold up
    the first task), unless ``full`` was asked for by name. ``auto``: the monitor
    reuses the figures kept for this cluster when they still hold (netkeep)."""
    if asked in ("auto", "quick") and len(set(hosts)) < 2:
        return "off"
    return asked


class StartupWatch:
    """Ends the job when the ranks' last steps together do not finish in time: a node
    whose cable or power went during start-up would otherwise leave every other rank
    waiting in a collective for ever. Rank 0 says so in one line; every rank aborts."""

    def __init__(self, comm: MPI.Comm, seconds: float):
        self.comm, self.seconds = comm, seconds
        self.timer: Optional[threading.Timer] = None
        if threads_ok():   # MPI_Abort from a second thread needs MPI_THREAD_MULTIPLE
            self.timer = threading.Timer(seconds, self._stalled)
            self.timer.daemon = True
            self.timer.start()

    def _stalled(self) -> None:
        if self.comm.rank == 0:
            print(f"[parc_mpi] error: start-up stalled for {self.seconds:.0f} s after every "
                  "rank had reported (a node stopped answering: its cable or power?); "
                  "ending every rank, no task had run", file=sys.stderr, flush=True)
            time.sleep(0.3)   # the line travels through the launcher before the abort
            # MPICH's own "application called MPI_Abort" line would only repeat it
            os.dup2(os.open(os.devnull, os.O_WRONLY), 2)
        else:
            time.sleep(ABORT_GRACE)   # rank 0 speaks and ends the job; if it is gone, we do
        self.comm.Abort(EXIT_STALLED)

    def cancel(self) -> None:
        if self.timer is not None:
            self.timer.cancel()


def _fn_name(fn: Any) -> str:
    return f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', '?')}"


def _verdict(reports: List[Tuple], label: str) -> Optional[str]:
    """The first problem any rank reported at start-up (its node named), or a job
    function that differs between ranks; None when every rank is ready."""
    err0, _host0, fn0 = reports[0]
    if err0:
        return err0
    for r, (err, host, fn) in enumerate(reports):
        if err:
            return f"node {host} (rank {r}): {err}"
        if fn != fn0:
            return (f"{label}: job function {fn0} cannot be found by name on node {host} "
                    f"(rank {r}, which has {fn}); define 'job' the same way on every rank")
    return None


def agree_and_run(comm: MPI.Comm, job: Optional[Job], err: Optional[str], store,
                  opts: RunOptions, nothing: Optional[str] = None, runner=None
                  ) -> Tuple[int, Optional[Dict[str, Any]]]:
    """Every rank reports its problem (or None) and its job function; rank 0 rules.
    Then each rank takes its role. Returns (exit status, rank 0's summary).
    ``nothing``: rank 0 found nothing to do (a resume of an ended run): all exit 0.
    ``runner``: a worker's task host, started already (else made here)."""
    try:
        return _agree_and_run(comm, job, err, store, opts, nothing, runner)
    finally:
        if runner is not None:
            runner.close()


def _agree_and_run(comm, job, err, store, opts, nothing, runner):
    rank = comm.rank
    host = MPI.Get_processor_name()
    fn_name = _fn_name(job.fn) if job is not None else None
    if job is not None and job.kind == "map":  # the workers make results.csv's lines
        job.stream = job.streams(opts.resume, opts.order)
    reports = gather_quietly(comm, (err, host, fn_name, node_cores(host)))
    plan = None
    sched = None
    if rank == 0:
        verdict = _verdict([r[:3] for r in reports], opts.job_path)
        if not verdict and not nothing:
            hosts = [r[1] for r in reports]
            plan = Layout(hosts, opts.monitor and threads_ok(), store.run_dir).as_dict()
            try:  # a resume replays the store here: a refusal is still a verdict
                offered = {r[1]: r[3] for r in reports}
                sized = not isinstance(job.cores, int)
                try:
                    takers, benched, line = place(1 if sized else job.cores,
                                                  plan["workers"], hosts, offered)
                except ValueError as exc:
                    raise ValueError(f"{opts.job_path}: {exc}") from None
                sched = start_scheduler(job, store, opts, len(takers))
                sched.benched = benched
                if sized:   # each task its own cores: it starts where they are free
                    sched.sizing = Cores(job.cores, {w: hosts[w] for w in plan["workers"]},
                                         {hosts[w]: offered[hosts[w]] for w in plan["workers"]})
                if line and not opts.quiet:
                    print(f"[parc_mpi] {line}", flush=True)
            except (StoreError, ValueError) as exc:
                verdict = str(exc)
        if verdict and store is not None:
            stop_dashboard(store)
            store.close()
            if not opts.resume:  # a store made for this run only; never an old run's
                shutil.rmtree(store.run_dir, ignore_errors=True)
        if verdict:
            plan = {"error": verdict}
        elif nothing:
            plan = {"nothing": nothing}
    plan = bcast_quietly(comm, plan)
    stamp("agreement (waits for the slowest rank's job)")
    if plan.get("error"):
        if opts.quiet_summary:  # a library call: the caller raises it
            return EXIT_INPUT, {"error": plan["error"]}
        return fail_input(rank, plan["error"]), None
    if plan.get("nothing"):
        if rank == 0:
            print(f"[parc_mpi] {plan['nothing']}", flush=True)
        return 0, None
    layout = Layout.from_dict(plan)
    # from here to the roles every rank takes quick steps together (clocks, two
    # communicators); a node lost now would leave them all waiting for ever
    watch = StartupWatch(comm, max(STALL_SECONDS, 3 * opts.heartbeat_timeout))
    try:
        return _take_roles(comm, job, store, sched, opts, layout, runner, watch)
    finally:
        watch.cancel()


def _take_roles(comm, job, store, sched, opts, layout, runner, watch):
    rank = comm.rank
    host = MPI.Get_processor_name()
    offsets = measure_clocks(comm, layout.hosts)
    stamp("clocks")
    if rank == 0:
        off = {h: s for h, s in offsets.items() if abs(s) >= clock.THRESHOLD}
        store.set_meta(clock_offsets=offsets)
        if off and not opts.quiet:
            print("[parc_mpi] clocks: " + ", ".join(
                f"{h} {s:+.1f} s" for h, s in sorted(off.items())) +
                " against the main node's; their times are corrected (keep the clocks in "
                "step: chrony or systemd-timesyncd)", flush=True)
    role = ("main" if rank == 0 else "monitor" if rank == layout.monitor else
            "worker" + (" + node sampler" if rank in layout.agents else ""))
    log.debug("role: %s pid %d (%d ranks, %d workers, monitor rank %s)", role, os.getpid(), comm.size,
              len(layout.workers), layout.monitor)

    # 4. roles: netbench before work (monitor leads; rank 0 and one rank per node
    # serve), then rank 0 schedules, the monitor samples, everyone else works
    nbcomm = comm.Dup()
    hbcomm = comm.Dup()  # heartbeats: a thread of their own on each worker
    watch.cancel()   # the network benchmark and the heartbeats watch the nodes from here
    netbench = netbench_mode(opts.netbench, layout.hosts)
    if rank == 0:
        if layout.monitor is not None and netbench != "off":
            if not opts.quiet and netbench != "auto":   # auto: the monitor says which
                print(f"[parc_mpi] network benchmark ({netbench}) to "
                      f"{len(layout.peers)} peer(s) before work starts", flush=True)
            silent = serve(nbcomm, layout.monitor)
            stamp("network benchmark or its check")
        else:
            silent = []
        return run_main(comm, hbcomm, job, store, sched, opts, layout, silent)
    if rank == layout.monitor:
        monitor_loop(comm, nbcomm, layout.run_dir, layout.hosts[0], layout.main_ranks,
                     opts.monitor_interval, netbench, layout.peers, layout.leaders,
                     opts.live_report_interval, opts.live_dir, opts.health_commit_seconds,
                     agents=layout.agents if threads_ok() else (),
                     netbench_max_age=opts.netbench_max_age, quiet=opts.quiet)
        return 0, None
    if runner is None:   # rank 1 when it works instead of monitoring
        from ..tasks import make_host
        runner = make_host(job, rank, host, opts.isolate, opts.memory, opts.memory_guard)
        runner.start()
    runner.set_run(os.path.basename(layout.run_dir))   # program tasks' scratch folders
    if netbench != "off" and (rank in layout.peers or rank in layout.leaders):
        serve(nbcomm, layout.monitor)
    agent = None
    if rank in layout.agents:
        agent = Agent(comm, layout.monitor, host, layout.agents[rank],
                      opts.monitor_interval)
        agent.start()
    heartbeat = None
    if threads_ok():
        heartbeat = WorkerHeartbeat(hbcomm, opts.heartbeat_timeout)
        heartbeat.start()
    try:
        worker_loop(comm, job, runner, on_stop=heartbeat.finish if heartbeat else None)
    finally:
        runner.close()   # before the roll call: a rank leaves nothing running
        log.debug("task host closed")
        if heartbeat is not None:
            heartbeat.stop.set()  # already stopped on the way out; this covers a raise
        if agent is not None:
            agent.finish()
    await_goodbye(comm, opts.heartbeat_timeout)
    if heartbeat is not None:
        heartbeat.drain()
    return 0, None
