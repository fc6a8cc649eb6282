"""What rank 0 does around the scheduling loop, with or without MPI: open the run
directory, watch for a soft stop, print progress, and write the end-of-run files.
"""
from __future__ import annotations

import contextlib
import math
import os
import platform
import signal
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional

from . import __version__
from .engine import Scheduler
from .tasks import make_host, message
from .job import Job, OptimizeJob
from .sources import make_source
from .store import HealthWriter, Store, StoreError, lock_run, make_run_dir
from .store.digest import Digest
from .store.export import CsvStream
from .store.schema import STOP_FILE



@dataclass
class RunOptions:
    """Command-line options that reach rank 0's loop (a typed record, not a dict)."""

    job_path: str
    run_dir: Optional[str] = None
    runs_base: str = "runs"
    name: Optional[str] = None
    prefetch: int = 2
    retries: Optional[int] = None
    progress: float = 5.0
    quiet: bool = False
    sync: str = "normal"
    monitor: bool = True
    monitor_interval: float = 2.0
    report_interval: Optional[float] = None  # None: 10 s, or 60 s with --serve
    live_dir: Optional[str] = None
    netbench: str = "auto"       # auto: the figures kept for this cluster, else quick
    netbench_max_age: float = 168.0   # hours kept figures are reused (netkeep)
    resume: Optional[str] = None  # a run directory to continue
    heartbeat_timeout: float = 30.0
    quiet_summary: bool = False  # minimize(): the caller prints what it wants
    report: bool = True          # draw report.html at the end
    allow_failures: bool = False  # exit 0 although some tasks failed for good
    budget: Optional[int] = None     # an optimization's budget (with --resume: extend it)
    warm_start: Optional[str] = None  # tell an earlier run's results first
    serve: Optional[str] = None  # [HOST:]PORT: the dashboard beside this run
    allow_hosts: List[str] = field(default_factory=list)   # --allow-host, with --serve
    isolate: bool = True         # tasks in task processes (False: --in-process)
    memory: Optional[int] = None  # --memory: bytes per task process (else the job's)
    memory_guard: bool = True    # end the biggest task process when the node runs low
    retry_failed: bool = False   # --resume --retry-failed: run failed-for-good tasks again
    resume_if_exists: bool = False   # --run-dir DIR: resume the run in DIR if there is one
    thermal: bool = False        # --thermal: fewer tasks on a hot node (thermal.py)
    order: Optional[str] = None  # --order learn: a map job's longest tasks first, learned
    argv: List[str] = field(default_factory=list)

    @property
    def live_report_interval(self) -> float:
        """Seconds between live report rewrites: with a dashboard served, the file is
        only the fallback, so it is rewritten six times less often."""
        if self.report_interval is not None:
            return self.report_interval
        return 60.0 if self.serve else 10.0

    @property
    def health_commit_seconds(self) -> float:
        """How often health samples are committed, i.e. how fresh a dashboard's node
        rows can be, and how soon --thermal sees a node turn hot: every sample with
        --serve or --thermal, else every 5 s."""
        return max(self.monitor_interval, 1.0) if self.serve or self.thermal else 5.0


def apply_options(job: Job, opts: RunOptions) -> None:
    """Command-line settings that change the job: --retries, --budget (a new run),
    --warm-start. Raises JobError naming the option."""
    from .job import JobError
    if opts.retries is not None:
        job.retries = opts.retries
    if (opts.budget is not None or opts.warm_start) and not isinstance(job, OptimizeJob):
        raise JobError(f"{'--budget' if opts.budget is not None else '--warm-start'}: "
                       f"{opts.job_path} is not an optimization job")
    if opts.budget is not None and not opts.resume:
        job.budget = opts.budget
    if opts.order:
        from .job import MapJob
        if not isinstance(job, MapJob) or not isinstance(job.items, (list, tuple, range)):
            raise JobError(f"--order {opts.order}: {opts.job_path} is not a map job over a "
                           "list, tuple or range (its tasks must be known to be ordered)")
        if job.cost is not None:
            raise JobError(f"--order {opts.order}: {opts.job_path} gives map(..., cost=), "
                           "which orders its tasks already")
        job.order = opts.order
    if opts.warm_start:
        from .store.warm import check_warm_start
        try:
            check_warm_start(opts.warm_start, job.space)
        except ValueError as exc:
            raise JobError(str(exc)) from None
        job.warm_start = opts.warm_start


