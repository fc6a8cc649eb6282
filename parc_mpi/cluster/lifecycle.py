"""Rank 0's life around the scheduling loop: record the start, run the loop with
its watch, sampler and heartbeats, and end the run (cleanly, or with MPI_Abort
after saving what is done when the job cannot go on)."""
from __future__ import annotations

import logging
import os
import sys
import time
import traceback
from typing import Any, Dict, Optional, Tuple

from mpi4py import MPI

from ..job import Job
from ..layout import Layout
from ..mpienv import auto_cleanup_disabled, launcher_hostfile_text, started_by_srun
from ..monitor.health import LocalSampler
from ..runner import (EXIT_DISK, RunOptions, Watch, exit_status, finish_run, record_start,
                      stopped_by_disk)
from ..store import HealthWriter, StoreError
from ..thermal import Thermal
from .agent import threads_ok
from . import heartbeat
from .heartbeat import Liveness, farewell, skip_finalize
from .main import main_loop
from .protocol import (TAG_DONE, TAG_MONITOR, TAG_STOP, Goodbye, RollCall, recv_quietly,
                       wait_quietly)


log = logging.getLogger(__name__)


def run_main(comm: MPI.Comm, hbcomm: MPI.Comm, job: Job, store, sched, opts: RunOptions,
              layout: Layout, silent=()) -> Tuple[int, Dict[str, Any]]:
    """Rank 0's run. ``silent``: nodes the start-up network benchmark found gone (a
    cable pulled then): their workers are lost before the first task."""
    workers = layout.workers
    nodes = dict(enumerate(layout.hosts))
    world = {"ranks": comm.size, "workers": len(workers), "monitor_rank": layout.monitor,
             "mpi": MPI.Get_library_version().strip().splitlines()[0].strip(),
             "mpi4py": __import__("mpi4py").__version__,
             "nodes": sorted(set(nodes.values())),
             "rank_nodes": {str(r): h for r, h in nodes.items()},
             "hostfile": launcher_hostfile_text()}
    record_start(store, job, opts, world)
    sched.start_clock()  # the clock starts after netbench
    watch = Watch(sched, store.run_dir, opts.progress, opts.quiet,
                  lambda: len(workers) - len(sched.lost))
    sampler = None
    if layout.monitor is None and opts.monitor:  # no monitor rank: sample this node here
        sampler = LocalSampler(HealthWriter(store.path, opts.health_commit_seconds), layout.hosts[0], layout.main_ranks,
                               opts.monitor_interval)
        sampler.start()
    liveness = Liveness(hbcomm, workers, opts.heartbeat_timeout, enabled=threads_ok())
    gone = [w for w in workers if nodes.get(w) in silent]
    if gone:
        _lost_at_start(sched, liveness, gone, nodes)
    if not opts.quiet:
        hint = _cleanup_hint(comm.size, len(world["nodes"]))
        if hint:
            print(f"[parc_mpi] {hint}", flush=True)
    try:
        thermal = Thermal(store.run_dir) if opts.thermal else None
        main_loop(comm, sched, workers, nodes, opts.prefetch, watch, liveness, thermal)
        if thermal is not None:
            sched.thermal = thermal.summary(time.time())
        stop_monitor(comm, layout.monitor, finalize=False if sched.lost else None)
    except KeyboardInterrupt:
        _try_finish(sched, store, job, "aborted")
        _abort(comm, 130)
    except StoreError as exc:
        # the disk is full or the folder went away: what was committed is intact (SQLite
        # rolls the open transaction back); end every rank now rather than hang
        stopped_by_disk(store, exc)
        _abort(comm, EXIT_DISK)
    except BaseException:
        # workers would wait for rank 0 forever: save what is done, then end them all
        traceback.print_exc()
        _try_finish(sched, store, job, "crashed")
        print("error: rank 0 crashed (traceback above); results so far are in "
              f"{store.run_dir}", file=sys.stderr, flush=True)
        _abort(comm, 1)
    finally:
        watch.close()
        if sampler is not None:
            sampler.finish()
    summary = {}
    disk = None
    try:
        summary = finish_run(sched, store, job, quiet=opts.quiet_summary, report=opts.report,
                             allow_failures=opts.allow_failures, brief=opts.quiet)
    except StoreError as exc:   # the end's files: the run stays resumable
        disk = stopped_by_disk(store, exc)
    finally:
        if not sched.lost:   # everyone waits for the word: is every rank still there?
            here = list(workers) + ([layout.monitor] if layout.monitor is not None else [])
            status = disk if disk is not None else (
                exit_status(summary, opts.allow_failures) if summary else 1)
            # MPICH's launcher ends every process still on its way out when one exits
            # non-zero, and across nodes that turned the run's exit 1 into 9 or 255 with
            # a BAD TERMINATION banner (measured on the six-node box: 1 run in 5 with a
            # failed task, every run when rank 0 left last). Its MPI_Abort exits with the
            # status given, cleanly: a run that ends non-zero ends through it
            finalize = status == 0 or "MPICH" not in MPI.Get_library_version()
            gone = roll_call(comm, here, roll_call_seconds(opts.heartbeat_timeout), finalize)
            if not finalize:
                heartbeat.END_BY_ABORT = True
                skip_finalize()
            if gone:
                summary = dict(summary, lost_workers={
                    str(r): {"node": nodes.get(r, "?"), "at": time.time(),
                             "tasks_requeued": 0, "after_last_result": True} for r in gone})
                _gone_at_the_end(store, summary, gone, nodes)
    if disk is not None:
        return disk, summary
    if summary.get("lost_workers"):
        farewell(summary, store.run_dir)
    return exit_status(summary, opts.allow_failures), summary


