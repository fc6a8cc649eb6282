"""``--resume RUN_DIR``: continue a stopped or crashed run from its store.

The store is the journal. Every task a source hands out is logged in ``asks`` with
the number of results told before it; results are told in commit order. Replaying
both into a fresh source with the same seed rebuilds the optimizer (or generator)
exactly as it stood at the last commit, so the resumed run proposes the points the
uninterrupted run would have proposed from there. Tasks that were out at the crash
run again; no finished evaluation runs twice.
"""
from __future__ import annotations

import json
import math
import time
from typing import Any, Dict, List, Optional

from .job import Job, OptimizeJob, file_digest
from .store import STATUS_KILLED, Result, RunReader, Store, StoreError, lock_run
from .store.values import journal

ENDED = ("finished", "failed")
# what must match for a replay to be meaningful (retries and timeout may change; the
# job file may be renamed, its content is checked by digest)
IDENTITY = ("kind", "space", "budget", "goal", "seed", "optimizer", "max_tasks", "noise",
            "repeats", "repeat_top")


class NothingToResume(Exception):
    """The run already ended: not an error, exit 0."""


def job_digest(path: str) -> Optional[str]:
    try:
        with open(path, "rb") as fh:
            return file_digest(fh.read())
    except OSError:
        return None


def open_for_resume(job: Job, run_dir: str, job_path: str, sync: str = "normal",
                    budget: Optional[int] = None, reopen: bool = False) -> Store:
    """Open RUN_DIR's store for a resume of ``job``; raise StoreError naming what is
    wrong, or NothingToResume when the run has ended (and ``budget`` does not extend
    it, nor ``reopen`` ask for its failed tasks to run again)."""
    with RunReader(run_dir) as reader:  # says what is missing, names the folder
        try:
            reader.check_intact()
        except StoreError as exc:
            raise StoreError(f"{exc}; cannot resume") from None
    store = Store(run_dir, sync=sync)
    try:
        meta = store.meta()
        status = meta.get("status")
        done = (meta.get("summary") or {}).get("tasks")
        planned = meta.get("budget_extended") or (meta.get("job") or {}).get("budget")
        if budget is not None:
            if not isinstance(job, OptimizeJob):
                raise StoreError(f"--budget: {run_dir} is not an optimization run")
            if done is not None and budget < done:
                raise StoreError(f"--budget {budget} is below the {done} evaluations "
                                 f"{run_dir} has done already")
        extends = budget is not None and planned is not None and budget > planned
        old = meta.get("job") or {}
        if isinstance(job, OptimizeJob) and job.seed is None and old.get("seed") is not None:
            job.seed = old["seed"]  # the run drew its seed at the start; reuse it
        if isinstance(job, OptimizeJob) and old.get("warm_start") and not job.warm_start:
            job.warm_start = old["warm_start"]  # replayed with the results it was told
        # another job file is refused whether the run ended or not: "already finished"
        # would tell its user that the other job's results are theirs
        changed = _identity_change(old, job.describe())
        if changed:
            raise StoreError(f"{job_path}: not the job this run started with: {changed}; "
                             f"resume {run_dir} with its own job file")
        digest = meta.get("job_sha256")
        if digest and job_digest(job_path) != digest:
            raise StoreError(f"{job_path}: the job file changed since the run started "
                             f"({meta.get('job_file', '?')}, sha256 {digest[:12]}); resume "
                             "with the same file, or start a new run")
        if status in ENDED and not extends and not reopen:
            raise NothingToResume(f"{run_dir}: the run already {status} ({done or '?'} "
                                  "tasks); nothing to resume"
                                  + ("" if not isinstance(job, OptimizeJob) else
                                     "; --budget N continues it to N evaluations"))
        store.lock = lock_run(run_dir)
    except BaseException:
        store.close()
        raise
    return store


def _identity_change(old: Dict[str, Any], new: Dict[str, Any]) -> Optional[str]:
    for key in IDENTITY:
        a, b = old.get(key), new.get(key)
        if key == "space" and a is not None and b is not None:
            a, b = json.loads(json.dumps(a)), json.loads(json.dumps(b))
        if a != b:
            label = "search space" if key == "space" else key
            return f"the {label} changed ({_short(a)} -> {_short(b)})"
    return None