def resolve_resume(opts: RunOptions) -> None:
    """``--run-dir DIR --resume-if-exists``: a run already in DIR is resumed in place
    (rank 0 decides, before it makes anything, and tells the other ranks)."""
    if opts.resume_if_exists and opts.run_dir and \
            os.path.exists(os.path.join(opts.run_dir, "run.sqlite")):
        opts.resume, opts.run_dir = opts.run_dir, None


def open_run(job: Job, opts: RunOptions) -> Store:
    """Create the run directory and its store (raises StoreError naming the path), or
    with ``--resume`` open the old one (NothingToResume when it already ended)."""
    if opts.run_dir and os.path.exists(os.path.join(opts.run_dir, STOP_FILE)):
        from .store import StoreError
        raise StoreError(f"{os.path.join(opts.run_dir, STOP_FILE)}: a stop request is "
                         "already there at start; remove it to run")
    if opts.resume:
        from .resume import open_for_resume
        store = open_for_resume(job, opts.resume, opts.job_path, opts.sync, opts.budget,
                                reopen=opts.retry_failed)
        _check_writable(store.run_dir)
        stop = os.path.join(opts.resume, STOP_FILE)
        if os.path.exists(stop):
            # run.lock is ours, so the run is not going: this is the stop request
            # that ended it, and it has done its work
            os.remove(stop)
            if not opts.quiet:
                print(f"[parc_mpi] removed {stop} (the stop request of the run being "
                      "resumed)", flush=True)
        start_dashboard(store, opts)
        return store
    if isinstance(job, OptimizeJob) and job.seed is None:
        # a run must be replayable by --resume: draw the seed now and record it
        job.seed = int.from_bytes(os.urandom(4), "little") >> 1
    name = opts.name or job.name or "job"
    if opts.run_dir:
        run_dir = opts.run_dir
        from .store import StoreError
        if os.path.exists(os.path.join(run_dir, "run.sqlite")):
            raise StoreError(f"{run_dir}: already holds a run; give another --run-dir "
                             "(or --resume-if-exists to continue it)")
        try:
            os.makedirs(run_dir, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"{run_dir}: cannot create the run directory: "
                             f"{exc.strerror}") from None
    else:
        run_dir = make_run_dir(opts.runs_base, name)
    _check_writable(run_dir)
    store = Store(run_dir, sync=opts.sync)
    store.lock = lock_run(run_dir)
    start_dashboard(store, opts)
    return store


def start_dashboard(store: Store, opts: RunOptions) -> None:
    """``--serve``: the dashboard child process for this run (``store.dashboard``).
    A port that cannot be bound is a JobError naming it (like any bad option); the
    new run directory is then removed, as after any start-up error."""
    store.dashboard = None
    if not opts.serve:
        return
    from .serve.launch import ServerProcess
    try:
        store.dashboard = ServerProcess(store.run_dir, opts.serve,
                                        allow_hosts=opts.allow_hosts)
    except ValueError as exc:
        store.close()
        if not opts.resume:
            import shutil
            shutil.rmtree(store.run_dir, ignore_errors=True)
        from .job import JobError
        raise JobError(str(exc)) from None
    store.dashboard.announce()


def stop_dashboard(store: Store, final_shown: Optional[float] = None) -> None:
    """End ``--serve``'s child once pages have had time to see the final state."""
    server = getattr(store, "dashboard", None)
    if server is None:
        return
    from .serve.launch import LINGER
    # no final state (a start-up error): stop at once
    linger = 0.0 if final_shown is None else LINGER - (time.monotonic() - final_shown)
    server.stop(linger=max(0.0, linger))
    store.dashboard = None


