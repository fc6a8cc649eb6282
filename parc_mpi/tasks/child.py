"""The task process: ``python -m parc_mpi.tasks.child``, started by a worker rank
(fork and exec; the first of a worker rank a bare fork before MPI_Init, never a fork
of an MPI process) and kept across batches.

It loads the job as the rank did, then answers batches over a pipe with the
pickled results message the rank forwards to rank 0. It never initialises MPI
(the launcher's variables are not in its environment). It dies with its rank
(``PR_SET_PDEATHSIG``), volunteers first to the kernel's OOM killer
(``oom_score_adj`` 1000), and ignores Ctrl-C: its rank decides when it ends.

When the job has a timeout, the task being run and its start are written to a
shared slot before each task, so the rank can end a task stuck in C.
"""
from __future__ import annotations

import argparse
import io
import mmap
import os
import signal
import sys
import time
import types
from typing import Optional



# the name a task process goes by (its comm: ps, top, /proc/PID/stat): how the node's
# memory guard finds them, forked ones too, whose command line is their rank's
NAME = "parc_mpi-task"


def _die_with_parent() -> None:
    try:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)   # PR_SET_PDEATHSIG
        libc.prctl(15, NAME.encode(), 0, 0, 0)   # PR_SET_NAME
    except (OSError, AttributeError):
        pass


def _volunteer_for_oom() -> None:
    try:
        with open("/proc/self/oom_score_adj", "w") as fh:
            fh.write("1000")
    except OSError:
        pass


def load(spec: dict):
    """The job's task function and settings, as the rank has them."""
    how = spec["how"]
    for p in reversed(spec.get("path") or []):   # the rank's sys.path, as spawn does
        if p not in sys.path:
            sys.path.insert(0, p)
    if how[0] == "file":
        from ..job import load_job
        _f, path, label, extra, also = how
        job = load_job(path, label=label, extra_path=extra, also_path=also)
    else:
        import pickle
        job = types.SimpleNamespace(fn=pickle.loads(how[1]), rename=None)
    for key in ("kind", "call", "timeout", "stream", "memory"):
        setattr(job, key, spec.get(key))
    if spec.get("cores") != "per task" or not callable(getattr(job, "cores", None)):
        job.cores = spec.get("cores") if isinstance(spec.get("cores"), int) else 1
    return job


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m parc_mpi.tasks.child")
    p.add_argument("--fds", required=True)
    p.add_argument("--node", default="?")
    p.add_argument("--tag", default="")
    args = p.parse_args(argv)
    fd_in, fd_out, fd_slot = (int(x) for x in args.fds.split(","))
    parent = os.getppid()
    _die_with_parent()
    if os.getppid() != parent:   # the rank died before the line above
        return 1
    _volunteer_for_oom()
    signal.signal(signal.SIGINT, signal.SIG_IGN)   # the rank decides, not the terminal
    # nor Slurm's --signal=USR2@SECONDS warning, which reaches every process of the job
    # (its default action would end the task)
    signal.signal(signal.SIGUSR2, signal.SIG_IGN)
    if os.environ.get("SLURM_JOB_ID"):
        # scancel and a time limit send SIGTERM to every process of the job step, this
        # one too: the rank gives running tasks their seconds (a soft stop), so the task
        # goes on. A handler, not SIG_IGN: programs the task runs get SIGTERM's default
        # back at exec. The rank's own SIGTERM to this process is followed by SIGKILL.
        signal.signal(signal.SIGTERM, lambda signum, frame: None)
    from . import wire
    from .wire import SLOT
    from .memory import apply_rlimit, peak_reset, peak_rss
    slot = mmap.mmap(fd_slot, SLOT.size)
    try:
        setup = wire.recv(fd_in)
    except wire.ChannelClosed:
        return 0
    if setup is None:   # the rank ended before it had a job to give
        return 0
    limit, mode = setup.get("memory"), setup.get("limit_mode")
    from .. import clock
    clock.set_offset(setup.get("clock_offset", 0.0))   # stamps in the main node's terms
    try:
        if limit and mode == "rlimit":
            apply_rlimit(limit)
        job = load(setup["spec"])
    except BaseException as exc:  # the user's job file: anything can come out
        msg = str(exc) if type(exc).__name__ == "JobError" else f"{type(exc).__name__}: {exc}"
        wire.send(fd_out, ("error", msg))
        return 1
    from ..execute import run_batch
    from .. import programs as program
    wire.send(fd_out, ("ready", os.getpid()))
    worker, node = setup["worker"], setup["node"]
    program.set_context(node=node, cores=job.cores if isinstance(job.cores, int) else 1,
                        memory=limit,
                        **setup.get("context", {}))
    pack = SLOT.pack_into
    now = time.monotonic
    lines = TaskLines.install(node if worker else None)   # worker 0: a serial run
    timed = job.timeout is not None
    tasks: list = []

    def mark(i: int) -> None:
        lines.task = tasks[i][0]
        if timed:
            pack(slot, 0, i, now())

    import pickle
    dumps = pickle.dumps
    while True:
        try:
            msg = wire.recv(fd_in)
        except wire.ChannelClosed:
            return 0
        if msg is None:
            return 0
        if msg[0] == "clock":   # the node's offset, measured after this process started
            clock.set_offset(msg[1])
            continue
        if msg[0] == "context":   # the run's name, known once the ranks agreed
            program.set_context(**msg[1])
            continue
        batch_id, tasks, context = msg
        measured = peak_reset()
        out = run_batch(job, tasks, worker, node, context, mark=mark)
        lines.task = None
        sys.stdout.flush()   # a line the batch's last task left unended
        sys.stderr.flush()
        if timed:
            pack(slot, 0, -1, 0.0)
        if limit:
            _name_memory_errors(out.rows, limit, mode)
        peak = peak_rss() if measured else None
        payload = dumps((batch_id, out.rows, out.raw, out.compute, out.curves, out.sheet, peak,
                         out.files), protocol=pickle.HIGHEST_PROTOCOL)
        try:
            wire.send(fd_out, ("done", out.compute, payload))
        except wire.ChannelClosed:
            return 0


