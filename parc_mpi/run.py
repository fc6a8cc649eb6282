"""``python -m parc_mpi.run JOB.py``: run a job on every rank of an MPI world.

Rank 0 schedules, every other rank works. With no MPI launcher (or one rank),
the job runs serially in this process, so a job can be tried without a cluster.
"""
from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from typing import List, Optional

from .cli import make_parser
from .mpienv import launcher_rank
from .runner import RunOptions, apply_options, resolve_resume, run_serial

EPILOG = """\
examples:
  python -m parc_mpi.run jobs/pi_montecarlo.py                  # serial, no cluster
  mpiexec -n 4 python -m parc_mpi.run jobs/pi_montecarlo.py
  mpirun -hostfile hostfile python -m parc_mpi.run jobs/optimize_rastrigin.py

soft stop: create a file named STOP in the run directory, or press Ctrl-C once.
"""


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got '{text}'")
    return value


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be a non-negative integer, got '{text}'")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be a positive number, got '{text}'")
    return value


def _memory_size(text: str) -> int:
    from .tasks.memory import parse_size
    try:
        return parse_size(text, "--memory")
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc).replace("--memory ", "", 1)) from None


def _serve_spec(text: str) -> str:
    from .serve.launch import parse_spec
    try:
        parse_spec(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc).split(": ", 1)[1]) from None
    return text


