"""Jobs: what a job file defines as ``job``, and loading a job file.

Three kinds, all first-class:

* :func:`map` -- a sweep of ``fn(item)`` over a (possibly huge, lazy) iterable;
* :func:`optimize` -- an adaptive search: ``fn(**params)`` returns a number and
  rank 0 asks an optimizer for new points as results come back;
* :func:`generate` -- a custom generator: ``on_result(item, result)`` returns new
  items, for jobs whose next tasks depend on past results in their own way.
"""
from __future__ import annotations

import ast
import hashlib
import importlib.util
import os
import sys
import traceback
from dataclasses import dataclass
from typing import (Any, Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple,
                    Union)

from .optimizers import Optimizer, check_goal, check_noise, make_optimizer
from .space import Space


class JobError(ValueError):
    """A job file or job definition that cannot run; the message names the culprit."""


def _check_fn(fn: Any, what: str) -> None:
    if not callable(fn):
        raise JobError(f"{what} must be callable, got {type(fn).__name__}")


def _check_retries(retries: Any) -> int:
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        raise JobError(f"retries must be a non-negative integer, got {retries!r}")
    return retries


def _check_memory(memory: Any) -> Optional[int]:
    from .tasks.memory import parse_size
    try:
        return parse_size(memory, "memory")
    except ValueError as exc:
        raise JobError(str(exc)) from None


def _check_cores(cores: Any, items: Any = None) -> Any:
    """An int, or a function of a task's argument giving one (checked on the items
    known now; generated ones are checked as they come)."""
    if callable(cores) and not isinstance(cores, type):
        known = items if isinstance(items, (list, tuple, range)) else ()
        for i, item in enumerate(known):
            try:
                got = cores(item)
            except Exception as exc:  # the user's function
                raise JobError(f"cores(items[{i}]) raised {type(exc).__name__}: "
                               f"{exc}") from None
            if isinstance(got, bool) or not isinstance(got, int) or got < 1:
                raise JobError(f"cores(items[{i}]) must give a positive integer, got "
                               f"{got!r}")
        return cores
    if isinstance(cores, bool) or not isinstance(cores, int) or cores < 1:
        raise JobError(f"cores must be a positive integer (cores each task uses) or a "
                       f"function of a task's argument giving one, got {cores!r}")
    return cores


def _check_program(fn: Any, *args: Any, where: str, **kwargs: Any) -> None:
    """A program task whose arguments or file names name a parameter the tasks do not
    have: one line now, before any work starts."""
    check = getattr(fn, "check", None)
    if check is None or type(fn).__module__ != "parc_mpi.programs":
        return
    from .programs import ProgramError
    try:
        check(*args, **kwargs)
    except ProgramError as exc:
        raise JobError(f"{where}: {fn!r}: {exc}") from None


def _first(items: Any) -> Tuple[bool, Any]:
    """The first item of a list, tuple or range (not of a generator: it is not consumed)."""
    if isinstance(items, (list, tuple, range)) and len(items):
        return True, items[0]
    return False, None


def _check_timeout(timeout: Any) -> Optional[float]:
    if timeout is None:
        return None
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0:
        raise JobError(f"timeout must be a positive number of seconds, got {timeout!r}")
    return float(timeout)


@dataclass
class Job:
    """Common fields of every job kind."""

    fn: Callable
    retries: int = 0
    timeout: Optional[float] = None
    name: Optional[str] = None
    summary: Optional[Callable] = None
    memory: Optional[int] = None   # bytes a task's process may use (None: no limit)
    cores: Any = 1                 # cores each task uses (threads of a program, a BLAS),
    #                                or a function of the task's argument giving them

    kind = "job"
    call = "arg"  # how a worker calls fn: fn(item) or fn(**params)

    def describe(self) -> dict:
        out = {"kind": self.kind, "fn": _qualname(self.fn), "retries": self.retries,
               "timeout": self.timeout}
        if self.memory is not None:
            out["memory"] = self.memory
        if self.cores != 1:
            out["cores"] = self.cores if isinstance(self.cores, int) else "per task"
        return out


STREAM_MIN = 50_000   # map runs from this many tasks keep results.csv and the report's
#                       aggregates as the results arrive (smaller ones: at the end, cheap)