def _check_writable(run_dir: str) -> None:
    from .store import StoreError
    probe = os.path.join(run_dir, ".write-test")
    try:
        with open(probe, "w") as fh:
            fh.write("ok")
        os.remove(probe)
    except OSError as exc:
        raise StoreError(f"{run_dir}: run directory is not writable: {exc.strerror}") from None


def record_start(store: Store, job: Job, opts: RunOptions, world: Dict[str, Any]) -> None:
    world = dict(world, monitor_interval=opts.monitor_interval,
                 health_commit_seconds=opts.health_commit_seconds)
    if opts.resume:  # the run keeps its name, start and job; the world may differ
        store.set_meta(**world)
        return
    from .resume import job_digest
    store.set_meta(job=job.describe(), name=opts.name or job.name, job_file=opts.job_path,
                   job_path=os.path.abspath(opts.job_path) if os.path.isfile(opts.job_path)
                   else None, cwd=os.getcwd(),
                   job_sha256=job_digest(opts.job_path), argv=opts.argv, status="running",
                   started=time.time(), parc_mpi=__version__, python=sys.version.split()[0],
                   platform=platform.platform(), **world)


def start_scheduler(job: Job, store: Store, opts: RunOptions, workers: int) -> Scheduler:
    """The scheduler for this run; on --resume, replayed to where the run stood."""
    sched = Scheduler(job, make_source(job, workers=workers), store, workers=workers)
    if job.kind == "map":   # results.csv and the report's aggregates as results arrive
        job.stream = job.streams(opts.resume, opts.order)
        if job.stream:
            sched.sheet = CsvStream(os.path.join(store.run_dir, "results.csv"))
            sched.digest = Digest()
    if opts.resume:
        from .resume import mark_resumed, replay
        counts = replay(sched, store, job.retries, opts.retry_failed)
        target = opts.budget or store.meta().get("budget_extended")
        if target and isinstance(job, OptimizeJob) and target != job.budget:
            # replayed with the budget it had, then asked further
            try:
                sched.source.extend(int(target))
            except ValueError as exc:
                raise StoreError(f"{store.run_dir}: {exc}") from None
            store.set_meta(budget_extended=int(target))
        mark_resumed(store, opts.argv, counts)
        if not opts.quiet_summary:
            print(f"[parc_mpi] resuming {store.run_dir}: {counts['done']} tasks done "
                  f"({counts['failed']} failed) kept, {counts['rerun']} to run again",
                  flush=True)
    return sched


TERM_WAIT = 5.0   # seconds running tasks get after SIGTERM before the run ends them
# Slurm's --signal=USR2@SECONDS. Not USR1: MPICH installs its own SIGUSR1 handler (its
# Hydra launcher signals a dead rank with it), and taking it over broke the loss of a
# worker rank under mpiexec -disable-auto-cleanup (tests/test_faults.py)
TIME_LIMIT_NEAR = "Slurm's warning of the time limit (SIGUSR2)"
WARNED: List[bool] = []   # a SIGUSR2 that came before the run's Watch (rank 0 starting)


