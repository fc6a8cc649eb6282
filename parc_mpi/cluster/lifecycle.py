"""Rank 0's life around the scheduling loop: record the start, run the loop with
its watch, sampler and heartbeats, and end the run (cleanly, or with MPI_Abort
after saving what is done when the job cannot go on)."""
from __future__ import annotations

import os
import sys
import time
import traceback
from typing import Any, Dict, Optional, Tuple

from mpi4py import MPI

from ..job import Job
from ..layout import Layout
from ..mpienv import auto_cleanup_disabled, launcher_hostfile_text
from ..monitor.health import LocalSampler
from ..runner import RunOptions, Watch, exit_status, finish_run, record_start
from ..store import HealthWriter, StoreError
from .agent import threads_ok
from .heartbeat import Liveness, farewell
from .main import main_loop
from .protocol import TAG_MONITOR, recv_quietly, wait_quietly


def run_main(comm: MPI.Comm, hbcomm: MPI.Comm, job: Job, store, sched, opts: RunOptions,
              layout: Layout) -> Tuple[int, Dict[str, Any]]:
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
    if not opts.quiet:
        hint = _cleanup_hint(comm.size, len(world["nodes"]))
        if hint:
            print(f"[parc_mpi] {hint}", flush=True)
    try:
        main_loop(comm, sched, workers, nodes, opts.prefetch, watch, liveness)
        stop_monitor(comm, layout.monitor, finalize=not sched.lost)
    except KeyboardInterrupt:
        _try_finish(sched, store, job, "aborted")
        _abort(comm, 130)
    except StoreError as exc:
        # the disk is full or the folder went away: what was committed is intact (SQLite
        # rolls the open transaction back); end every rank now rather than hang
        print(f"error: {exc}; results committed before are safe; fix that, then continue "
              f"with --resume {store.run_dir}", file=sys.stderr, flush=True)
        _abort(comm, 3)
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
    summary = finish_run(sched, store, job, quiet=opts.quiet_summary, report=opts.report,
                         allow_failures=opts.allow_failures)
    if sched.lost:
        farewell(summary, store.run_dir)
    return exit_status(summary, opts.allow_failures), summary


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
    if auto_cleanup_disabled():
        return None
    return ("note: a lost worker ends an MPICH job unless mpiexec runs with "
            "-disable-auto-cleanup; add it so the run goes on without the lost node")