@dataclass
class MapJob(Job):
    items: Iterable = ()
    cost: Optional[Callable] = None   # the items' cost: the costliest start first
    order: Optional[str] = None       # "learn" (--order learn): the longest first, learned
    kind = "map"
    stream = False   # results.csv lines made by the workers (set on every rank: streams())

    def streams(self, resume: bool, order: Optional[str] = None) -> bool:
        """Whether a run of this job writes results.csv and the report's aggregates
        as the results arrive: a fresh run of STREAM_MIN tasks or more, or of a lazy
        generator of unknown length. Below that, the end of the run does it from the
        store in a fraction of a second, and the workers are spared the lines."""
        big = not hasattr(self.items, "__len__") or len(self.items) >= STREAM_MIN  # type: ignore[arg-type]
        return not resume and big and self.cost is None and not (order or self.order)
        #                                                    (the lines come in task order)

    def describe(self) -> dict:
        out = super().describe()
        if hasattr(self.items, "__len__"):
            out["total"] = len(self.items)  # type: ignore[arg-type]
        if self.cost is not None:
            out["order"] = "cost"
        elif self.order is not None:
            out["order"] = self.order
        return out

    def ordered(self) -> List[Tuple[int, Any]]:
        """``(task, item)`` pairs, the costliest first (``cost=``; ties keep the items'
        order). Raises JobError naming the item whose cost cannot be had."""
        pairs = list(enumerate(self.items))
        costs = []
        for i, item in pairs:
            try:
                c = float(self.cost(item))
            except Exception as exc:  # the user's function
                raise JobError(f"map(..., cost=): cost(items[{i}]) raised "
                               f"{type(exc).__name__}: {exc}") from None
            costs.append(-c if c == c else 0.0)   # nan: no cost known, counted as 0
        order = sorted(range(len(pairs)), key=lambda k: costs[k])
        return [pairs[k] for k in order]


@dataclass
class OptimizeJob(Job):
    space: Space = None
    budget: int = 0
    optimizer: Union[str, Optimizer] = "auto"
    goal: Any = "min"            # "min", "max" or {name: "min" | "max", ...}
    pruner: Any = None
    reference: Optional[Dict[str, float]] = None   # hypervolume's reference point
    seed: Optional[int] = None
    initial: Tuple[Dict[str, Any], ...] = ()   # known points, evaluated first
    warm_start: Optional[str] = None           # a run directory whose results are told first
    noise: Any = None            # None, True, or one evaluation's noise sd
    repeats: int = 0             # after the budget, the best points evaluated this often more
    repeat_top: int = 3          # ... how many of them
    kind = "optimize"
    call = "kwargs"

    def make_optimizer(self, workers: int = 1) -> Optimizer:
        return make_optimizer(self.optimizer, self.space, goal=self.goal, seed=self.seed,
                              budget=self.budget, workers=workers, pruner=self.pruner,
                              noise=self.noise)

    def describe(self) -> dict:
        out = super().describe()
        out.update(space=self.space.describe(), budget=self.budget, goal=self.goal,
                   seed=self.seed, optimizer=self.optimizer if isinstance(self.optimizer, str)
                   else type(self.optimizer).__name__)
        if self.reference is not None:
            out["reference"] = dict(self.reference)
        if self.pruner is not None:
            out["pruner"] = self.pruner if isinstance(self.pruner, str) else \
                getattr(self.pruner, "kind", type(self.pruner).__name__)
        if self.initial:
            out["initial"] = [dict(p) for p in self.initial]
        if self.warm_start:
            out["warm_start"] = os.path.abspath(self.warm_start)
        if self.noise is not None:
            out["noise"] = self.noise
        if self.repeats:
            out.update(repeats=self.repeats, repeat_top=self.repeat_top)
        return out


@dataclass
class GenerateJob(Job):
    items: Iterable = ()
    on_result: Callable = None
    max_tasks: Optional[int] = None
    kind = "generate"