class Watch:
    """Soft-stop triggers: a STOP file in the run directory, SIGINT or SIGTERM."""

    def __init__(self, sched: Scheduler, run_dir: str, progress: float, quiet: bool,
                 live_workers: Callable[[], Optional[int]] = lambda: None):
        self.sched = sched
        self.stop_path = os.path.join(run_dir, STOP_FILE)
        self.progress = progress
        self.quiet = quiet
        self.live_workers = live_workers
        self.next_check = 0.0
        self.next_progress = time.monotonic() + progress
        self.first_shown = False  # the first line comes with the first results
        self.hard_at: Optional[float] = None  # SIGTERM: when running tasks are ended
        self.term_named = False   # whether Slurm was asked why it sent SIGTERM
        self._old = {}
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGUSR2):
            try:
                self._old[sig] = signal.signal(sig, self._on_signal)
            except ValueError:  # not the main thread
                pass
        if WARNED:   # Slurm's warning came while the ranks were starting
            self._on_signal(signal.SIGUSR2, None)

    def _on_signal(self, signum, frame):
        if signum == signal.SIGUSR2:
            # Slurm's --signal=USR2@SECONDS warning: the time limit is near. No new
            # tasks; running ones finish and are stored before SIGTERM comes
            if not self.sched.stopping:
                self.sched.request_stop(TIME_LIMIT_NEAR)
                print(f"[parc_mpi] {TIME_LIMIT_NEAR}: soft stop, waiting for running "
                      "tasks", flush=True)
            return
        if signum == signal.SIGTERM:
            # systemd and Slurm send SIGKILL a while after SIGTERM (Slurm's KillWait: 30 s):
            # running tasks get TERM_WAIT seconds, then the run ends with what is stored.
            # A SIGTERM after a soft stop (Slurm's warning, a Ctrl-C) starts that clock;
            # one more changes nothing (Slurm sends one for the step and one for the job)
            if self.hard_at is None:
                self.sched.request_stop("SIGTERM")
                self.hard_at = time.monotonic() + TERM_WAIT
                print(f"[parc_mpi] SIGTERM: soft stop, waiting up to {TERM_WAIT:g} s for "
                      "running tasks", flush=True)
            return
        if self.sched.stopping:  # a second Ctrl-C: stop now
            raise KeyboardInterrupt
        self.sched.request_stop(signal.Signals(signum).name)
        print(f"[parc_mpi] {self.sched.stop_reason}: soft stop, waiting for running tasks "
              "(again to abort)", flush=True)

    def tick(self) -> None:
        """Cheap enough for every loop turn: real work happens twice a second."""
        now = time.monotonic()
        if now < self.next_check:
            return
        self.next_check = now + 0.5
        if self.hard_at is not None and not self.term_named:
            # under Slurm, SIGTERM is the time limit or scancel: scontrol says which
            self.term_named = True
            if self.sched.stop_reason == "SIGTERM":
                from .slurm import end_reason
                reason = end_reason()
                if reason:
                    self.sched.stop_reason = reason
                    print(f"[parc_mpi] stopping by {reason}", flush=True)
        if self.hard_at is not None and now > self.hard_at:
            print(f"[parc_mpi] SIGTERM: running tasks did not finish within {TERM_WAIT:g} s; "
                  "ending them (what is stored stays; --resume runs them again)", flush=True)
            raise KeyboardInterrupt
        if not self.sched.stopping and os.path.exists(self.stop_path):
            try:   # the dashboard's button writes its own line in the file
                with open(self.stop_path, encoding="utf-8", errors="replace") as fh:
                    dashboard = fh.read(200).startswith("soft stop from the dashboard")
            except OSError:
                dashboard = False
            self.sched.request_stop("the dashboard's soft stop" if dashboard else "STOP file")
            print(f"[parc_mpi] found {self.stop_path}: soft stop, waiting for running tasks",
                  flush=True)
        first = not self.first_shown and self.sched.done > self.sched.done_before
        if not self.quiet and (now >= self.next_progress or first):
            self.first_shown = True
            self.next_progress = now + self.progress
            print("[parc_mpi] " + self.sched.progress_line(self.live_workers()), flush=True)

    def close(self) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)


def _whole(sched: Scheduler) -> bool:
    """Whether every task's last stored row is a final attempt the scheduler saw as
    such (no retry or batch left when the run ended): what results.csv's stream and
    the digest need to be whole."""
    return not (sched.retry or sched.in_flight)


def _finish_sheet(sched: Scheduler, store: Store) -> Optional[str]:
    """Put the results.csv streamed during the run in place when it holds every
    task's final attempt, and return how it was written (None: not streamed, or the
    stream gave up: the store must write it)."""
    sheet = sched.sheet
    if sheet is None:
        return None
    if not _whole(sched):   # a stop left retries: their last rows are stored
        sheet.give_up("tasks were left to run again")
    expected = None
    if sheet.live and not sheet.retried:  # every row is final: counted without a scan
        with store.reader() as reader:
            expected = reader.attempts()
    return "as results arrived" if sheet.finish(expected) else None