def roll_call_seconds(heartbeat_timeout: float) -> float:
    """How long the roll call waits for an idle rank: a few seconds (every rank is
    waiting for it), never longer than the heartbeat timeout."""
    return max(1.0, min(5.0, heartbeat_timeout / 2))


def roll_call(comm: MPI.Comm, ranks, timeout: float, finalize: bool = True) -> list:
    """Ask ``ranks`` (waiting in ``worker.await_goodbye``) whether they are still there;
    tell those that answered whether to finalize; return those that did not answer
    within ``timeout`` seconds (their node is gone: nobody may finalize then)."""
    sends = [comm.isend(RollCall(), dest=r, tag=TAG_STOP) for r in ranks]
    waiting = set(ranks)
    deadline = time.monotonic() + timeout
    while waiting:
        got = recv_quietly(comm, tag=TAG_DONE, timeout=max(0.0, deadline - time.monotonic()))
        if got is None:
            break
        waiting.discard(got[1])
    gone = sorted(waiting)
    if gone:
        log.debug("roll call: no answer from rank(s) %s within %.1f s", gone, timeout)
        skip_finalize()
    bye = Goodbye(finalize=not gone and finalize)
    wait_quietly(sends + [comm.isend(bye, dest=r, tag=TAG_STOP) for r in ranks
                          if r not in waiting], timeout=timeout)
    return gone


def _gone_at_the_end(store, summary: Dict[str, Any], gone, nodes) -> None:
    """Ranks that stopped answering after the last result: the results are whole; the
    store says who went (the summary's lost_workers) for the report and the loader."""
    try:
        from ..store import Store
        again = Store(store.run_dir)   # finish_run closed the run's own
        again.set_meta(summary=summary)
        again.close()
    except Exception as exc:   # the farewell line still says it
        print(f"warning: could not record the lost ranks: {exc}", file=sys.stderr, flush=True)
    print(f"[parc_mpi] warning: rank{'s' if len(gone) > 1 else ''} "
          f"{', '.join(map(str, gone))} on {', '.join(sorted({nodes.get(r, '?') for r in gone}))}"
          " stopped answering after the last result", file=sys.stderr, flush=True)


def _lost_at_start(sched, liveness: Liveness, gone, nodes) -> None:
    """Workers on nodes the network benchmark found gone: lost before any task (no
    task goes to them, and the job ends as for any lost node)."""
    for w in gone:
        sched.worker_lost(w, nodes[w])
        liveness.last.pop(w, None)
    for node in sorted({nodes[w] for w in gone}):
        ranks = ", ".join(str(w) for w in gone if nodes[w] == node)
        print(f"[parc_mpi] warning: node {node} stopped answering during the network "
              f"benchmark: its workers (ranks {ranks}) are lost; the others go on",
              flush=True)


def _abort(comm: MPI.Comm, code: int) -> None:
    """End every rank. MPI_Abort may return before the launcher's kill arrives;
    nothing more may be printed after it (a half traceback is worse than none)."""
    sys.stdout.flush()
    sys.stderr.flush()
    # the last lines travel through the launcher's output pipes while the abort goes
    # by its control socket: give them a moment, or the one line that explains the
    # exit can be lost (seen under load)
    time.sleep(0.3)
    comm.Abort(code)
    os._exit(code)


def _try_finish(sched, store, job: Job, status: str) -> None:
    """Save what can be saved on the way down; never stand between rank 0 and Abort."""
    try:
        finish_run(sched, store, job, status=status)
    except Exception as exc:
        print(f"warning: could not write the end-of-run files: {exc}", file=sys.stderr,
              flush=True)


def stop_monitor(comm: MPI.Comm, monitor: Optional[int], finalize: bool = True) -> None:
    """Tell the monitor the work is done and wait (quietly) until it has committed."""
    if monitor is None:
        return
    wait_quietly([comm.isend(("stop", finalize), dest=monitor, tag=TAG_MONITOR)])
    if recv_quietly(comm, source=monitor, tag=TAG_MONITOR, timeout=60) is None:
        print("warning: the monitor rank did not finish in 60 s", file=sys.stderr, flush=True)


def _cleanup_hint(ranks: int, nodes: int) -> Optional[str]:
    """With MPICH, one dead rank ends the whole job unless mpiexec was started with
    -disable-auto-cleanup; say so once when the world is big enough for it to matter."""
    if (ranks < 8 and nodes < 2) or "MPICH" not in MPI.Get_library_version():
        return None
    if auto_cleanup_disabled() or started_by_srun():   # no mpiexec to give it to
        return None
    return ("note: a lost worker ends an MPICH job unless mpiexec runs with "
            "-disable-auto-cleanup; add it so the run goes on without the lost node")
