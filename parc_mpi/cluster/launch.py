"""Start-up of an MPI run: ship the job, load it on every rank, agree that all is
well (or stop every rank with one message), then give each rank its role.

Bad input never hangs: every check ends in a verdict that rank 0 sends to all
ranks, and every rank exits with the same status.
"""
from __future__ import annotations

import os
import shutil
import signal
import sys
import time
import traceback
import zlib
from typing import Any, Dict, List, Optional, Tuple

from mpi4py import MPI

from ..engine import check_picklable
from ..job import Job, JobError, MapJob, load_job
from ..runner import (RunOptions, Watch, finish_run, open_run, record_start,
                      start_scheduler)
from ..resume import NothingToResume
from ..store import StoreError
from ..monitor.health import HealthStore, LocalSampler
from ..monitor.monitor import monitor_loop
from ..monitor.netbench import serve
from .agent import Agent, threads_ok
from .heartbeat import Liveness, WorkerHeartbeat
from .main import main_loop
from .protocol import (TAG_MONITOR, bcast_quietly, gather_quietly, recv_quietly,
                       wait_quietly)
from .ship import Package, ShipError, install_requirements, pack, project_dir, unpack
from .worker import await_goodbye, worker_loop

EXIT_INPUT = 2


def node_comm(comm: MPI.Comm, host: str) -> MPI.Comm:
    """Ranks grouped by host name (not by shared memory: namespaced test nodes
    share one kernel but are different hosts)."""
    color = zlib.crc32(host.encode()) & 0x7FFFFFFF
    return comm.Split(color, comm.rank)


def _fn_name(fn: Any) -> str:
    return f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', '?')}"


def run_mpi(comm: MPI.Comm, opts: RunOptions, ship_dir: Optional[str] = None,
            install_deps: bool = False, cache: Optional[str] = None) -> int:
    """Every rank calls this; it returns the process exit status."""
    rank = comm.rank
    host = MPI.Get_processor_name()
    if rank != 0:  # rank 0 alone turns Ctrl-C or SIGTERM (scancel) into a soft stop
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)

    # 1. rank 0 packs the job; everyone gets the package or the reason it failed
    pkg: Optional[Package] = None
    problem = None
    if rank == 0:
        try:
            pkg = pack(opts.job_path, ship_dir)
        except ShipError as exc:
            problem = str(exc)
    pkg, problem = bcast_quietly(comm, (pkg, problem))
    if problem:
        return _fail(rank, problem)

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
        try:
            job = load_job(os.path.join(folder, pkg.job_name), label=opts.job_path,
                           extra_path=project_dir(folder))
        except JobError as exc:
            err = str(exc)
    fn_name = _fn_name(job.fn) if job is not None else None

    # 3. rank 0 checks what only it can (first task, run directory), then rules
    store = None
    nothing = None
    if rank == 0 and err is None:
        try:
            if opts.retries is not None:
                job.retries = opts.retries
            _check_first_task(job, opts.job_path)
            store = open_run(job, opts)
        except NothingToResume as exc:
            nothing = str(exc)
        except (ValueError, StoreError) as exc:
            err = str(exc)
    status, _summary = agree_and_run(comm, job, err, store, opts, nothing)
    return status