@contextlib.contextmanager
def _writing(path: str):
    """An OSError (a full disk) while writing ``path``, as the StoreError that names
    it: every result is committed; the file is not."""
    try:
        yield
    except OSError as exc:
        raise StoreError(f"{path}: cannot write: {exc.strerror or exc}") from None


def _end_files(sched: Scheduler, store: Store, job: Job, summary: Dict[str, Any],
               status: str, phases: Dict[str, float], names: Optional[List[str]]) -> None:
    """results.csv, the job's summary and best.json, then the final status; an OSError
    (a full disk) leaves the run's status as it was, for --resume to finish."""
    clock = time.perf_counter
    t = clock()
    with _writing(os.path.join(store.run_dir, "results.csv")):
        how = _finish_sheet(sched, store)
        if how is None:
            store.write_results_csv(names)
            how = "from the store" + (f" ({sched.sheet.reason})" if sched.sheet else "")
    phases["results.csv"] = clock() - t
    if job.summary is not None and summary["ok"]:
        t = clock()
        summary["job_summary"] = _job_summary(job, store)
        phases["job summary"] = clock() - t
    t = clock()
    if isinstance(job, OptimizeJob):
        best = summary.get("best")
        outcome = {
            "goal": job.goal, "params": best["params"] if best else None,
            "value": best["value"] if best else None, "evaluations": summary["tasks"],
            "failed": summary["failed"]}
        if best and "method" in best:   # noisy values: the value is an estimate
            outcome["estimate"] = {k: best[k] for k in (
                "method", "sd", "noise_sd", "n", "sample", "task")}
            if best.get("repeats"):   # counted apart from the budget's evaluations
                outcome["repeats"] = best["repeats"]
                outcome["evaluations"] -= outcome["repeats"]
        outcome.update(_optimization(store, job, summary))
        with _writing(os.path.join(store.run_dir, "best.json")):
            store.write_json("best.json", outcome)
    digest = {}
    if sched.digest is not None and _whole(sched):
        digest["digest"] = sched.digest.state()   # what the report would scan the store for
    phases["best.json, summary, health"] = clock() - t
    t = clock()
    verdict = _verdict(store, summary)
    phases["verdict"] = clock() - t
    if verdict is not None:
        summary["verdict"] = verdict["text"]
        digest["verdict"] = verdict
    t = clock()
    store.set_meta(status=status, finished=time.time(), summary=summary, results_csv=how,
                   **digest)
    phases["best.json, summary, health"] += clock() - t


