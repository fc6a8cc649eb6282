"""The task host: where a rank runs its tasks.

:class:`TaskHost` runs them in a task process of its own (``child.py``), started
with fork and exec (the first one a worker rank starts, before MPI_Init, with a bare
fork: :class:`_Forked`), kept across batches and started again when it dies. A task
that kills its process (a segfault, the OOM killer, ``os._exit``), passes its hard
time limit inside C, or is ended by the node's memory guard costs that task, never
the rank: it comes back as a row with status ``killed`` (or ``timeout``, or
``failed`` when it passed its own memory limit) and one line saying what happened.
:class:`InProcessHost` runs them in the rank itself (``--in-process``: today's
path, for the last percent on trivial tasks, with none of that protection).

Both answer ``run(batch_id, tasks, context)`` with the results message and the
compute seconds: the message is the tuple the workers send to rank 0
(``(batch_id, rows, raw, compute, curves, sheet, peak, files)``), or its pickle as bytes
straight from the task process (``message()`` reads either).
"""
from __future__ import annotations

import logging
import mmap
import os
import pickle
import select
import signal
import subprocess
import sys
import time
from typing import Any, List, NamedTuple, Optional, Tuple

from ..clock import wall_clock
from ..store.schema import STATUS_FAILED, STATUS_KILLED, STATUS_TIMEOUT
from . import wire
from .wire import SLOT
from ..programs import LAUNCHER_VARS as _LAUNCHER_VARS   # a task process that imported
#   mpi4py with the launcher's variables would try to join the job
from .memory import (GUARD_FAST, GUARD_INTERVAL, GUARD_NEAR, TaskCgroup, guard_threshold, mb,
                     node_memory)

log = logging.getLogger(__name__)

HARD_AFTER = 1.0    # seconds past the timeout before a task stuck in C is ended
TERM_GRACE = 1.0    # seconds between SIGTERM and SIGKILL of the task's process group
TICK = 0.25         # how often a waiting rank looks at the clock and the guard

_SIGNAL_WORDS = {
    signal.SIGKILL: "was killed by SIGKILL",
    signal.SIGSEGV: "crashed with SIGSEGV (a segmentation fault: a bug in C code or a C "
                    "extension?)",
    signal.SIGBUS: "crashed with SIGBUS (a bad memory access: a truncated file mapped, or "
                   "/dev/shm full?)",
    signal.SIGABRT: "aborted (SIGABRT: a C library's assertion or abort())",
    signal.SIGFPE: "crashed with SIGFPE (an arithmetic error in C code)",
    signal.SIGILL: "crashed with SIGILL (an instruction this CPU lacks: code built for "
                   "another machine?)",
}


def message(msg: Any) -> tuple:
    """A results message as the tuple, whichever way it travelled."""
    return pickle.loads(msg) if type(msg) is bytes else msg


def task_spec(job) -> dict:
    """What a task process needs to run ``job``'s tasks as the rank would: how to
    load the task function, and the settings that do not travel with it."""
    origin = getattr(job, "origin", None)
    how: Optional[tuple] = None
    if origin is not None:
        how = ("file",) + tuple(origin)
    else:
        fn = job.fn
        if getattr(fn, "__module__", "__main__") != "__main__":
            try:
                how = ("fn", pickle.dumps(fn))
            except Exception:
                how = None
    return {"how": how, "path": list(sys.path), "kind": job.kind, "call": job.call,
            "timeout": job.timeout,
            "stream": bool(getattr(job, "stream", False)),
            "memory": getattr(job, "memory", None), "cores": _cores_spec(job)}


def _cores_spec(job) -> Any:
    """The job's cores per task for a task process: a number, or "per task" (the
    job's function, which the task process has from the job file it loads)."""
    cores = getattr(job, "cores", 1)
    return cores if isinstance(cores, int) else "per task"


def make_host(job, worker: int, node: str, isolate: bool = True,
              memory: Optional[int] = None, guard: bool = True,
              early: Optional["TaskHost"] = None):
    """The task host for this rank: a task process unless ``isolate`` is off or the
    task function cannot be found by a fresh process (defined in ``__main__`` of a
    script, a lambda), in which case the rank runs the tasks itself. ``early``: a task
    process started before the job was known (``TaskHost(...).start()``), used here."""
    memory = memory if memory is not None else getattr(job, "memory", None)
    if isolate:
        spec = task_spec(job)
        if spec["how"] is not None:
            host = early or TaskHost(worker, node, guard=guard)
            host.configure(job, spec, memory)
            return host
        log.info("the task function %s cannot be imported by a task process; tasks run "
                 "in the rank itself", getattr(job.fn, "__qualname__", job.fn))
    if early is not None:
        early.close()
    return InProcessHost(job, worker, node)