def agree_and_run(comm: MPI.Comm, job: Optional[Job], err: Optional[str], store,
                  opts: RunOptions, nothing: Optional[str] = None
                  ) -> Tuple[int, Optional[Dict[str, Any]]]:
    """Every rank reports its problem (or None) and its job function; rank 0 rules.
    Then each rank takes its role. Returns (exit status, rank 0's summary).
    ``nothing``: rank 0 found nothing to do (a resume of an ended run): all exit 0."""
    rank = comm.rank
    host = MPI.Get_processor_name()
    fn_name = _fn_name(job.fn) if job is not None else None
    reports = gather_quietly(comm, (err, host, fn_name))
    plan = None
    sched = None
    if rank == 0:
        verdict = _verdict(reports, opts.job_path)
        if not verdict and not nothing:
            plan = Layout([h for _e, h, _f in reports], opts.monitor and threads_ok(),
                          store.run_dir).__dict__
            try:  # a resume replays the store here: a refusal is still a verdict
                sched = start_scheduler(job, store, opts, len(plan["workers"]))
            except (StoreError, ValueError) as exc:
                verdict = str(exc)
        if verdict and store is not None:
            store.close()
            if not opts.resume:  # a store made for this run only; never an old run's
                shutil.rmtree(store.run_dir, ignore_errors=True)
        if verdict:
            plan = {"error": verdict}
        elif nothing:
            plan = {"nothing": nothing}
    plan = bcast_quietly(comm, plan)
    if plan.get("error"):
        if opts.quiet_summary:  # a library call: the caller raises it
            return EXIT_INPUT, {"error": plan["error"]}
        return _fail(rank, plan["error"]), None
    if plan.get("nothing"):
        if rank == 0:
            print(f"[parc_mpi] {plan['nothing']}", flush=True)
        return 0, None
    layout = Layout.__new__(Layout)
    layout.__dict__.update(plan)

    # 4. roles: netbench before work (monitor leads; rank 0 and one rank per node
    # serve), then rank 0 schedules, the monitor samples, everyone else works
    nbcomm = comm.Dup()
    hbcomm = comm.Dup()  # heartbeats: a thread of their own on each worker
    if rank == 0:
        if layout.monitor is not None and opts.netbench != "off":
            if not opts.quiet:
                print(f"[parc_mpi] network benchmark ({opts.netbench}) to "
                      f"{len(layout.peers)} peer(s) before work starts", flush=True)
            serve(nbcomm, layout.monitor)
        return _run_main(comm, hbcomm, job, store, sched, opts, layout)
    if rank == layout.monitor:
        monitor_loop(comm, nbcomm, layout.run_dir, layout.hosts[0], layout.main_ranks,
                     opts.monitor_interval, opts.netbench, layout.peers, layout.leaders,
                     opts.report_interval, opts.live_dir)
        return 0, None
    if opts.netbench != "off" and (rank in layout.peers or rank in layout.leaders):
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
        worker_loop(comm, job, on_stop=heartbeat.finish if heartbeat else None)
    finally:
        if heartbeat is not None:
            heartbeat.stop.set()  # already stopped on the way out; this covers a raise
        if agent is not None:
            agent.finish()
    await_goodbye(comm, opts.heartbeat_timeout)
    if heartbeat is not None:
        heartbeat.drain()
    return 0, None


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
        check_picklable(job, first, label)
        import itertools
        if it is job.items:  # an iterator: put the first item back in front
            job.items = itertools.chain([first], it)


def _verdict(reports: List[Tuple], label: str) -> Optional[str]:
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


def _fail(rank: int, message: str) -> int:
    if rank == 0:
        print(f"error: {message}", file=sys.stderr, flush=True)
    return EXIT_INPUT


def _run_main(comm: MPI.Comm, hbcomm: MPI.Comm, job: Job, store, sched, opts: RunOptions,
              layout: "Layout") -> Tuple[int, Dict[str, Any]]:
    workers = layout.workers
    nodes = dict(enumerate(layout.hosts))
    world = {"ranks": comm.size, "workers": len(workers), "monitor_rank": layout.monitor,
             "mpi": MPI.Get_library_version().strip().splitlines()[0].strip(),
             "mpi4py": __import__("mpi4py").__version__,
             "nodes": sorted(set(nodes.values())),
             "rank_nodes": {str(r): h for r, h in nodes.items()},
             "hostfile": _hostfile_text()}
    record_start(store, job, opts, world)
    sched.t0, sched.cpu0 = time.time(), time.process_time()  # the clock starts after netbench
    watch = Watch(sched, store.run_dir, opts.progress, opts.quiet,
                  lambda: len(workers) - len(sched.lost))
    sampler = None
    if layout.monitor is None and opts.monitor:  # no monitor rank: sample this node here
        sampler = LocalSampler(HealthStore(store.path), layout.hosts[0], layout.main_ranks,
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
    summary = finish_run(sched, store, job, quiet=opts.quiet_summary)
    return (1 if summary["status"] == "failed" else 0), summary


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
    pid = os.getppid()
    for _ in range(4):  # rank 0 <- hydra_pmi_proxy <- mpiexec: look for the flag
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as fh:
                args = fh.read().split(b"\0")
            with open(f"/proc/{pid}/stat", "rb") as fh:
                ppid = int(fh.read().rsplit(b")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            break
        if any(a.lstrip(b"-") in (b"disable-auto-cleanup", b"disable_auto_cleanup")
               for a in args):
            return None
        if any(b"mpiexec" in a or b"mpirun" in a for a in args[:1]):
            break
        pid = ppid
    return ("note: a lost worker ends an MPICH job unless mpiexec runs with "
            "-disable-auto-cleanup; add it so the run goes on without the lost node")


def _hostfile_text() -> Optional[str]:
    """The hostfile the launcher used, when it says which (MPICH, Open MPI, Slurm)."""
    for var in ("PARC_MPI_HOSTFILE", "HYDRA_HOST_FILE", "OMPI_MCA_orte_default_hostfile",
                "OMPI_MCA_rmaps_base_hostfile"):
        path = os.environ.get(var)
        if path and os.path.isfile(path):
            try:
                with open(path, encoding="utf-8", errors="replace") as fh:
                    return fh.read()[:65536]
            except OSError:
                return None
    return None