def _verdict(store: Store, summary: Dict[str, Any]) -> Optional[Dict[str, Any]]:
    """What limited the run (analysis.py), or None: no task ran, or the analysis
    failed (it must never cost the run its end)."""
    from .analysis import run_verdict
    store.flush()
    try:
        return run_verdict(store.run_dir, summary=summary)
    except Exception as exc:   # a bug of ours: said, and the run ends as it should
        print(f"[parc_mpi] warning: no verdict on what limited the run: "
              f"{type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
        return None


def finish_run(sched: Scheduler, store: Store, job: Job, status: Optional[str] = None,
               extra: Optional[Dict[str, Any]] = None, quiet: bool = False,
               report: bool = True, allow_failures: bool = False,
               brief: bool = False) -> Dict[str, Any]:
    """Commit everything, write results.csv and best.json, print the summary
    (``brief``, for -q: the summary line, warnings and errors only).

    The time each step takes after the last result is kept in the run's metadata
    (``phases``), so that the end of a run can be measured, not guessed."""
    clock = time.perf_counter
    phases: Dict[str, float] = {}
    t = clock()
    sched.flush()
    phases["final commit"] = clock() - t
    summary = sched.summary()
    summary.update(extra or {})
    if status is None:
        if sched.stopping:
            status = "stopped"
        elif summary["tasks"] and summary["ok"] == 0:
            status = "failed"
        else:
            status = "finished"
    summary["status"] = status
    names = job.space.names if isinstance(job, OptimizeJob) else None
    _end_files(sched, store, job, summary, status, phases, names)
    final_shown = time.monotonic()  # from now on a dashboard shows the final state
    t = clock()
    from .monitor.health import health_lines
    with store.reader() as reader:
        health = health_lines(reader)
        first = reader.failures(limit=1) if summary["failed"] else []
    phases["best.json, summary, health"] += clock() - t
    t = clock()
    report = write_report(store.run_dir) if report else None
    phases["report"] = clock() - t
    started = _process_start()
    startup = None
    if started is not None:
        phases["start-up (process start to first task)"] = max(0.0, sched.t0 - started)
        from .stamps import phases as startup_phases
        startup = startup_phases(started, sched.t0)
    phases["compute (first task to last result)"] = summary["seconds"]
    try:
        store.set_meta(phases={k: round(v, 4) for k, v in phases.items()},
                       compute_started=sched.t0, startup=startup)
    finally:
        store.close()
        stop_dashboard(store, final_shown)
    if quiet:
        return summary
    line = f"[parc_mpi] {summary_line(summary, sched.source.total, sched.done_before)}"
    if "best" in summary:
        line += f"; best {best_words(summary['best'])}"
    if summary.get("optimization"):
        line += optimization_words(summary["optimization"])
    print(line, flush=True)
    if summary.get("verdict") and not brief:   # -q: the summary line alone
        print(f"[parc_mpi] what limited it: {summary['verdict']}", flush=True)
    if (summary.get("optimization") or {}).get("pruner_unused"):
        print(f"[parc_mpi] warning: {summary['optimization']['pruner_unused']}", flush=True)
    if summary.get("job_summary"):
        print(f"[parc_mpi] {summary['job_summary']}", flush=True)
    for rank, info in sorted((summary.get("lost_workers") or {}).items()):
        if info.get("after_last_result"):
            print(f"[parc_mpi] lost worker rank {rank} on {info['node']} after the last "
                  "result: no task was lost", flush=True)
            continue
        print(f"[parc_mpi] lost worker rank {rank} on {info['node']}: "
              f"{info['tasks_requeued']} task(s) it held ran elsewhere", flush=True)
    if not brief:
        for line in health:
            print(f"[parc_mpi] health {line}", flush=True)
        if report:
            print(f"[parc_mpi] report: {report}", flush=True)
        print(f"[parc_mpi] run directory: {store.run_dir}", flush=True)
        if status == "stopped":
            print(f"[parc_mpi] --resume {store.run_dir} continues it", flush=True)
    if first:
        where = f"; tracebacks in {report}" if report else ""
        text = (f"{summary['failed']} of {summary['tasks']} tasks failed for good; first "
                f"(task {first[0].task}): {first[0].error_line}{where}")
        if allow_failures and status != "failed":
            print(f"[parc_mpi] note: {text} (--allow-failures: exit 0)", flush=True)
        else:
            print(f"error: {text}", file=sys.stderr, flush=True)
    return summary


def _process_start() -> Optional[float]:
    """When this process started (epoch seconds), from /proc to 10 ms (psutil's
    create_time rounds the boot time to whole seconds)."""
    try:
        with open("/proc/self/stat", "rb") as fh:
            ticks = int(fh.read().rsplit(b")", 1)[1].split()[19])
        with open("/proc/uptime", "rb") as fh:
            uptime = float(fh.read().split()[0])
        return time.time() - uptime + ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):  # not Linux: no start-up figure
        return None


EXIT_DISK = 3   # the run folder could not be written (a full disk): resume once there is room