class InProcessHost:
    """Tasks in the rank's own process."""

    isolated = False

    def __init__(self, job, worker: int, node: str):
        self.job, self.worker, self.node = job, worker, node
        from .. import programs as program
        cores = getattr(job, "cores", 1)
        program.set_context(node=node, cores=cores if isinstance(cores, int) else 1)

    def start(self) -> None:
        pass

    def set_run(self, name: str) -> None:
        """The run's name: program tasks' scratch folders are named after it."""
        from .. import programs as program
        program.set_context(run=name)

    def run(self, batch_id: int, tasks: List[tuple], context: Any = None) -> Tuple[Any, float]:
        from ..execute import run_batch
        out = run_batch(self.job, tasks, self.worker, self.node, context)
        return (batch_id, out.rows, out.raw, out.compute, out.curves, out.sheet, None,
                out.files), out.compute

    def run_raw(self, raw) -> Tuple[Any, float]:
        """A batch as rank 0 pickled it (``messages.Tasks``)."""
        return self.run(*pickle.loads(raw))

    def close(self) -> None:
        pass


class Death(NamedTuple):
    """How a task process ended mid-batch."""

    status: str              # killed | timeout | failed (its own memory limit)
    what: str                # "was killed by SIGKILL (out of memory? ...)"
    index: Optional[int]     # the batch position of the task that ran, when known


def can_fork() -> bool:
    """Whether a bare fork of this process may be a task process: MPI not initialised
    (nor its library loaded: a fork after MPI_Init is what MPI forbids), no thread of
    Python's running (a fork copies one thread; a lock another held stays held)."""
    import threading
    return (hasattr(os, "fork") and "mpi4py.MPI" not in sys.modules
            and threading.active_count() == 1)


class _Forked:
    """A task process forked from its rank before MPI_Init (``TaskHost.start(fork=True)``):
    parc_mpi, numpy and the interpreter are there already, so it costs no import (on
    the simulated six-node box, 20 task processes importing for 0.2 CPU s each held up
    the first task). What Popen gives a child of ``python -m parc_mpi.tasks.child``, it
    gets too: a session of its own, stdin from /dev/null, only its pipes and the
    standard streams open, the environment given, ``sys.argv`` as that command's; the
    answers :class:`subprocess.Popen`'s callers use (``pid``, ``poll``, ``wait``)."""

    def __init__(self, args: List[str], fds, env: dict):
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:   # the task process: never returns
            code = 1
            try:
                _become_task_process(args, fds, env)
                from .child import main
                code = main(args)
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 1
            except BaseException:
                import traceback
                traceback.print_exc()
            finally:
                try:
                    sys.stdout.flush()
                    sys.stderr.flush()
                finally:
                    os._exit(code or 0)   # never the rank's atexit handlers
        self.pid = pid
        self.args = args
        self.returncode: Optional[int] = None

    def poll(self) -> Optional[int]:
        if self.returncode is None:
            try:
                pid, status = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:   # reaped elsewhere: it is gone
                self.returncode = -signal.SIGKILL
                return self.returncode
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def wait(self, timeout: Optional[float] = None) -> int:
        end = None if timeout is None else time.monotonic() + timeout
        pause = 0.001
        while self.poll() is None:
            if end is not None and time.monotonic() >= end:
                raise subprocess.TimeoutExpired(self.args, timeout)
            time.sleep(pause)
            pause = min(pause * 2, 0.02)
        return self.returncode


def _become_task_process(args, fds, env: dict) -> None:
    """In a forked child: what exec would have given it (see :class:`_Forked`)."""
    os.setsid()
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    keep = {0, 1, 2, *fds}
    for name in os.listdir("/proc/self/fd") if os.path.isdir("/proc/self/fd") else ():
        fd = int(name)
        if fd not in keep:   # the launcher's sockets (PMI_FD) are the rank's, not ours
            try:
                os.close(fd)
            except OSError:
                pass
    os.environ.clear()
    os.environ.update(env)
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGUSR1, signal.SIGUSR2,
                signal.SIGHUP, signal.SIGCHLD):
        signal.signal(sig, signal.SIG_DFL)   # the rank's handlers are not ours
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)   # as Python starts: EPIPE, not death
    import parc_mpi.tasks.child as child
    sys.argv = [child.__file__, *args]
    np = sys.modules.get("numpy")
    if np is not None:   # its global generator: not the rank's stream, as a fresh one
        np.random.seed()