def build_parser() -> argparse.ArgumentParser:
    p = make_parser("run", "Run a parc_mpi job file.", EPILOG, script="parc-run")
    p.add_argument("job", help="a Python file that defines a module-level 'job'")
    p.add_argument("--run-dir", metavar="DIR",
                   help="the run directory (default: runs/<name>-<timestamp>)")
    p.add_argument("--runs", metavar="DIR", default="runs",
                   help="where run directories are made (default: runs)")
    p.add_argument("--name", help="the run's name (default: the job file's name)")
    p.add_argument("--prefetch", type=_positive_int, default=2, metavar="K",
                   help="batches queued per worker (default: 2)")
    p.add_argument("--order", choices=["learn"],
                   help="learn: a map job's longest tasks first, their length learned from "
                        "the first tasks' times by the items' numeric fields (off by default; "
                        "docs/jobs.md)")
    p.add_argument("--thermal", action="store_true",
                   help="thermal-aware scheduling: a node throttled or at 80 °C gets one "
                        "task per worker in flight and, near the end, none while cooler "
                        "workers are idle (needs the monitor; docs/report.md)")
    p.add_argument("--retries", type=_non_negative_int, metavar="N",
                   help="retries of a task that raised (default: the job's, 0)")
    p.add_argument("--progress", type=_positive_float, default=5.0, metavar="SECONDS",
                   help="seconds between progress lines (default: 5)")
    p.add_argument("-q", "--quiet", action="store_true",
                   help="no progress lines; at the end only the summary line, warnings and "
                        "errors")
    p.add_argument("--ship", metavar="DIR",
                   help="a project folder sent to every node with the job file")
    p.add_argument("--install-deps", action="store_true",
                   help="pip install the shipped folder's requirements.txt once per node")
    p.add_argument("--cache", metavar="DIR",
                   help="where nodes unpack shipped code (default: ~/.cache/parc_mpi)")
    p.add_argument("--sync", choices=("normal", "full"), default="normal",
                   help="SQLite fsync policy: normal survives any process crash; full also "
                        "a power loss, at an fsync per commit (default: normal)")
    p.add_argument("--no-monitor", dest="monitor", action="store_false",
                   help="no monitor rank and no health sampling (rank 1 works too)")
    p.add_argument("--monitor-interval", type=_positive_float, default=2.0, metavar="SECONDS",
                   help="seconds between health samples of each node (default: 2)")
    p.add_argument("--report-interval", type=_positive_float, metavar="SECONDS",
                   help="seconds between rewrites of the live report (default: 10; 60 "
                        "with --serve, whose pages are live anyway); its figures are "
                        "redrawn at most every third rewrite")
    p.add_argument("--live-dir", metavar="DIR",
                   help="write the live report here (e.g. /dev/shm/run on a Pi, to spare "
                        "the SD card); the final report always goes to the run directory")
    p.add_argument("--netbench", choices=("auto", "quick", "full", "off"), default="auto",
                   help="network benchmark from the main node to every node before work "
                        "(default: auto, the figures kept from an earlier run on the same "
                        "nodes and addresses when a spot check agrees, else quick, a few "
                        "seconds per node, kept for later runs; quick and full measure "
                        "now; none on a single machine unless full)")
    p.add_argument("--netbench-max-age", type=_positive_float, default=168.0,
                   metavar="HOURS",
                   help="kept network figures older than this are measured again "
                        "(default: 168, a week)")
    p.add_argument("--resume", metavar="RUN_DIR",
                   help="continue a stopped or crashed run: finished tasks are kept, "
                        "tasks that were running run again, an optimizer is replayed")
    p.add_argument("--resume-if-exists", action="store_true",
                   help="with --run-dir: continue the run there if it holds one, else "
                        "start it there (one batch script for the first job and the job "
                        "that finishes what a time limit cut off)")
    p.add_argument("--heartbeat-timeout", type=_positive_float, default=30.0,
                   metavar="SECONDS",
                   help="a worker silent this long is declared lost and its tasks run "
                        "elsewhere (default: 30; with MPICH start mpiexec with "
                        "-disable-auto-cleanup so a lost rank does not end the job)")
    p.add_argument("--budget", type=_positive_int, metavar="N",
                   help="an optimization's number of evaluations instead of the job's; "
                        "with --resume, continue a finished or stopped run to N")
    p.add_argument("--warm-start", metavar="RUN_DIR",
                   help="tell an earlier optimization's results (same space) to the "
                        "optimizer before it asks")
    p.add_argument("--allow-failures", action="store_true",
                   help="exit 0 even when some tasks failed for good (a sweep where some "
                        "points are expected to fail); by default any failure exits 1")
    p.add_argument("--serve", metavar="[HOST:]PORT", type=_serve_spec,
                   help="serve the live dashboard of this run from the main node (e.g. "
                        "--serve 8080; python -m parc_mpi.serve shows every run)")
    p.add_argument("--allow-host", action="append", default=[], metavar="NAME",
                   help="with --serve: another host name the dashboard answers to (it "
                        "answers to this machine's names, NAME.local and its addresses; "
                        "any other name is refused, against DNS rebinding)")
    p.add_argument("--in-process", dest="isolate", action="store_false",
                   help="run tasks in the worker ranks themselves instead of a task process "
                        "per rank: a few percent faster on trivial tasks, but a task that "
                        "crashes, is killed or hangs in C then takes its rank (and with it "
                        "the job) down, and --memory and hard timeouts do not apply")
    p.add_argument("--memory", metavar="SIZE", type=_memory_size,
                   help="memory limit of each task's process, e.g. 800M or 2G (default: the "
                        "job's memory=, else none); a task that needs more fails naming it")
    p.add_argument("--no-memory-guard", dest="memory_guard", action="store_false",
                   help="do not end the node's biggest task process when the node's "
                        "available memory falls below max(5%%, 64 MB)")
    p.add_argument("--retry-failed", action="store_true",
                   help="with --resume: run a map job's tasks that failed for good again "
                        "(by default a resume keeps them as failed)")
    p.add_argument("--log-level", default="warning", type=str.lower,
                   choices=("debug", "info", "warning", "error"),
                   help="parc_mpi's own log lines, each with rank and host: debug shows "
                        "roles, state changes, messages, heartbeats and commits "
                        "(default: warning; other libraries stay at warning)")
    return p