class TaskLines:
    """What a task prints, line by line, behind its task number (and node in an MPI
    run): ``[task 7 pi3] loss 0.25``. Lines from several ranks interleave on the
    launcher's terminal; each still says whose it is. Python's own ``print`` and
    ``sys.stdout``/``sys.stderr`` writes; output of C code to the file descriptors
    is not seen here. ``task``: the task running now (None between batches), one for
    both streams."""

    def __init__(self, node: Optional[str]):
        self.node = node
        self.task: Optional[int] = None

    @classmethod
    def install(cls, node: Optional[str]) -> "TaskLines":
        lines = cls(node)
        sys.stdout = _Stream(sys.stdout, lines)
        sys.stderr = _Stream(sys.stderr, lines)
        return lines


class _Stream(io.TextIOBase):
    """sys.stdout or sys.stderr with the running task's tag at each line's start."""

    def __init__(self, stream, lines: TaskLines):
        self.stream, self.lines = stream, lines
        self.fresh = True   # the next character starts a line
        self.partial = ""   # the tagged start of a line not ended yet

    @property
    def encoding(self) -> str:
        return getattr(self.stream, "encoding", None) or "utf-8"

    def write(self, text: str) -> int:
        task = self.lines.task
        if not text:
            return 0
        if task is None:
            if self.partial:
                self._put(self.partial)
                self.partial = ""
            return self.stream.write(text)
        node = self.lines.node
        tag = f"[task {task}{' ' + node if node else ''}] "
        parts = text.split("\n")
        out = []
        for i, part in enumerate(parts):
            if part and self.fresh:
                out.append(tag)
            out.append(part)
            if i < len(parts) - 1:
                out.append("\n")
                self.fresh = True
            elif part:
                self.fresh = False
        # whole lines in one write, whatever the stream's buffering (PYTHONUNBUFFERED
        # writes each piece at once): a line printed in pieces never interleaves with
        # another process's lines on the launcher's terminal
        done, ended, rest = (self.partial + "".join(out)).rpartition("\n")
        self.partial = rest
        if ended:
            self._put(done + ended)   # a line reaches the terminal while the task runs
        return len(text)

    def _put(self, text: str) -> None:
        self.stream.write(text)
        self.stream.flush()

    def flush(self) -> None:
        if self.partial:
            self.stream.write(self.partial)
            self.partial = ""
        self.stream.flush()

    def fileno(self) -> int:
        return self.stream.fileno()

    def isatty(self) -> bool:
        return self.stream.isatty()

    def writable(self) -> bool:
        return True

    def __getattr__(self, name: str):
        # what TextIOBase lacks (``buffer`` for bytes, ``line_buffering``, ...): the
        # stream's own, unprefixed
        if name == "stream":   # not set yet: no recursion
            raise AttributeError(name)
        return getattr(self.stream, name)


def _name_memory_errors(rows, limit: int, mode: str) -> None:
    """A task that ran out of its own limit under the rlimit raised MemoryError: its
    error's last line says so in the user's terms."""
    from .memory import mb
    for i, row in enumerate(rows):
        error = row[6]
        if error and row[3] != "ok":
            last = error.strip().splitlines()[-1]
            if "MemoryError" in last.split(":", 1)[0]:
                line = (f"needed more than its {mb(limit)} (the task's memory limit, "
                        f"RLIMIT_DATA; {last})")
                rows[i] = row[:6] + (error.rstrip("\n") + "\n" + line,) + row[7:]


if __name__ == "__main__":
    sys.exit(main())