class TaskHost:
    """A rank's task process: started once, fed batches over a pipe, started again
    when it dies."""

    isolated = True

    def __init__(self, worker: int, node: str, guard: bool = True):
        self.worker, self.node, self.guard = worker, node, guard
        self.job = None
        self.spec: Optional[dict] = None   # set by configure(): the job it runs
        self.fallback: Optional[InProcessHost] = None
        self.memory: Optional[int] = None
        self.timeout: Optional[float] = None
        self.proc: Optional[subprocess.Popen] = None
        self.cgroup: Optional[TaskCgroup] = None
        self.limit_mode: Optional[str] = None
        self.oom_seen = 0
        self.ready = False
        self.next_guard = 0.0
        self.offset = 0.0   # the clock offset the task process was told
        self.cores = 1      # the job's cores per task (thread variables of the process)
        self.started_cores = 1
        self.context: dict = {}   # what program tasks know of the run (its name)

    # -- the process --------------------------------------------------------
    def configure(self, job, spec: dict, memory: Optional[int]) -> None:
        """The job this host runs (and its memory limit): told to the task process
        now if it runs already (started before the job was known), else at its start."""
        self.job, self.spec, self.memory = job, spec, memory
        self.timeout = spec.get("timeout")
        cores = spec.get("cores") or 1
        self.cores = cores if isinstance(cores, int) else 1
        if self.proc is not None and self.started_cores != self.cores:
            # a BLAS reads its thread count when it loads: a process started with another
            # count is started again with the job's
            self._reap(signal.SIGTERM)
        if self.proc is not None:
            self._setup()

    def set_run(self, name: str) -> None:
        """The run's name: program tasks' scratch folders are named after it."""
        self.context["run"] = name
        if self.proc is not None and self.spec is not None:
            try:
                wire.send(self.to_child, ("context", dict(self.context)))
            except wire.ChannelClosed:
                pass

    def start(self, fork: bool = False) -> None:
        """Start the task process: Python and parc_mpi load while the rank goes on;
        it loads the job once it is told which (``configure``). ``fork``: a bare fork
        of this process, which has parc_mpi and numpy loaded already, instead of a
        fresh interpreter; only before MPI_Init (:func:`can_fork`), never after."""
        if self.proc is not None:
            return
        to_child_r, self.to_child = os.pipe()
        self.from_child, from_child_w = os.pipe()
        for fd in (self.to_child, self.from_child):
            _big_pipe(fd)
        slot_fd = os.memfd_create("parc-task-slot") if hasattr(os, "memfd_create") else None
        if slot_fd is None:
            import tempfile
            fh = tempfile.TemporaryFile()
            slot_fd = os.dup(fh.fileno())
            fh.close()
        os.ftruncate(slot_fd, SLOT.size)
        self.slot = mmap.mmap(slot_fd, SLOT.size)
        SLOT.pack_into(self.slot, 0, -1, 0.0)
        env = {k: v for k, v in os.environ.items() if not k.startswith(_LAUNCHER_VARS)}
        env["PARC_MPI_SERIAL"] = "1"   # belt and braces: never an MPI world of its own
        env["PARC_MPI_TASK_PROCESS"] = "1"   # it loads the job to run tasks, nothing more
        env["PARC_MPI_WORKER"] = str(self.worker)   # the rank it runs tasks for
        if self.cores != 1:   # tasks of several cores: their BLAS and OpenMP use them
            from ..programs import THREAD_VARS
            env.update({var: str(self.cores) for var in THREAD_VARS})
        self.started_cores = self.cores
        fds = (to_child_r, from_child_w, slot_fd)
        args = ["--fds", ",".join(map(str, fds)), "--node", self.node,
                "--tag", f"rank{self.worker}"]
        if fork and can_fork():
            self.proc = _Forked(args, fds, env)
        else:
            self.proc = subprocess.Popen([sys.executable, "-m", "parc_mpi.tasks.child", *args],
                                         pass_fds=fds, env=env, start_new_session=True,
                                         stdin=subprocess.DEVNULL)
        for fd in fds:
            os.close(fd)
        self.ready = False
        if self.spec is not None:
            self._setup()

    def _setup(self) -> None:
        """The task process's memory limit, then the job it runs."""
        if self.memory and self.limit_mode is None:
            self.cgroup = TaskCgroup.make(self.memory, f"parc_mpi-{os.getpid()}")
            self.limit_mode = self.cgroup.version and f"cgroup {self.cgroup.version}" \
                if self.cgroup else "rlimit"
            log.info("task memory limit %s by %s", mb(self.memory), self.limit_mode)
        if self.cgroup is not None and not self.cgroup.add(self.proc.pid):
            self.cgroup.remove()
            self.cgroup, self.limit_mode = None, "rlimit"
        if self.cgroup is not None:
            self.oom_seen = self.cgroup.oom_kills()
        mode = "rlimit" if self.memory and self.cgroup is None else None
        try:
            from .. import clock
            self.offset = clock.OFFSET
            wire.send(self.to_child, {"spec": self.spec, "worker": self.worker,
                                      "node": self.node, "memory": self.memory,
                                      "limit_mode": mode, "clock_offset": clock.OFFSET,
                                      "context": dict(self.context)})
        except wire.ChannelClosed:
            pass   # it died at once: the first batch finds out why

    def _reap(self, sig: Optional[int] = None) -> int:
        """End the task process and its process group (``sig``: how to ask first),
        close the pipes; return its exit status."""
        proc = self.proc
        assert proc is not None
        if sig is not None and proc.poll() is None:
            _killpg(proc.pid, sig)
            try:
                proc.wait(TERM_GRACE)
            except subprocess.TimeoutExpired:
                pass
        if proc.poll() is None:
            _killpg(proc.pid, signal.SIGKILL)
        rc = proc.wait()
        _killpg(proc.pid, signal.SIGKILL)   # what it started, if any outlived it
        _kill_session(proc.pid)   # programs it ran in process groups of their own
        for fd in (self.to_child, self.from_child):
            try:
                os.close(fd)
            except OSError:
                pass
        self.slot.close()
        self.proc = None
        return rc

    def close(self) -> None:
        if self.proc is not None:
            try:
                wire.send(self.to_child, None)
            except wire.ChannelClosed:
                pass
            try:
                self.proc.wait(TERM_GRACE)
            except subprocess.TimeoutExpired:
                pass
            self._reap(signal.SIGTERM)
        if self.cgroup is not None:
            self.cgroup.remove()
            self.cgroup = None

    # -- batches ------------------------------------------------------------
    def run(self, batch_id: int, tasks: List[tuple], context: Any = None) -> Tuple[Any, float]:
        return self._run(batch_id, tasks, context, None)

    def run_raw(self, raw) -> Tuple[Any, float]:
        """A batch as rank 0 pickled it (``messages.Tasks``), handed to the task process
        as it is: the rank never unpickles it, unless the task process dies."""
        return self._run(None, None, None, raw)

    def _run(self, batch_id, tasks, context, raw) -> Tuple[Any, float]:
        if self.fallback is not None:
            if raw is not None:
                return self.fallback.run_raw(raw)
            return self.fallback.run(batch_id, tasks, context)
        got = self._attempt(batch_id, tasks, context, raw)
        if isinstance(got, tuple) and len(got) == 2:   # the fallback's answer
            return got
        if not isinstance(got, Death):
            return got[2], got[1]
        if raw is not None:
            batch_id, tasks, context = pickle.loads(raw)
        msg = self._salvage(batch_id, tasks, context, got)
        return msg, msg[3]

    def _attempt(self, batch_id: int, tasks: List[tuple], context: Any, raw=None):
        """("done", compute, payload), or a Death."""
        self.start()
        t_start = time.monotonic()
        if not self.ready:
            got = self._wait(None)
            if isinstance(got, Death):
                return got
            if got[0] == "error":
                self._reap(signal.SIGTERM)
                self.fallback = InProcessHost(self.job, self.worker, self.node)
                print(f"[parc_mpi] warning: rank {self.worker} on {self.node}: a task process "
                      f"could not load the job ({got[1]}); this rank runs its tasks itself, "
                      "without a task process's protection", file=sys.stderr, flush=True)
                if raw is not None:
                    return self.fallback.run_raw(raw)
                return self.fallback.run(batch_id, tasks, context)
            self.ready = True
        try:
            from .. import clock
            if clock.OFFSET != self.offset:   # measured after the process started
                wire.send(self.to_child, ("clock", clock.OFFSET))
                self.offset = clock.OFFSET
            if raw is not None:
                wire.send_raw(self.to_child, raw)
            else:
                wire.send(self.to_child, (batch_id, tasks, context))
        except wire.ChannelClosed:
            return self._death(None)
        got = self._wait(t_start)
        return got

    def _wait(self, t_start: Optional[float]):
        """The task process's next message, or a Death if it dies, passes the hard
        time limit, or is ended by the memory guard first."""
        fd = self.from_child
        while True:
            wait = TICK
            if self.guard and t_start is not None:
                wait = min(TICK, max(0.0, self.next_guard - time.monotonic()))
            ready, _, _ = select.select([fd], [], [], wait)
            if ready:
                try:
                    return wire.recv(fd)
                except (wire.ChannelClosed, EOFError, pickle.UnpicklingError):
                    return self._death(None)
            if self.proc.poll() is not None:
                if select.select([fd], [], [], 0)[0]:
                    continue   # its last words are in the pipe
                return self._death(None)
            if t_start is None:
                continue
            if self.timeout is not None:
                index, since = SLOT.unpack_from(self.slot, 0)
                if index >= 0 and time.monotonic() - since > self.timeout + HARD_AFTER:
                    self._reap(signal.SIGTERM)
                    return Death(STATUS_TIMEOUT, f"ran past its time limit of "
                                 f"{self.timeout:g} s inside code Python cannot interrupt "
                                 f"(C); its process on {self.node} was ended", index)
            if self.guard and time.monotonic() >= self.next_guard:
                death = self._guard()
                if death is not None:
                    return death

    def _guard(self) -> Optional[Death]:
        """The node's memory guard: below the threshold, the node's task process that
        uses the most memory is ended (each rank ends only its own: they all find the
        same one) before the kernel's OOM killer picks a process, maybe a rank."""
        avail, total = node_memory()
        threshold = guard_threshold(total)
        # a task can grow by a gigabyte a second: near the threshold, look 50 times as often
        near = avail < GUARD_NEAR * threshold
        self.next_guard = time.monotonic() + (GUARD_FAST if near else GUARD_INTERVAL)
        if avail >= threshold:
            return None
        if biggest_task_process(self.node) != self.proc.pid:
            return None
        index = self._index()
        self._reap(signal.SIGKILL)
        return Death(STATUS_KILLED, f"its process was ended by the node's memory guard: "
                     f"{self.node} had "
                     f"{mb(avail)} available of {mb(total)}, and it used the most", index)

    def _index(self) -> Optional[int]:
        if self.timeout is None:
            return None
        index = SLOT.unpack_from(self.slot, 0)[0]
        return index if index >= 0 else None

    def _death(self, index: Optional[int]) -> Death:
        """The task process died by itself: read why from its exit status."""
        index = index if index is not None else self._index()
        rc = self._reap()
        if self.cgroup is not None and self.cgroup.oom_kills() > self.oom_seen:
            self.oom_seen = self.cgroup.oom_kills()
            return Death(STATUS_FAILED, f"needed more than its {mb(self.memory)} (the task's "
                         f"memory limit, by {self.limit_mode}: the kernel ended its process)",
                         index)
        if rc < 0:
            sig = -rc
            words = _SIGNAL_WORDS.get(sig) or f"was ended by {_signame(sig)}"
            words, _, why = words.partition(" (")
            words += f" on {self.node}" + (f" ({why}" if why else "")
            if sig == signal.SIGKILL:
                avail, total = node_memory()
                words += (f" (out of memory? {self.node} had {mb(avail)} available of "
                          f"{mb(total)}; or another process killed it)")
            return Death(STATUS_KILLED, "its process " + words, index)
        return Death(STATUS_KILLED, f"its process exited with status {rc} on {self.node} "
                     "(os._exit() or C's exit() inside the task?)", index)

    def _salvage(self, batch_id: int, tasks: List[tuple], context: Any, death: Death) -> tuple:
        """A batch whose process died: the task that died gets its row, the others run
        again in a new process (one by one when it is not known which task died; the
        first death is then not counted against any task)."""
        from ..store.values import encode
        clock = wall_clock()
        now = clock()
        rows: List[Any] = [None] * len(tasks)
        raw: List[Any] = [None] * len(tasks)
        curves: dict = {}
        files: dict = {}
        compute = 0.0
        peak = None

        def dead_row(i: int, d: Death) -> tuple:
            task, attempt, arg = tasks[i]
            return (task, attempt, encode(arg, None), d.status, None, None,
                    d.what, self.worker, self.node, now,
                    clock())

        if death.index is not None or len(tasks) == 1:
            i = death.index if death.index is not None else 0
            rows[i] = dead_row(i, death)
            groups = [[j for j in range(len(tasks)) if j != i]]
        else:
            log.info("task process died in a batch of %d (%s): running them one by one",
                     len(tasks), death.what)
            groups = [[j] for j in range(len(tasks))]
        for group in groups:
            if not group:
                continue
            sub = [tasks[j] for j in group]
            got = self._attempt(batch_id, sub, context)
            if len(got) == 2:   # the fallback's answer: (message, compute)
                part = message(got[0])
            elif isinstance(got, Death):
                if len(sub) == 1 or got.index is not None:
                    part = self._salvage(batch_id, sub, context, got)
                else:
                    part = self._salvage(batch_id, sub, context, got._replace(index=None))
            else:
                part = pickle.loads(got[2])
            _bid, prow, praw, pcompute, pcurves, _sheet, ppeak, pfiles = part
            for k, j in enumerate(group):
                rows[j] = prow[k]
                if praw is not None:
                    raw[j] = praw[k]
            if pcurves:
                curves.update(pcurves)
            if pfiles:
                files.update(pfiles)
            compute += pcompute
            if ppeak is not None:
                peak = max(peak or 0, ppeak)
        adaptive = self.spec["kind"] != "map"
        return (batch_id, rows, raw if adaptive else None, compute, curves or None, None, peak,
                files or None)