def setup_logging(level: str) -> None:
    """parc_mpi's loggers at ``level``, with rank and host on each line; every other
    library's (matplotlib's font manager, say) stays at WARNING."""
    rank = launcher_rank()
    host = os.uname().nodename
    fmt = (f"%(asctime)s [rank {rank if rank is not None else 0} {host}] "
           "%(name)s %(levelname)s: %(message)s")
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter(fmt))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)
    logging.getLogger("parc_mpi").setLevel(level.upper())


def main(argv: Optional[List[str]] = None) -> int:
    from .stamps import stamp
    stamp("interpreter, parc_mpi's imports")
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser().parse_args(argv)
    setup_logging(args.log_level)
    opts = RunOptions(job_path=args.job, run_dir=args.run_dir, runs_base=args.runs,
                      name=args.name, prefetch=args.prefetch, retries=args.retries,
                      progress=args.progress, quiet=args.quiet, sync=args.sync,
                      monitor=args.monitor, monitor_interval=args.monitor_interval,
                      report_interval=args.report_interval, live_dir=args.live_dir,
                      netbench=args.netbench, netbench_max_age=args.netbench_max_age,
                      resume=args.resume,
                      heartbeat_timeout=args.heartbeat_timeout, argv=argv,
                      allow_failures=args.allow_failures, budget=args.budget,
                      warm_start=args.warm_start, serve=args.serve,
                      allow_hosts=args.allow_host, isolate=args.isolate,
                      memory=args.memory, memory_guard=args.memory_guard,
                      retry_failed=args.retry_failed,
                      resume_if_exists=args.resume_if_exists, thermal=args.thermal,
                      order=args.order)
    if args.retry_failed and not args.resume:
        print("error: --retry-failed goes with --resume RUN_DIR", file=sys.stderr)
        return 2
    if args.thermal and not args.monitor:
        print("error: --thermal reads the monitor's temperatures; it cannot go with "
              "--no-monitor", file=sys.stderr)
        return 2
    if args.resume_if_exists and not args.run_dir:
        print("error: --resume-if-exists goes with --run-dir DIR (the run to continue or "
              "start)", file=sys.stderr)
        return 2
    if args.resume and args.run_dir:
        print("error: --resume RUN_DIR continues that run in place; drop --run-dir",
              file=sys.stderr)
        return 2
    early = _early_task_process(opts)
    from .cluster.world import WorldMismatch, world
    try:
        comm = world()
        stamp("MPI_Init (mpi4py.MPI)")
    except WorldMismatch as exc:   # every process says it: one line, from the first
        if early is not None:
            early.close()
        if launcher_rank() in (0, None):
            print(f"error: {exc}", file=sys.stderr, flush=True)
        return 2
    if comm is None and early is not None:   # a launcher's rank variable, no MPI world
        early.close()
        early = None
    if comm is not None:
        from .cluster import heartbeat
        from .cluster.startup import run_mpi
        status = run_mpi(comm, opts, ship_dir=args.ship, install_deps=args.install_deps,
                         cache=args.cache, early=early)
        logging.getLogger("parc_mpi.run").debug(
            "leaving with status %s, %s", status,
            "without MPI_Finalize" if heartbeat.SKIP_FINALIZE else "through MPI_Finalize")
        if heartbeat.SKIP_FINALIZE:  # a rank was lost: MPI_Finalize could wait forever
            sys.stdout.flush()
            sys.stderr.flush()
            if comm.rank == 0:
                _end_without_lost_nodes(comm, status)
            else:  # rank 0 ends the job; leaving first makes MPICH's launcher trip
                heartbeat.await_the_end(max(120.0, 4 * opts.heartbeat_timeout))
            os._exit(status)
        return _finalize(comm, status)
    resolve_resume(opts)
    return _serial(opts, args.ship)



