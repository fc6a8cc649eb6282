"""Programs as tasks: an executable run once per task, in a folder of its own.

``program(["./forces.x", "{n}", "{seed}"], inputs=["forces.x"], outputs=["forces.stat"],
read=read_stat)`` is a task function like any other: give it to :func:`parc_mpi.map`,
:func:`parc_mpi.optimize` or :func:`parc_mpi.generate`. For each task it

1. makes a fresh folder on the node that runs the task,
   ``<scratch>/<run>/task-<N>`` (``<scratch>``: ``$PARC_MPI_SCRATCH``, else
   ``~/.cache/parc_mpi/scratch``; only the main node has the run folder);
2. copies the ``inputs`` there (symbolic links with ``link=True``), and the
   ``templates`` with the task's parameters filled in; with ``build=``, a shell command
   run once per node and run (``cc -O2 -o forces.x forces.c``), the build's folder is
   what each task gets, so a mixed box builds for each node's architecture;
3. fills the arguments from the task's parameters by Python's ``str.format`` rule:
   ``{n}`` is the parameter ``n`` (a dict item's key, an optimizer's parameter),
   ``{0}``, ``{1}`` a tuple item's fields, ``{item}`` the item itself; ``{task}``,
   ``{node}`` and ``{cores}`` always; ``{{`` is a brace. A name the task does not have is
   a one-line error before any work starts;
4. runs the program there, in a process group of its own, stdout and stderr to
   ``stdout.txt`` and ``stderr.txt``, in the environment of the task without the MPI
   launcher's variables (a program that is itself an MPI program does not join the
   job) and with ``OMP_NUM_THREADS`` (and the BLAS variables) set to the task's cores;
5. ends the program's whole process group at the task's timeout or when the run ends
   (SIGTERM, then SIGKILL); a non-zero exit fails the task with the last lines of
   stderr (``./forces.x exited with 3 on pi3: ...``);
6. brings the ``outputs`` back to the main node, into the run folder's
   ``outputs/task-<N>/``; a listed output that is missing fails the task naming it;
7. returns ``read(folder)`` (your Python reading the outputs into the task's result; a
   :class:`pathlib.Path`), or without ``read`` ``{"returncode": 0, "seconds": ...,
   "stdout": its last lines}``;
8. removes the folder (``keep="failed"``, the default, keeps the folders of failed
   tasks for a look; ``"all"``, ``"none"``, or ``"archive"``: the folder as a
   ``.tar.gz`` beside the outputs on the main node).

:func:`run_program` is the same, called inside your own task function.
"""
from __future__ import annotations

import errno
import io
import os
import platform
import shlex
import shutil
import signal
import string
import subprocess
import tarfile
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple, Union

KEEP = ("failed", "all", "none", "archive")
TERM_GRACE = 0.5          # seconds between SIGTERM and SIGKILL of a program's group
TAIL_LINES = 3            # stderr lines in a failure's message
MAX_OUTPUT_BYTES = 256 << 20   # a task's outputs together, as a stored value may be
# the launcher's variables: a program that is an MPI program would join the job
LAUNCHER_VARS = ("PMI_", "PMIX_", "OMPI_", "HYDRA_", "MPIR_", "MPI_LOCALRANKID",
                 "MPI_LOCALNRANKS", "PRTE_", "I_MPI_")
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
               "BLIS_NUM_THREADS", "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")


class ProgramError(RuntimeError):
    """A program task that failed: the message is one line naming the program, the
    node and what went wrong."""


# -- where a task runs: set by the task host (a task process, or the rank itself) ----
class _Context:
    run: Optional[str] = None      # the run folder's name (scratch folders are named so)
    node: Optional[str] = None
    cores: int = 1                 # the job's cores per task
    memory: Optional[int] = None   # the task's memory limit in bytes, if any
    files: Dict[int, Dict[str, bytes]] = {}   # task -> outputs to bring back


CONTEXT = _Context()