def task_processes(node: Optional[str] = None):
    """This machine's task processes (psutil Processes), those of ``node`` when given:
    named :data:`child.NAME`, or started as ``python -m parc_mpi.tasks.child``. A
    forked one's command line is its rank's, without ``--node``: it is of this node
    when it shares this process's network namespace (the simulated box's nodes share
    one kernel, each in a namespace of its own; a real node's processes share one)."""
    import psutil
    from .child import NAME
    here = _net_namespace("self")
    for p in psutil.process_iter(["name", "cmdline", "status"]):
        try:
            cmd = p.info["cmdline"] or []
            if p.info["status"] == psutil.STATUS_ZOMBIE:
                continue
            if p.info["name"] != NAME and "parc_mpi.tasks.child" not in cmd:
                continue
            parent = p.parent() if p.info["name"] == NAME else None
            if parent is not None and parent.name() == NAME:
                continue   # a fork of a task (multiprocessing): its task process's
            if node is not None:
                if "--node" in cmd:
                    if cmd[cmd.index("--node") + 1] != node:
                        continue
                elif _net_namespace(p.pid) != here:
                    continue
        except (psutil.Error, TypeError, ValueError, IndexError):
            continue
        yield p


def _net_namespace(pid) -> Optional[str]:
    try:
        return os.readlink(f"/proc/{pid}/ns/net")
    except OSError:
        return None