def _early_task_process(opts: RunOptions):
    """A worker rank's task process, started before MPI_Init: its Python, numpy and
    parc_mpi load while the rank initialises MPI and the job is shipped, so that the
    first task does not wait for them (on one 2-core machine the first task waited
    0.15 s for it when it started after MPI_Init). Which rank works is known from the
    launcher's environment: not rank 0, nor rank 1 when it will monitor. Before
    MPI_Init a bare fork is safe, and the rank has parc_mpi and numpy loaded: the task
    process costs no import at all (those that start later, after a task killed one,
    are a fork and exec). None for any other process."""
    rank = launcher_rank()
    if not rank or not opts.isolate or (rank == 1 and opts.monitor):
        return None
    import socket
    from .tasks import TaskHost
    early = TaskHost(rank, socket.gethostname(), guard=opts.memory_guard)
    early.start(fork=True)   # MPI is not initialised yet: a fork, with parc_mpi loaded
    return early


def _finalize(comm, status: int) -> int:
    """MPI_Finalize here rather than from mpi4py's hook late in the interpreter's
    shutdown, where a failure is silent: MPICH's MPI_Finalize fails on a communicator
    with unreceived messages, and a rank that leaves without finalizing makes MPICH's
    launcher end its node's other ranks (the run's exit 0 became 255). A failure
    here is one line naming the rank, and the run's own status."""
    from mpi4py import MPI
    sys.stdout.flush()
    sys.stderr.flush()
    if MPI.Is_finalized():
        return status
    try:
        MPI.Finalize()
    except MPI.Exception as exc:
        why = " ".join(str(exc).split())
        print(f"[parc_mpi] warning: MPI_Finalize failed on rank {comm.rank} "
              f"({MPI.Get_processor_name()}): {why[-300:]}", file=sys.stderr, flush=True)
        os._exit(status)
    return status


def _end_without_lost_nodes(comm, status: int) -> None:
    """Everything is committed and reported, but the launcher would wait for ever for
    the processes of a node that is gone (its cable pulled, its power cut): end the
    job through the launcher, whose abort also ends the survivors (they wait for it),
    with the run's own exit status."""
    from .cluster import heartbeat
    if heartbeat.FAREWELL or not heartbeat.END_BY_ABORT:
        print(heartbeat.FAREWELL or "[parc_mpi] ending the MPI job with MPI_Abort: the "
              "launcher cannot wait for the lost node's processes (everything is saved)",
              file=sys.stderr, flush=True)
    time.sleep(0.5)  # let the launcher forward the last lines before the abort
    # MPICH's MPI_Abort prints "Abort(0) on node 0 ... application called MPI_Abort"
    # on this rank's stderr: after the line above it only alarms; it is not shown
    os.dup2(os.open(os.devnull, os.O_WRONLY), 2)
    comm.Abort(status)


def _serial(opts: RunOptions, ship_dir: Optional[str]) -> int:
    from .job import JobError, load_job
    from .resume import NothingToResume
    from .store import StoreError
    early = None
    if opts.isolate:   # Python and parc_mpi load in the task process meanwhile
        import platform
        from .tasks import TaskHost
        early = TaskHost(0, platform.node(), guard=opts.memory_guard)
        early.start()
    try:
        if ship_dir and not os.path.isdir(ship_dir):
            raise JobError(f"--ship {ship_dir}: not a directory")
        job = load_job(opts.job_path, extra_path=os.path.abspath(ship_dir) if ship_dir else None)
        apply_options(job, opts)
        from .engine import node_cores
        if isinstance(job.cores, int) and job.cores > node_cores():
            raise JobError(f"{opts.job_path}: cores={job.cores}: this machine offers "
                           f"{node_cores()} (PARC_MPI_CORES sets what a node offers)")
        return run_serial(job, opts, early=early)
    except NothingToResume as exc:
        print(f"[parc_mpi] {exc}")
        return 0
    except (JobError, StoreError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        if early is not None:
            early.close()   # a no-op once the run has closed it


if __name__ == "__main__":
    sys.exit(main())