def map(fn: Callable, items: Iterable, *, retries: int = 0, timeout: Optional[float] = None,
        summary: Optional[Callable] = None, name: Optional[str] = None,
        memory: Any = None, cores: int = 1, cost: Optional[Callable] = None) -> MapJob:
    """A sweep: call ``fn(item)`` for every item, on as many workers as there are.

    Parameters
    ----------
    fn : callable
        A module-level function of the job file (or of an importable module).
    items : iterable
        Anything iterable; it is consumed lazily on rank 0, so a generator of a
        million items costs no memory.
    retries : int, default 0
        How often a task that raised is tried again.
    timeout : float, optional
        Wall-time limit per task in seconds: the task is interrupted where Python
        can interrupt it, and its process ended one second later where it cannot
        (inside C); status ``timeout``.
    memory : str or int, optional
        Memory limit of each task's process, e.g. ``"800M"``: a task that needs more
        fails naming its limit (a memory cgroup where one can be made, else
        ``RLIMIT_DATA``; ``--memory`` overrides it).
    cost : callable, optional
        ``cost(item)``: a number, larger for an item that takes longer (its size, a
        grid's cell count). The costliest items start first, so that no long task
        runs alone at the end (the report's "the tail" verdict); results keep the
        items' task numbers. Needs a list, tuple or range of items.
    cores : int or callable, default 1
        Cores each task uses (a multithreaded program, a threaded BLAS): a node runs
        at most its cores divided by this many tasks at once, and each task's
        ``OMP_NUM_THREADS`` and BLAS threads are set to it. A function of the item
        (``lambda item: 4 if item["n"] > 1000 else 1``) gives each task its own: a
        task then starts only where its node has that many cores free, and its
        program's ``OMP_NUM_THREADS`` is its own (a task's BLAS stays at 1 thread).
    summary : callable, optional
        ``summary(pairs, run_dir) -> str``, called on rank 0 at the end with an
        iterator of ``(item, result)`` for the successful tasks in task order
        (streamed from the store, as JSON gives them back: tuples come back as
        lists); its text is printed and stored with the run.

    Examples
    --------
    >>> job = map(abs, range(-3, 3))
    """
    _check_fn(fn, "map(fn, items): fn")
    try:
        iter(items)
    except TypeError:
        raise JobError(f"map(fn, items): items must be iterable, got "
                       f"{type(items).__name__}") from None
    if summary is not None:
        _check_fn(summary, "map(..., summary=)")
    known, item = _first(items)
    if known:
        _check_program(fn, item, where="map(fn, items): items[0]")
    return MapJob(fn=fn, items=items, retries=_check_retries(retries),
                  timeout=_check_timeout(timeout), name=name, summary=summary,
                  memory=_check_memory(memory), cores=_check_cores(cores, items),
                  cost=_check_cost(cost, items, item if known else None))


def _check_cost(cost: Any, items: Any, first: Any) -> Optional[Callable]:
    """``cost=``: a function of an item giving a number, over items that can be
    ordered (a list, tuple or range: a generator is consumed as it goes)."""
    if cost is None:
        return None
    if not callable(cost) or isinstance(cost, type):
        raise JobError(f"map(..., cost=): give a function of an item returning its cost "
                       f"(say, its size), got {type(cost).__name__}")
    if not hasattr(items, "__len__") or not hasattr(items, "__getitem__"):
        raise JobError("map(..., cost=): the items must be a list, tuple or range to be "
                       f"started costliest first, got {type(items).__name__}")
    if len(items):
        try:
            got = cost(first)
        except Exception as exc:  # the user's function
            raise JobError(f"map(..., cost=): cost(items[0]) raised {type(exc).__name__}: "
                           f"{exc}") from None
        if isinstance(got, bool) or not isinstance(got, (int, float)) and not hasattr(
                got, "__float__"):
            raise JobError(f"map(..., cost=): cost(items[0]) must be a number, got {got!r}")
    return cost