def set_context(run: Optional[str] = None, node: Optional[str] = None,
                cores: Optional[int] = None, memory: Optional[int] = None) -> None:
    """What the task host knows of the run (parc_mpi calls this; not for job files)."""
    if memory is not None:
        CONTEXT.memory = memory
    if run is not None:
        CONTEXT.run = run
    if node is not None:
        CONTEXT.node = node
    if cores is not None:
        CONTEXT.cores = int(cores)


def take_files() -> Optional[Dict[int, Dict[str, bytes]]]:
    """The outputs of the tasks run since the last call, by task (and forget them)."""
    if not CONTEXT.files:
        return None
    out, CONTEXT.files = CONTEXT.files, {}
    return out


def scratch_root() -> Path:
    env = os.environ.get("PARC_MPI_SCRATCH")
    if env:
        return Path(env)
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(cache) / "parc_mpi" / "scratch"


# where inputs named by a relative path are looked for, set by job.load_job: the job
# file's folder, the folder shipped with --ship (on a node that was sent it), and the
# job's folder on the main node where this node can see it
SEARCH_DIRS: List[str] = []
# the task running now in this process, (task, attempt, arg), set by execute's loop
NOW: List[Any] = [None]


def search_dirs() -> List[str]:
    return [d for d in SEARCH_DIRS if d] or [os.getcwd()]


# -- filling in parameters --------------------------------------------------------
class _Fields:
    """The values ``{name}`` may name for one task: args for ``{0}``, names for the rest."""

    def __init__(self, args: Sequence[Any], named: Mapping[str, Any]):
        self.args, self.named = tuple(args), dict(named)

    @classmethod
    def of(cls, args: tuple, kwargs: Mapping[str, Any], extra: Mapping[str, Any]) -> "_Fields":
        named = dict(extra)
        if kwargs or not args:
            named.update(kwargs)
            return cls((), named)
        if len(args) != 1:
            raise ProgramError(f"a program task takes one item or keyword parameters, got "
                               f"{len(args)} positional arguments")
        item = args[0]
        named["item"] = item
        if isinstance(item, Mapping):
            named.update({str(k): v for k, v in item.items()})
            return cls((), named)
        if isinstance(item, (tuple, list)):
            return cls(item, named)
        try:   # a numpy array item: its fields, as a tuple's
            import numpy as np
            if isinstance(item, np.ndarray) and item.ndim == 1:
                return cls(item.tolist(), named)
        except ImportError:
            pass
        return cls((item,), named)

    def names(self) -> str:
        shown = [k for k in self.named if k not in ("task", "node", "cores", "attempt")]
        if "item" in shown and (len(shown) > 1 or self.args):
            shown.remove("item")   # a dict item's keys say more than "item"
        if self.args:
            shown = [f"{{{i}}}" for i in range(len(self.args))] + shown
        return ", ".join(shown)

    def fill(self, text: str, what: str) -> str:
        try:
            return _FORMAT.vformat(text, self.args, self.named)
        except (KeyError, IndexError) as exc:
            key = exc.args[0] if exc.args else "?"
            raise ProgramError(f"{what} {text!r}: {{{key}}} names no parameter of the task "
                               f"(it has {self.names()})") from None
        except (ValueError, AttributeError, TypeError) as exc:
            raise ProgramError(f"{what} {text!r}: {exc}") from None


class _Formatter(string.Formatter):
    def get_value(self, key, args, kwargs):
        if isinstance(key, int):
            return args[key]
        return kwargs[key]

    def format_field(self, value, spec):
        if not spec and type(value).__module__ == "numpy" and hasattr(value, "item"):
            value = value.item()   # a numpy scalar: 0.5, not np.float64(0.5)
        return format(value, spec)


_FORMAT = _Formatter()