def stopped_by_disk(store: Store, exc: Exception) -> int:
    """One line for a run folder that cannot be written (the store or the end's files);
    the run is marked stopped by it where the store still takes that. Returns the exit
    status."""
    print(f"error: {exc}; results committed before are safe; make room, then continue "
          f"with --resume {store.run_dir}", file=sys.stderr, flush=True)
    try:
        store.set_meta(status="stopped", stopped_by="a full disk (or an unwritable run "
                       "folder)")
    except Exception:   # the store itself is what cannot be written
        pass
    try:
        store.close()
    except Exception:
        pass
    stop_dashboard(store)
    return EXIT_DISK


def exit_status(summary: Dict[str, Any], allow_failures: bool = False) -> int:
    """0 when every task succeeded; 1 when any failed for good (unless
    ``--allow-failures``, for sweeps where some points are expected to fail) or when
    every task failed."""
    if summary["status"] == "failed":
        return 1
    return 1 if summary.get("failed") and not allow_failures else 0


def summary_line(summary: Dict[str, Any], total: Optional[int], done_before: int) -> str:
    """``finished: 78 ok, 2 failed of 80 tasks in 3.1 s (25.8 tasks/s)``; a run that
    stopped short says what was planned, a resumed one what this session did."""
    status = summary["status"]
    if status == "stopped" and summary.get("stopped"):
        status += f" by {summary['stopped']}"
    line = f"{status}: {summary['ok']} ok, {summary['failed']} failed of " \
           f"{summary['tasks']} tasks"
    if total is not None and summary["tasks"] < total:
        line += f" (of {total} planned)"
    rate = f"{summary['tasks_per_second'] or 0:,.1f} tasks/s"
    if done_before:
        line += (f"; this session {summary['tasks'] - done_before} in "
                 f"{summary['seconds']:.1f} s ({rate}), {done_before} done before")
    else:
        line += f" in {summary['seconds']:.1f} s ({rate})"
    return line


def write_report(run_dir: str) -> Optional[str]:
    """The final report; a failure to draw it is reported, never fatal to the run."""
    try:
        from .monitor.report import build_report
        return build_report(run_dir)
    except Exception as exc:  # the results are safe in run.sqlite either way
        print(f"warning: could not write the report: {type(exc).__name__}: {exc}; "
              f"try python -m parc_mpi.report {run_dir}", file=sys.stderr, flush=True)
        return None


def _job_summary(job: Job, store: Store) -> Optional[str]:
    """The job's own summary line; its failure is reported, never fatal."""
    try:
        with store.reader() as reader:
            text = job.summary(reader.iter_ok(), store.run_dir)
    except Exception as exc:  # the user's code
        print(f"warning: the job's summary function raised {type(exc).__name__}: {exc}",
              file=sys.stderr, flush=True)
        return None
    return None if text is None else str(text)


def _optimization(store: Store, job: OptimizeJob, summary: Dict[str, Any]) -> Dict[str, Any]:
    """best.json's words on several objectives, constraints and pruning (the front
    with its parameters, the hypervolume and its reference); a short copy goes in
    the summary for the last line."""
    from .store.optimization import front_params, summarize
    with store.reader() as reader:
        opt = summarize(reader, job.describe(), history=False)
        front_params(reader, opt.get("front", []))
        unused = (job.pruner is not None and opt["evaluations"] and not opt["pruned"]
                  and not reader.curves(limit=1))
    out: Dict[str, Any] = {}
    short: Dict[str, Any] = {}
    if opt.get("front") is not None and "objectives" in opt and len(opt["objectives"]) > 1:
        out.update(front=[{"params": p["params"], "values": p["values"]} for p in opt["front"]],
                   hypervolume=opt["hypervolume"], reference=opt["reference"],
                   reference_source=opt.get("reference_source"))
        short.update(front=len(opt["front"]), hypervolume=opt["hypervolume"])
    if opt["constrained"]:
        out.update(feasible=opt["feasible"], first_feasible=opt["first_feasible"])
        short.update(feasible=opt["feasible"], first_feasible=opt["first_feasible"],
                     evaluations=opt["evaluations"])
    if opt["pruned"]:
        out["pruned"] = short["pruned"] = opt["pruned"]
    if unused:
        short["pruner_unused"] = (f"pruner={job.describe().get('pruner')!r} was set, but no "
                                  "evaluation called parc_mpi.report(step, value): none "
                                  "could be stopped early")
    if short:
        summary["optimization"] = short
    return out