def optimize(fn: Callable, space: Mapping, budget: int, *, goal: str,
             optimizer: Union[str, Optimizer] = "auto", seed: Optional[int] = 0,
             retries: int = 0, timeout: Optional[float] = None,
             name: Optional[str] = None, initial: Optional[Sequence[Mapping]] = None,
             warm_start: Optional[str] = None, pruner: Any = None,
             reference: Optional[Mapping[str, float]] = None,
             memory: Any = None, cores: int = 1, noise: Any = None, repeats: int = 0,
             repeat_top: int = 3) -> OptimizeJob:
    """An adaptive search for the best value of ``fn(**params)``.

    Parameters
    ----------
    fn : callable
        The objective; receives the space's parameters by name, returns a number
        (several objectives: a dict by name, or a tuple in the goal's order; with
        constraints: a dict with ``"constraints": [c1, ...]``, feasible when every
        ``c <= 0``, and the one objective under ``"value"``).
    space : dict of str to Real, Integer or Choice
    budget : int
        Number of evaluations (failed ones count).
    goal : {"max", "min"} or dict
        Required: the highest or the lowest value is best; several objectives:
        ``{"error": "min", "seconds": "min"}`` (the result is a Pareto front).
    optimizer : str or Optimizer, default "auto"
    seed : int, default 0
        Seed of every random choice; the same seed gives the same points.
    initial : list of dict, optional
        Points you already know to be good (or want checked): evaluated first, and
        counted in the budget.
    warm_start : str, optional
        The run directory of an earlier optimization over the same space: its
        results are told to the optimizer before it asks (not counted in the budget).
    pruner : {"median", "asha", "model"}, optional
        Stop evaluations early that report progress (``parc_mpi.report(step, value)``)
        worse than their peers' (``"model"``: a learning-curve model predicts they
        cannot win; for curves that cross); off by default.
    reference : dict, optional
        Several objectives: the hypervolume's reference point, one value per
        objective (default: derived from the points seen, and said so).
    noise : True or float, optional
        The values are noisy (a simulation with random numbers, a measurement, a
        training run): True, or one evaluation's noise standard deviation when known.
        The best is then the evaluated point a model with a noise term thinks best
        (its mean), not the luckiest draw, and it is reported as an estimate with its
        spread; ``auto``'s search fits the noise too. docs/optimizers.md has the
        benchmark.
    repeats : int, default 0
        After the budget, evaluate the ``repeat_top`` best points this many more
        times each (as tasks, in parallel, beyond the budget and counted apart); the
        best is then the one with the lowest mean of its evaluations, reported with
        their spread. Implies ``noise=True`` unless ``noise`` says otherwise.
    repeat_top : int, default 3
    """
    _check_fn(fn, "optimize(fn, ...): fn")
    try:
        space = Space(space)
        check_goal(goal)
    except ValueError as exc:
        raise JobError(str(exc)) from None
    noise, repeats, repeat_top = _check_noise(noise, repeats, repeat_top, goal)
    if warm_start is not None and isinstance(goal, Mapping):
        raise JobError("warm_start: an earlier run can warm-start one objective only "
                       "(the goal names several)")
    reference = _check_reference(reference, goal)
    _check_program(fn, where="optimize(fn, space, ...)", **{n: 0 for n in space.names})
    if isinstance(budget, bool) or not isinstance(budget, int) or budget < 1:
        raise JobError(f"budget must be a positive integer, got {budget!r}")
    points = []
    for i, p in enumerate(initial or ()):
        try:
            points.append(space.check_point(p, f"initial[{i}]"))
        except ValueError as exc:
            raise JobError(str(exc)) from None
    if len(points) > budget:
        raise JobError(f"initial: {len(points)} points do not fit in budget={budget}")
    if warm_start is not None:
        from .store.warm import check_warm_start
        try:
            check_warm_start(warm_start, space)
        except ValueError as exc:
            raise JobError(str(exc)) from None
    job = OptimizeJob(fn=fn, space=space, budget=budget, optimizer=optimizer, goal=goal,
                      seed=seed, retries=_check_retries(retries),
                      timeout=_check_timeout(timeout), name=name, initial=tuple(points),
                      warm_start=warm_start, pruner=pruner, reference=reference,
                      memory=_check_memory(memory), cores=_check_cores(cores),
                      noise=noise, repeats=repeats, repeat_top=repeat_top)
    if _builds_optimizers_here():
        try:
            job.make_optimizer()
        except ValueError as exc:
            raise JobError(str(exc)) from None
    return job