# -- the program --------------------------------------------------------------------
class Program:
    """A task function that runs an executable; made by :func:`program`."""

    def __init__(self, cmd: Sequence[str], inputs: Sequence[str], outputs: Sequence[str],
                 templates: Sequence[str], read: Optional[Callable[[Path], Any]],
                 keep: str, link: bool, env: Mapping[str, str], build: Optional[str],
                 name: str):
        self.cmd, self.inputs, self.outputs = list(cmd), list(inputs), list(outputs)
        self.templates, self.read, self.keep, self.link = list(templates), read, keep, link
        self.env, self.build, self.name = dict(env), build, name
        self.__name__ = self.__qualname__ = name
        self.__module__ = "parc_mpi.programs"

    def __repr__(self) -> str:
        return f"program({' '.join(self.cmd)!r})"

    def check(self, *args: Any, **kwargs: Any) -> None:
        """Raise ProgramError when a template names a parameter the task lacks."""
        fields = _Fields.of(args, kwargs, {"task": 0, "node": "node", "cores": 1,
                                           "attempt": 0})
        for a in self.cmd:
            fields.fill(a, "argument")
        for f in self.inputs + self.templates + self.outputs:
            fields.fill(f, "file name")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        done = self.start(args, kwargs)
        try:
            if self.read is not None:
                result = self.read(done.folder)
            else:
                result = {"returncode": 0, "seconds": round(done.seconds, 6),
                          "stdout": done.tail("stdout.txt", 20)}
        except BaseException:
            done.finish(ok=False)
            raise
        done.finish(ok=True)
        return result

    # the steps, for run_program and __call__
    def start(self, args: tuple, kwargs: Mapping[str, Any]) -> "Finished":
        task, attempt = NOW[0][:2] if NOW[0] else (None, 0)
        node = CONTEXT.node or platform.node()
        cores = CONTEXT.cores
        fields = _Fields.of(args, kwargs, {"task": task if task is not None else 0,
                                           "node": node, "cores": cores, "attempt": attempt})
        argv = [fields.fill(a, "argument") for a in self.cmd]
        folder = _task_folder(task)
        source = self._built(folder.parent, node) if self.build else None
        try:
            self._stage(folder, fields, source)
        except OSError as exc:
            raise ProgramError(f"{argv[0]}: cannot prepare its folder {folder} on {node}: "
                               f"{exc.strerror or exc}") from None
        t0 = time.perf_counter()
        rc = _run(argv, folder, self._environ(task, node, cores), node)
        done = Finished(self, folder, argv, rc, time.perf_counter() - t0, task, node, fields)
        if rc != 0:
            stderr = _tail_lines(folder / "stderr.txt", TAIL_LINES)
            done.finish(ok=False)   # (keep="none" removes the folder and its stderr.txt)
            raise ProgramError(done.failure(stderr))
        done.collect()
        return done

    def _environ(self, task: Optional[int], node: str, cores: int) -> Dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(LAUNCHER_VARS)}
        env.pop("PARC_MPI_SERIAL", None)
        env.pop("PARC_MPI_TASK_PROCESS", None)
        for var in THREAD_VARS:
            env[var] = str(cores)
        env.update(PARC_TASK="" if task is None else str(task), PARC_NODE=node,
                   PARC_CORES=str(cores))
        env.update(self.env)
        return env

    def _stage(self, folder: Path, fields: _Fields, source: Optional[Path]) -> None:
        """The task's folder, fresh: inputs (or the build's folder) and templates."""
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
        if source is not None:
            for entry in sorted(source.iterdir()):
                if entry.name.startswith(".parc"):
                    continue
                _place(entry, folder / entry.name, self.link)
        else:
            for name in self.inputs:
                path = _find(fields.fill(name, "input"))
                _place(path, folder / _dest_name(fields.fill(name, "input")), self.link)
        for name in self.templates:
            filled = fields.fill(name, "template")
            path = _find(filled)
            text = path.read_text()
            dest = folder / _dest_name(filled)
            dest.parent.mkdir(parents=True, exist_ok=True)
            if dest.is_symlink() or dest.exists():
                dest.unlink()
            dest.write_text(fields.fill(text, f"template {filled}:"))
            shutil.copymode(path, dest)

    def _built(self, base: Path, node: str) -> Path:
        """The build's folder on this node: made once per run and node, under a lock
        (ranks of a node share it), with the inputs copied in and ``build`` run there."""
        import fcntl
        import hashlib
        key = hashlib.sha256(self.build.encode())
        for name in self.inputs:   # the same command on the same sources: the same build
            if "{" in name:
                raise ProgramError(f"input {name!r}: with build=, inputs are the same "
                                   "for every task (no {parameters} in their names)")
            key.update(b"\0" + name.encode() + b"\0" + _digest(_find(name)))
        where = base / f"build-{key.hexdigest()[:12]}"
        done = where / ".parc-built"
        if done.exists():
            return where
        base.mkdir(parents=True, exist_ok=True)
        with open(base / f".{where.name}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if done.exists():
                return where
            if where.exists():
                shutil.rmtree(where)
            where.mkdir()
            for name in self.inputs:
                _place(_find(name), where / _dest_name(name), link=False)
            with open(where / ".parc-build.log", "wb") as log:
                rc = _run(["/bin/sh", "-c", self.build], where, dict(os.environ), node,
                          out=log, err=log)
            if rc != 0:
                lines = _tail_lines(where / ".parc-build.log", TAIL_LINES)
                raise ProgramError(f"build {self.build!r} {_exit_words(rc)} on {node} "
                                   f"({platform.machine()}): {lines or '(no output)'}")
            done.touch()
        return where


class Finished:
    """A program that ran in its task folder (what :func:`run_program` returns)."""

    def __init__(self, program: Program, folder: Path, argv: List[str], returncode: int,
                 seconds: float, task: Optional[int], node: str, fields: _Fields):
        self.program, self.folder, self.argv = program, folder, argv
        self.returncode, self.seconds, self.task, self.node = returncode, seconds, task, node
        self.fields = fields
        self.ended = False

    def tail(self, name: str, lines: int) -> str:
        return _tail_lines(self.folder / name, lines, sep="\n")

    def failure(self, stderr: str) -> str:
        """The one line a failed program gives: its exit, why it may have been killed,
        stderr's last lines (read before its folder went), where the folder is kept."""
        why = ""
        if self.returncode == -signal.SIGKILL:
            why = (f" (out of memory? the task's limit is {CONTEXT.memory / 2**20:.0f} MB)"
                   if CONTEXT.memory else " (out of memory, or another process killed it?)")
        return (f"{self.argv[0]} {_exit_words(self.returncode)} on {self.node}{why}" +
                (f": {stderr}" if stderr else "") + self._kept())

    def collect(self) -> None:
        """The listed outputs, read for the main node (a missing one fails the task)."""
        files: Dict[str, bytes] = {}
        total = 0
        for name in self.program.outputs:
            filled = self.fields.fill(name, "output")
            path = self.folder / filled
            if not path.is_file():
                self.finish(ok=False)
                raise ProgramError(f"{self.argv[0]} exited with 0 on {self.node} but did not "
                                   f"write its output {filled!r}" + self._kept())
            data = path.read_bytes()
            total += len(data)
            if total > MAX_OUTPUT_BYTES:
                self.finish(ok=False)
                raise ProgramError(f"outputs of {self.argv[0]} are over "
                                   f"{MAX_OUTPUT_BYTES >> 20} MiB; list fewer or smaller files")
            files[filled] = data
        self._bring(files)

    def _kept(self) -> str:
        return f" (its folder: {self.node}:{self.folder})" if self.folder.exists() else ""

    def _bring(self, files: Dict[str, bytes]) -> None:
        if files and self.task is not None:
            CONTEXT.files.setdefault(self.task, {}).update(files)

    def finish(self, ok: bool) -> None:
        """Keep, remove or archive the folder, as the program's ``keep`` says."""
        if self.ended:
            return
        self.ended = True
        keep = self.program.keep
        if keep == "archive" and self.folder.exists():
            buf = io.BytesIO()
            with tarfile.open(fileobj=buf, mode="w:gz") as tar:
                tar.add(str(self.folder), arcname=self.folder.name)
            self._bring({f"{self.folder.name}.tar.gz": buf.getvalue()})
        if keep == "none" or keep == "archive" or (keep == "failed" and ok):
            shutil.rmtree(self.folder, ignore_errors=True)


def _task_folder(task: Optional[int]) -> Path:
    if task is None:   # called outside a run: a folder of its own
        import tempfile
        return Path(tempfile.mkdtemp(prefix="task-", dir=_ensure(scratch_root() / "interactive")))
    return scratch_root() / (CONTEXT.run or f"run-{os.getppid()}") / f"task-{task}"


def _ensure(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def _find(name: str) -> Path:
    path = Path(os.path.expanduser(name))
    if path.is_absolute():
        if path.exists():
            return path
        raise ProgramError(f"input {name!r}: no such file on {CONTEXT.node or platform.node()}")
    for d in search_dirs():
        candidate = Path(d) / path
        if candidate.exists():
            return candidate
    raise ProgramError(f"input {name!r}: not found on {CONTEXT.node or platform.node()} in "
                       f"{', '.join(search_dirs())} (ship its folder with --ship DIR)")


_DIGESTS: Dict[Tuple[str, int, int], bytes] = {}


def _digest(path: Path) -> bytes:
    """A file's (or folder's) content digest, kept while it is unchanged."""
    import hashlib
    st = path.stat()
    key = (str(path), st.st_mtime_ns, st.st_size)
    got = _DIGESTS.get(key)
    if got is None:
        h = hashlib.sha256()
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for f in files:
            h.update(str(f.relative_to(path) if path.is_dir() else f.name).encode() + b"\0")
            h.update(f.read_bytes())
        got = _DIGESTS[key] = h.digest()
    return got


def _dest_name(name: str) -> str:
    path = Path(name)
    if path.is_absolute() or ".." in path.parts:
        return path.name
    return str(path)


def _place(src: Path, dest: Path, link: bool) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    if link:
        os.symlink(src.resolve(), dest)
    elif src.is_dir():
        shutil.copytree(src, dest, symlinks=True)
    else:
        shutil.copy2(src, dest)


def _run(argv: List[str], folder: Path, env: Dict[str, str], node: str, out=None,
         err=None) -> int:
    """Run ``argv`` in ``folder`` as its own process group; end the group if this
    process is interrupted (the task's timeout, the run ending)."""
    own_out = own_err = None
    if out is None:
        out = own_out = open(folder / "stdout.txt", "wb")
    if err is None:
        err = own_err = open(folder / "stderr.txt", "wb")
    try:
        try:
            proc = subprocess.Popen(argv, cwd=str(folder), env=env, stdin=subprocess.DEVNULL,
                                    stdout=out, stderr=err, process_group=0)
        except FileNotFoundError:
            where = "in the task folder" if "/" in argv[0] else "on the PATH"
            raise ProgramError(f"{argv[0]}: no such program {where} on {node} (list it in "
                               f"inputs=, or give its full path)") from None
        except PermissionError:
            raise ProgramError(f"{argv[0]}: not executable on {node} (chmod +x it; a shipped "
                               "file keeps its mode bits)") from None
        except OSError as exc:
            if exc.errno == errno.ENOEXEC:
                raise ProgramError(f"{argv[0]}: exec format error on {node} "
                                   f"({platform.machine()}): built for another machine? "
                                   "build it on each node with build=") from None
            raise ProgramError(f"{argv[0]}: cannot start on {node}: {exc.strerror}") from None
        try:
            return proc.wait()
        except BaseException:   # the task's timeout, a stop: end the whole group
            end_group(proc)
            raise
    finally:
        for fh in (own_out, own_err):
            if fh is not None:
                fh.close()


def end_group(proc: subprocess.Popen) -> None:
    """SIGTERM to the program's process group, SIGKILL after TERM_GRACE."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            proc.wait(TERM_GRACE)
            if sig == signal.SIGTERM:
                try:   # what the program started and left behind
                    os.killpg(proc.pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
            return
        except subprocess.TimeoutExpired:
            continue
    proc.wait()


def _exit_words(rc: int) -> str:
    if rc < 0:
        try:
            name = signal.Signals(-rc).name
        except ValueError:
            name = f"signal {-rc}"
        return f"was killed by {name}"
    return f"exited with {rc}"


def _tail_lines(path: Path, n: int, sep: str = " | ") -> str:
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - 8192))
            text = fh.read().decode("utf-8", "replace")
    except OSError:
        return ""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    out = sep.join(lines[-n:])
    return out if len(out) <= 400 or sep == "\n" else "..." + out[-400:]


# -- the public functions ------------------------------------------------------------
def program(cmd: Union[str, Sequence[str]], *, inputs: Sequence[str] = (),
            outputs: Sequence[str] = (), templates: Sequence[str] = (),
            read: Optional[Callable[[Path], Any]] = None, keep: str = "failed",
            link: bool = False, env: Optional[Mapping[str, str]] = None,
            build: Optional[str] = None, name: Optional[str] = None) -> Program:
    """A task function that runs the program ``cmd`` in a folder of its own per task.

    Parameters
    ----------
    cmd : list of str, or str
        The program and its arguments (a string is split as a shell would, with no
        shell); ``{name}`` fills in the task's parameter ``name`` (see the module's doc).
    inputs : list of str
        Files (or folders) copied into each task's folder: relative to the job file's
        folder (or the folder shipped with ``--ship``), ``{name}`` filled in.
    outputs : list of str
        Files the program writes in its folder, brought back to the main node into
        ``<run>/outputs/task-<N>/``; a missing one fails the task.
    templates : list of str
        Input files whose text has the task's parameters filled in (``{name}``;
        ``{{`` for a brace).
    read : callable, optional
        ``read(folder) -> result``: the task's result from the program's files.
    keep : {"failed", "all", "none", "archive"}
        What happens to the task's folder after the task.
    link : bool
        Symbolic links to the inputs instead of copies.
    env : dict, optional
        Variables set for the program (beside the task's, which drop the MPI
        launcher's and set ``OMP_NUM_THREADS`` to the task's cores).
    build : str, optional
        A shell command run once per node and run in a folder holding the inputs
        (``"cc -O2 -o forces.x forces.c -lm"``): each task's folder gets that folder's
        files, so each node runs a program built for it.
    """
    if isinstance(cmd, str):
        cmd = shlex.split(cmd)
    if isinstance(cmd, (bytes, Mapping)) or not isinstance(cmd, Sequence) or not cmd or \
            not all(isinstance(a, (str, os.PathLike)) for a in cmd):
        raise ValueError(f"program(cmd): a list of strings (the program and its arguments), "
                         f"got {cmd!r}")
    lists = {}
    for what, value in (("inputs", inputs), ("outputs", outputs), ("templates", templates)):
        if isinstance(value, (str, os.PathLike)):
            value = [value]
        if not all(isinstance(v, (str, os.PathLike)) for v in value):
            raise ValueError(f"program(..., {what}=): a list of file names, got {value!r}")
        lists[what] = [os.fspath(v) for v in value]
    for name_ in lists["outputs"]:
        if os.path.isabs(name_) or ".." in Path(name_).parts:
            raise ValueError(f"program(..., outputs=): {name_!r} must be a path inside the "
                             "task's folder")
    if keep not in KEEP:
        raise ValueError(f"program(..., keep=): one of {', '.join(KEEP)}, got {keep!r}")
    if read is not None and not callable(read):
        raise ValueError(f"program(..., read=): a function of the task's folder, got {read!r}")
    if build is not None and not isinstance(build, str):
        raise ValueError(f"program(..., build=): a shell command, got {build!r}")
    env = dict(env or {})
    argv = [os.fspath(a) for a in cmd]
    prog = Program(argv, lists["inputs"], lists["outputs"], lists["templates"], read, keep,
                   bool(link), env, build, name or os.path.basename(argv[0]))
    for f in prog.inputs + prog.templates:   # a missing input: now, not per task
        if "{" not in f and not build:
            try:
                _find(f)
            except ProgramError as exc:
                raise ValueError(str(exc)) from None
    return prog


def run_program(cmd: Union[str, Sequence[str]], params: Optional[Mapping[str, Any]] = None,
                **options: Any) -> Finished:
    """Run a program for the task running now, inside your own task function, with the
    options of :func:`program` but ``read``; returns a :class:`Finished` with its
    ``folder``, ``returncode`` and ``seconds``. Its folder is kept until you call
    ``finish(ok)`` (or for ever when you do not)."""
    if "read" in options:
        raise ValueError("run_program(...): read= is program()'s; read the files from "
                         "the folder it returns")
    prog = program(cmd, **options)
    return prog.start((), dict(params or {}))