def _short(value: Any) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= 120 else text[:117] + "..."


# -- replay ------------------------------------------------------------------
def replay(sched, store: Store, retries: int, retry_failed: bool = False) -> Dict[str, int]:
    """Bring a fresh scheduler (and its source) to where the stored run stood.
    ``retry_failed``: tasks that failed for good run again (map jobs), with their
    retries and deaths counted afresh.

    Returns counts for the start-up line: done, failed, rerun."""
    from .engine import retry_due
    if retry_failed and sched.source.adaptive:
        raise StoreError("--retry-failed: only a map job's failed tasks can run again (an "
                         "optimizer or generator was told of the failure)")
    with store.reader() as reader:
        rows = reader.results()
        asks = reader.asks() if sched.source.adaptive else []
        extras = _extras(reader) if sched.source.adaptive else {}
    last: Dict[int, Result] = {}
    kills: Dict[int, int] = {}
    # told rows: ok, or a failure that was not going to be retried (the scheduler's own
    # rule, deaths of the task's process counted as it counted them)
    told = []
    for row in rows:
        last[row.task] = row
        if row.status == STATUS_KILLED:
            kills[row.task] = kills.get(row.task, 0) + 1
        if row.ok or not retry_due(row.status, row.attempt, kills.get(row.task, 0), retries):
            told.append(row)
    if retry_failed:
        again = {r.task for r in told if not r.ok}
        told = [r for r in told if r.task not in again]
        for task in again:
            kills.pop(task, None)
    told_tasks = {r.task for r in told}
    retry = [(r.task, r.attempt + 1, r.params) for r in last.values()
             if r.task not in told_tasks]
    failed = sum(1 for r in told if not r.ok)
    source = sched.source
    if source.adaptive:
        asked = _replay_adaptive(source, store.path, asks, told, extras)
        rerun = [(t, 0, arg) for t, arg in asked if t not in told_tasks and t not in last]
        taken = len(asked)
    else:
        source.skip = set(last)  # done, or waiting for its retry below
        rerun = []
        taken = len(told_tasks)
    sched.restore(done=len(told), failed=failed, taken=taken, told=len(told),
                  attempts_failed=sum(1 for r in rows if not r.ok), kills=kills,
                  rerun=rerun + sorted(retry, key=lambda x: x[0]))
    return {"done": len(told), "failed": failed, "rerun": len(rerun) + len(retry)}


def _extras(reader) -> Dict[int, tuple]:
    """Each evaluation's (curve, pruned), as the optimizer was told it: the pruner's
    state and the trials stopped early replay too."""
    pruned = {e[1]: e[5] for e in reader.evaluations()}
    out = {task: (curve, bool(pruned.get(task))) for task, curve in reader.curves().items()}
    return out


def _replay_adaptive(source, path: str, asks, told: List[Result],
                     extras: Dict[int, tuple]) -> List[tuple]:
    """Every recorded take, with the tells that came before it, in order."""
    asked: List[tuple] = []
    i = 0
    for seq, after, n, want in asks:
        while i < after and i < len(told):
            _tell(source, told[i], extras)
            i += 1
        got = source.take(n)
        if [[t, journal(a)] for t, a in got] != want:
            raise StoreError(
                f"{path}: the job does not replay the same tasks (take {seq}: got "
                f"{_short([t for t, _ in got])}, the run had {_short([t for t, _ in want])}); "
                "is the objective or optimizer random without a seed?")
        asked.extend(got)
    for row in told[i:]:
        _tell(source, row, extras)
    return asked


def _tell(source, row: Result, extras: Dict[int, tuple]) -> None:
    source.done(row.task, row.ok, row.result if row.ok else math.nan,
                extras.get(row.task) if row.ok else None)


def mark_resumed(store: Store, opts_argv: List[str], counts: Dict[str, int]) -> None:
    meta = store.meta()
    history = list(meta.get("resumed") or [])
    history.append({"at": time.time(), "argv": opts_argv, **counts})
    store.set_meta(status="running", resumed=history)
