"""Start-up of an MPI run: ship the job, load it on every rank, and agree that all
is well (or stop every rank with one message).

Bad input never hangs: every check ends in a verdict that rank 0 sends to all
ranks, and every rank exits with the same status.
"""
from __future__ import annotations

import itertools
import os
import signal
import sys
import time
import zlib
from typing import Optional

from mpi4py import MPI

from ..engine import check_picklable
from ..job import Job, JobError, MapJob, load_job
from ..resume import NothingToResume
from .. import runner
from ..runner import RunOptions, apply_options, open_run, resolve_resume
from ..stamps import stamp
from ..store import StoreError
from .protocol import bcast_quietly, fail_input
from .ship import Package, ShipError, install_requirements, pack, project_dir, unpack


def node_comm(comm: MPI.Comm, host: str) -> MPI.Comm:
    """Ranks grouped by host name (not by shared memory: namespaced test nodes
    share one kernel but are different hosts)."""
    color = zlib.crc32(host.encode()) & 0x7FFFFFFF
    return comm.Split(color, comm.rank)


def run_mpi(comm: MPI.Comm, opts: RunOptions, ship_dir: Optional[str] = None,
            install_deps: bool = False, cache: Optional[str] = None,
            early=None) -> int:
    """Every rank calls this; it returns the process exit status. ``early``: this
    rank's task process, started before MPI_Init (run.py)."""
    rank = comm.rank
    host = MPI.Get_processor_name()
    if early is not None:
        early.node = host   # the name MPI gives the node (the runs' stores use it)
    elif rank != 0 and opts.isolate and not (rank == 1 and opts.monitor and comm.size >= 3):
        # a worker's task process: Python and parc_mpi load while the job is shipped,
        # loaded and agreed on, so that the first batch does not wait for them
        from ..tasks import TaskHost
        early = TaskHost(rank, host, guard=opts.memory_guard)
        early.start()
    try:
        return _run_mpi(comm, opts, ship_dir, install_deps, cache, early)
    finally:
        if early is not None:
            early.close()   # a no-op once the run has closed it


def _run_mpi(comm: MPI.Comm, opts: RunOptions, ship_dir: Optional[str],
             install_deps: bool, cache: Optional[str], early) -> int:
    rank = comm.rank
    host = MPI.Get_processor_name()
    # Slurm's --signal=USR2@SECONDS reaches every process of the step; its default
    # action would end the process. Rank 0's run soft-stops on it; until the run starts,
    # rank 0 keeps it for the run
    signal.signal(signal.SIGUSR2, signal.SIG_IGN if rank != 0 else
                  lambda signum, frame: runner.WARNED.append(True))
    if rank != 0:  # rank 0 alone turns Ctrl-C or SIGTERM (scancel) into a soft stop
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    else:   # outside the compute (the run's Watch has it): end every rank now
        def interrupted(signum, frame):
            print(f"[parc_mpi] {signal.Signals(signum).name}: ending every rank now (what is "
                  "stored is kept; --resume continues a run)", file=sys.stderr, flush=True)
            time.sleep(0.3)   # the line travels through the launcher before the abort
            comm.Abort(128 + signum)
            os._exit(128 + signum)
        signal.signal(signal.SIGINT, interrupted)
        signal.signal(signal.SIGTERM, interrupted)

    # 1. rank 0 packs the job; everyone gets the package or the reason it failed
    pkg: Optional[Package] = None
    problem = None
    if rank == 0:
        resolve_resume(opts)   # --resume-if-exists: rank 0 looks, before it makes anything
        try:
            pkg = pack(opts.job_path, ship_dir)
        except ShipError as exc:
            problem = str(exc)
    pkg, problem, opts.resume, opts.run_dir = bcast_quietly(
        comm, (pkg, problem, opts.resume, opts.run_dir))
    if problem:
        return fail_input(rank, problem)
    stamp("the job packed and sent")

    # 2. one rank per node unpacks; then every rank imports the job
    local = node_comm(comm, host)
    err: Optional[str] = None
    folder = None
    if local.rank == 0:
        try:
            folder = unpack(pkg, cache)
            if install_deps:
                err = install_requirements(folder)
        except ShipError as exc:
            err = str(exc)
    folder, node_err = bcast_quietly(local, (folder, err))
    local.Free()
    job: Optional[Job] = None
    if node_err:
        err = node_err
    else:
        # the job's own folder, as when it runs serially: sibling modules import
        # wherever that folder exists (this machine, a shared filesystem)
        origin = pkg.origin_dir if pkg.origin_dir and os.path.isdir(pkg.origin_dir) else None
        try:
            job = load_job(os.path.join(folder, pkg.job_name), label=opts.job_path,
                           extra_path=project_dir(folder), also_path=origin)
        except JobError as exc:
            err = str(exc)
            if "ModuleNotFoundError" in err and not ship_dir:
                err += (f" (this node {'cannot see' if origin is None else 'has'} the job's "
                        f"folder {pkg.origin_dir}; send your own modules to every node with "
                        "--ship DIR)")

    stamp("the job loaded (its imports)")
    # rank 1 will be the monitor: its live report loads matplotlib (half a CPU second)
    # at its first rewrite, not now: every rank waits for it in the collectives ahead
    # (start-up 0.70 s -> 0.45 s on one 2-core machine, the floor being 0.36 s)
    monitor = rank == 1 and opts.monitor and comm.size >= 3
    runner = None
    if rank != 0 and not monitor and job is not None and err is None:
        # a worker's task process loads the job while the ranks agree, measure their
        # clocks and the network: its first batch does not wait for it
        from ..tasks import make_host
        if job.kind == "map":
            job.stream = job.streams(opts.resume, opts.order)
        runner = make_host(job, rank, host, opts.isolate, opts.memory, opts.memory_guard,
                           early=early)
        runner.start()

    # 3. rank 0 checks what only it can (first task, run directory), then rules
    store = None
    nothing = None
    if rank == 0 and err is None:
        try:
            apply_options(job, opts)
            _check_first_task(job, opts.job_path)
            store = open_run(job, opts)
            stamp("the run's store")
        except NothingToResume as exc:
            nothing = str(exc)
        except (ValueError, StoreError, JobError) as exc:
            err = str(exc)
    from .launch import agree_and_run
    status, _summary = agree_and_run(comm, job, err, store, opts, nothing, runner)
    return status


def _check_first_task(job: Job, label: str) -> None:
    """A map job's first item must be sendable; peek without losing it."""
    if isinstance(job, MapJob):
        it = iter(job.items)
        try:
            first = next(it)
        except StopIteration:
            return
        except Exception as exc:
            raise ValueError(f"{label}: the job's items raised {type(exc).__name__}: "
                             f"{exc}") from None
        check_picklable(first, label)
        if it is job.items:  # an iterator: put the first item back in front
            job.items = itertools.chain([first], it)