def biggest_task_process(node: str) -> Optional[int]:
    """The pid of this node's task process with the largest resident memory (with the
    programs it runs)."""
    import psutil
    best, best_rss = None, -1
    for p in task_processes(node):
        try:
            rss = p.memory_info().rss
            for child in p.children(recursive=True):   # the programs its tasks run
                rss += child.memory_info().rss
        except psutil.Error:
            continue
        if rss > best_rss:
            best, best_rss = p.pid, rss
    return best


def _big_pipe(fd: int) -> None:
    """A batch of tiny tasks is megabytes of rows: a 1 MB pipe (Linux's default
    limit for a user) instead of 64 KB passes it with 16 times fewer wake-ups."""
    try:
        import fcntl
        fcntl.fcntl(fd, getattr(fcntl, "F_SETPIPE_SZ", 1031), 1 << 20)
    except OSError:
        pass


def _kill_session(sid: int) -> None:
    """SIGKILL every process left in session ``sid`` (the task process's: the programs
    its tasks ran, each in a process group of its own, and what they started)."""
    try:
        pids = [int(p) for p in os.listdir("/proc") if p.isdigit()]
    except OSError:
        return
    for pid in pids:
        try:
            if pid != sid and os.getsid(pid) == sid:
                os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError, OSError):
            pass


def _killpg(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _signame(sig: int) -> str:
    try:
        return signal.Signals(sig).name
    except ValueError:
        return f"signal {sig}"