def _check_noise(noise: Any, repeats: Any, top: Any, goal: Any) -> tuple:
    """(noise, repeats, repeat_top) once valid; repeats imply noisy values."""
    try:
        noise = check_noise(noise)
    except ValueError as exc:
        raise JobError(str(exc)) from None
    for name, v, low in (("repeats", repeats, 0), ("repeat_top", top, 1)):
        if isinstance(v, bool) or not isinstance(v, int) or v < low:
            raise JobError(f"{name} must be an integer of at least {low}, got {v!r}")
    if repeats and noise is None:
        noise = True
    if noise is not None and isinstance(goal, Mapping):
        raise JobError("noise and repeats handle one objective (the goal names several)")
    return noise, repeats, top


def _builds_optimizers_here() -> bool:
    """Whether making an optimize job checks its optimizer by building it here: in a
    serial run and on rank 0, which will use it, yes; on the other ranks and in task
    processes, which load the job only to call its function, no. Building it loads
    scipy (half a CPU second here, seconds on a Pi), and every rank and task process of
    a node doing so at once slowed an MPI run's start by a second on 2 cores; rank 0's
    check still stops every rank on a bad optimizer."""
    if os.environ.get("PARC_MPI_TASK_PROCESS"):
        return False
    for var in ("PMI_RANK", "OMPI_COMM_WORLD_RANK", "PMIX_RANK", "SLURM_PROCID"):
        rank = os.environ.get(var)
        if rank is not None:
            return rank.strip() == "0"
    return True


def _check_reference(reference: Any, goal: Any) -> Optional[Dict[str, float]]:
    if reference is None:
        return None
    if not isinstance(goal, Mapping):
        raise JobError("reference: a hypervolume's reference point needs several objectives "
                       "(the goal names one)")
    if not isinstance(reference, Mapping) or set(reference) != set(goal):
        raise JobError(f"reference must give a number for each objective "
                       f"({', '.join(goal)}), got {reference!r}")
    out = {}
    for name in goal:
        v = reference[name]
        if isinstance(v, bool) or not isinstance(v, (int, float)) or v != v or \
                v in (float("inf"), float("-inf")):
            raise JobError(f"reference[{name!r}] must be a finite number, got {v!r}")
        out[name] = float(v)
    return out


def generate(fn: Callable, items: Iterable, on_result: Callable, *,
             max_tasks: Optional[int] = None, retries: int = 0,
             timeout: Optional[float] = None, summary: Optional[Callable] = None,
             name: Optional[str] = None, memory: Any = None, cores: int = 1) -> GenerateJob:
    """A custom generator: start from ``items``, and after each result call
    ``on_result(item, result)``, which returns an iterable of new items (or None).

    The job ends when no task is pending and no new item came back, or after
    ``max_tasks`` tasks. ``on_result`` runs on rank 0 only, after the result is
    stored; failed tasks are not passed to it. ``summary`` is as for :func:`map`.
    """
    _check_fn(fn, "generate(fn, items, on_result): fn")
    _check_fn(on_result, "generate(fn, items, on_result): on_result")
    try:
        iter(items)
    except TypeError:
        raise JobError(f"generate(...): items must be iterable, got "
                       f"{type(items).__name__}") from None
    if max_tasks is not None and (not isinstance(max_tasks, int) or max_tasks < 1):
        raise JobError(f"max_tasks must be a positive integer, got {max_tasks!r}")
    if summary is not None:
        _check_fn(summary, "generate(..., summary=)")
    known, item = _first(items)
    if known:
        _check_program(fn, item, where="generate(fn, items, ...): items[0]")
    return GenerateJob(fn=fn, items=items, on_result=on_result, max_tasks=max_tasks,
                       retries=_check_retries(retries), timeout=_check_timeout(timeout),
                       name=name, summary=summary, memory=_check_memory(memory),
                       cores=_check_cores(cores, items))


def _qualname(fn: Any) -> str:
    return f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', repr(fn))}"


def module_name_for(path: str) -> str:
    """A stable module name for a job file, the same on every rank."""
    stem = os.path.splitext(os.path.basename(path))[0]
    safe = "".join(ch if ch.isalnum() or ch == "_" else "_" for ch in stem)
    return f"parc_job_{safe}"