def best_words(best: Dict[str, Any]) -> str:
    """The summary line's best: the value, or with noisy values the estimate, its
    spread and what it rests on."""
    if "method" not in best:
        return f"{best['value']:.6g} at {best['params']}"
    sd = best.get("sd")
    spread = f" ± {sd:.2g}" if sd is not None and math.isfinite(sd) and sd > 0 else ""
    told = best.get("sample")
    return (f"{best['value']:.6g}{spread} (estimated: {best['method']}; the value told "
            f"there first {told:.6g}) at {best['params']}")


def optimization_words(short: Dict[str, Any]) -> str:
    """The summary line's tail for several objectives, constraints and pruning."""
    words = ""
    if "front" in short:
        hv = short.get("hypervolume")
        words += f"; a front of {short['front']} point(s)" + (
            f", hypervolume {hv:.6g}" if hv is not None else "")
    if "feasible" in short:
        first = short.get("first_feasible")
        words += (f"; {short['feasible']} of {short['evaluations']} feasible" +
                  (f", the first at evaluation {first}" if first else ""))
    if short.get("pruned"):
        words += f"; {short['pruned']} stopped early"
    return words


def run_serial(job: Job, opts: RunOptions, store: Optional[Store] = None,
               early=None) -> int:
    """One rank, no cluster: run the job in-process with the same scheduler (and
    the store ``open_run`` made, when the caller opened it already). ``early``: a task
    process started before the job was loaded (``tasks.TaskHost``)."""
    node = platform.node()
    # the task process loads the job while the run directory is made and replayed
    host = make_host(job, 0, node, opts.isolate, opts.memory, opts.memory_guard, early=early)
    host.start()
    try:
        if store is None:
            store = open_run(job, opts)
        host.set_run(os.path.basename(store.run_dir))   # program tasks' scratch folders
        record_start(store, job, opts, {"ranks": 1, "workers": 1, "mpi": None,
                                        "nodes": [node]})
        sched = start_scheduler(job, store, opts, workers=1)
        if not isinstance(job.cores, int):   # each task its own cores, one at a time
            from .engine import Cores, node_cores
            sched.sizing = Cores(job.cores, {0: node}, {node: node_cores()})
    except BaseException:
        host.close()
        raise
    watch = Watch(sched, store.run_dir, opts.progress, opts.quiet, lambda: 1)
    sampler = None
    if opts.monitor:  # the main rank samples its own node
        from .monitor.health import LocalSampler
        sampler = LocalSampler(HealthWriter(store.path, opts.health_commit_seconds), node, [0],
                               opts.monitor_interval)
        sampler.start()
    status = None
    disk: Optional[StoreError] = None
    try:
        while not sched.finished:
            batch = sched.next_batch()
            if batch:
                batch_id, tasks = batch
                msg, _compute = host.run(batch_id, tasks, sched.context())
                _bid, rows, raw, compute, curves, sheet, peak, files = message(msg)
                sched.receive(batch_id, 0, rows, raw, compute, node, curves, sheet, peak,
                              files)
            if sched.flush_due() or not batch:
                sched.flush()
            watch.tick()
    except KeyboardInterrupt:  # a second Ctrl-C: keep what is done, stop now
        status = "aborted"
    except StoreError as exc:   # the disk is full: what was committed is intact
        disk = exc
    finally:
        host.close()
        watch.close()
        if sampler is not None:
            sampler.finish()
    if disk is not None:
        return stopped_by_disk(store, disk)
    try:
        summary = finish_run(sched, store, job, status=status, quiet=opts.quiet_summary,
                             report=opts.report, allow_failures=opts.allow_failures,
                             brief=opts.quiet)
    except StoreError as exc:
        return stopped_by_disk(store, exc)
    return exit_status(summary, opts.allow_failures)