def check_syntax(source: bytes, label: str) -> None:
    """Raise JobError with file:line for a syntax error, without running anything."""
    try:
        ast.parse(source, filename=label)
    except SyntaxError as exc:
        raise JobError(f"{label}:{exc.lineno}: syntax error: {exc.msg}") from None
    except ValueError as exc:  # e.g. null bytes
        raise JobError(f"{label}: cannot parse: {exc}") from None


def load_job(path: str, label: Optional[str] = None, extra_path: Optional[str] = None,
             also_path: Optional[str] = None) -> Job:
    """Import a job file and return its module-level ``job``.

    Parameters
    ----------
    path : str
        The job file to import.
    label : str, optional
        The name used in messages (the user's file name when ``path`` is a copy).
    extra_path : str, optional
        A folder put first on ``sys.path`` (a shipped project folder).
    also_path : str, optional
        A folder put on ``sys.path`` after those (the job file's own folder on the
        main node, when this node can see it).

    Raises
    ------
    JobError
        One line naming the file and what is wrong.
    """
    label = label or path
    try:
        with open(path, "rb") as fh:
            source = fh.read()
    except FileNotFoundError:
        raise JobError(f"{label}: no such job file") from None
    except IsADirectoryError:
        raise JobError(f"{label}: is a directory, expected a Python job file") from None
    except OSError as exc:
        raise JobError(f"{label}: cannot read: {exc.strerror}") from None
    check_syntax(source, label)
    folder = os.path.dirname(os.path.abspath(path))
    for p in (folder, extra_path):
        if p and p not in sys.path:
            sys.path.insert(0, p)
    if also_path and also_path not in sys.path:
        sys.path.append(also_path)
    from . import programs   # where a program task's inputs are looked for
    programs.SEARCH_DIRS[:] = [d for d in (folder, extra_path, also_path) if d]
    name = module_name_for(path)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except SystemExit as exc:
        raise JobError(f"{label}: called sys.exit({exc.code!r}) while being imported") from None
    except BaseException as exc:  # the user's code: anything can come out
        if isinstance(exc, KeyboardInterrupt):
            raise
        line = _user_line(exc, path)
        where = f"{label}:{line}" if line else label
        raise JobError(f"{where}: {type(exc).__name__} while importing the job file: "
                       f"{_first_line(exc)}") from None
    if not hasattr(module, "job"):
        if _job_under_main_guard(source):
            raise JobError(f"{label}: 'job' is defined only under "
                           "'if __name__ == \"__main__\":'; parc_mpi imports the file (it "
                           "does not run it as __main__): define 'job' at the top level")
        raise JobError(f"{label}: defines no 'job'; end the file with e.g. "
                       "'job = parc_mpi.map(fn, items)'")
    job = module.job
    if not isinstance(job, Job):
        raise JobError(f"{label}: 'job' must be made by parc_mpi.map, parc_mpi.optimize or "
                       f"parc_mpi.generate, got {type(job).__name__}")
    if job.name is None:
        job.name = os.path.splitext(os.path.basename(label))[0]
    # tracebacks name the user's file, not the copy a node loaded
    job.rename = (os.path.abspath(path), label)
    # how a task process loads the same job (parc_mpi.tasks)
    job.origin = (os.path.abspath(path), label, extra_path, also_path)
    return job


def _job_under_main_guard(source: bytes) -> bool:
    """True when ``job`` is assigned inside an ``if __name__ == "__main__":`` block."""
    import ast
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return False
    for node in tree.body:
        if isinstance(node, ast.If) and "__name__" in ast.unparse(node.test) \
                and "__main__" in ast.unparse(node.test):
            for sub in ast.walk(node):
                if isinstance(sub, (ast.Assign, ast.AnnAssign)):
                    targets = sub.targets if isinstance(sub, ast.Assign) else [sub.target]
                    if any(isinstance(t, ast.Name) and t.id == "job" for t in targets):
                        return True
    return False


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else "(no message)"


def _user_line(exc: BaseException, path: str) -> Optional[int]:
    """The line of the job file nearest the error, if the traceback passes it."""
    target = os.path.abspath(path)
    line = None
    for frame in traceback.extract_tb(exc.__traceback__):
        if os.path.abspath(frame.filename) == target:
            line = frame.lineno
    return line


def file_digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
