"""``--resume RUN_DIR``: continue a stopped or crashed run from its store.

The store is the journal. Every task a source hands out is logged in ``asks`` with
the number of results told before it; results are told in commit order. Replaying
both into a fresh source with the same seed rebuilds the optimizer (or generator)
exactly as it stood at the last commit, so the resumed run proposes the points the
uninterrupted run would have proposed from there. Tasks that were out at the crash
run again; no finished evaluation runs twice.
"""
from __future__ import annotations

import fcntl
import json
import math
import os
import sqlite3
import time
from typing import Any, Dict, List, Optional, Tuple

from .job import Job, OptimizeJob, file_digest
from .store import STATUS_OK, Store, StoreError, decode, encode

ENDED = ("finished", "failed")
# what must match for a replay to be meaningful (retries and timeout may change; the
# job file may be renamed, its content is checked by digest)
IDENTITY = ("kind", "space", "budget", "goal", "seed", "optimizer", "max_tasks")


class NothingToResume(Exception):
    """The run already ended: not an error, exit 0."""


def job_digest(path: str) -> Optional[str]:
    try:
        with open(path, "rb") as fh:
            return file_digest(fh.read())
    except OSError:
        return None


def lock_run(run_dir: str):
    """Hold ``run.lock`` for as long as the returned file stays open: a second
    process cannot resume (or write into) a run that is still going."""
    path = os.path.join(run_dir, "run.lock")
    try:
        fh = open(path, "a+")
    except OSError as exc:
        raise StoreError(f"{run_dir}: cannot create run.lock: {exc.strerror}") from None
    try:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        fh.seek(0)
        who = fh.read().strip() or "another process"
        fh.close()
        raise StoreError(f"{run_dir}: the run is still going ({who} holds run.lock); "
                         "stop it first (touch STOP in the run directory)") from None
    fh.seek(0)
    fh.truncate()
    fh.write(f"pid {os.getpid()} on {os.uname().nodename}\n")
    fh.flush()
    return fh


def open_for_resume(job: Job, run_dir: str, job_path: str, sync: str = "normal") -> Store:
    """Open RUN_DIR's store for a resume of ``job``; raise StoreError naming what is
    wrong, or NothingToResume when the run has ended."""
    path = os.path.join(run_dir, "run.sqlite")
    if not os.path.isfile(path):
        raise StoreError(f"{run_dir}: no run.sqlite here; is it a parc_mpi run directory?")
    _check_intact(path)
    store = Store(run_dir, sync=sync)
    try:
        meta = store.meta()
        status = meta.get("status")
        if status in ENDED:
            raise NothingToResume(f"{run_dir}: the run already {status} "
                                  f"({(meta.get('summary') or {}).get('tasks', '?')} tasks); "
                                  "nothing to resume")
        old = meta.get("job") or {}
        if isinstance(job, OptimizeJob) and job.seed is None and old.get("seed") is not None:
            job.seed = old["seed"]  # the run drew its seed at the start; reuse it
        changed = _identity_change(old, job.describe())
        if changed:
            raise StoreError(f"{job_path}: not the job this run started with: {changed}; "
                             f"resume {run_dir} with its own job file")
        digest = meta.get("job_sha256")
        if digest and job_digest(job_path) != digest:
            raise StoreError(f"{job_path}: the job file changed since the run started "
                             f"({meta.get('job_file', '?')}, sha256 {digest[:12]}); resume "
                             "with the same file, or start a new run")
        store.lock = lock_run(run_dir)
    except BaseException:
        store.close()
        raise
    return store


def _check_intact(path: str) -> None:
    """A damaged store is refused with SQLite's own words, before anything writes."""
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
        try:
            verdict = db.execute("PRAGMA quick_check").fetchone()[0]
            db.execute("SELECT COUNT(*) FROM meta").fetchone()
        finally:
            db.close()
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"{path}: the run store is damaged ({exc}); cannot resume") from None
    if verdict != "ok":
        raise StoreError(f"{path}: the run store is damaged ({verdict}); cannot resume")


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
def replay(sched, store: Store, retries: int) -> Dict[str, int]:
    """Bring a fresh scheduler (and its source) to where the stored run stood.

    Returns counts for the start-up line: done, failed, rerun."""
    rows = list(store.db.execute(
        "SELECT seq, task, attempt, status, params, result FROM results ORDER BY seq"))
    last: Dict[int, Tuple] = {}
    for row in rows:
        last[row[1]] = row
    # told rows: ok, or a failure that was not going to be retried
    told = [r for r in rows if r[3] == STATUS_OK or r[2] >= retries]
    told_tasks = {r[1] for r in told}
    retry = [(r[1], r[2] + 1, decode(r[4])) for r in last.values()
             if r[1] not in told_tasks]
    failed = sum(1 for r in told if r[3] != STATUS_OK)
    source = sched.source
    if source.adaptive:
        asked = _replay_adaptive(source, store, told)
        rerun = [(t, 0, arg) for t, arg in asked if t not in told_tasks and t not in last]
        sched.taken = len(asked)
    else:
        source.skip = set(last)  # done, or waiting for its retry below
        rerun = []
        sched.taken = len(told_tasks)
    sched.told = len(told)
    sched.done = sched.done_before = len(told)
    sched.failed = failed
    sched.attempts_failed = sum(1 for r in rows if r[3] != STATUS_OK)
    sched.retry.extend(rerun + sorted(retry, key=lambda x: x[0]))
    return {"done": len(told), "failed": failed, "rerun": len(rerun) + len(retry)}


def _replay_adaptive(source, store: Store, told: List[Tuple]) -> List[Tuple[int, Any]]:
    """Every recorded take, with the tells that came before it, in order."""
    asked: List[Tuple[int, Any]] = []
    i = 0
    for seq, after, n, tasks in store.db.execute(
            "SELECT seq, after, n, tasks FROM asks ORDER BY seq"):
        while i < after and i < len(told):
            _tell(source, told[i])
            i += 1
        got = source.take(n)
        want = json.loads(tasks)
        if [[t, encode(a)] for t, a in got] != want:
            raise StoreError(
                f"{store.path}: the job does not replay the same tasks (take {seq}: got "
                f"{_short([t for t, _ in got])}, the run had {_short([t for t, _ in want])}); "
                "is the objective or optimizer random without a seed?")
        asked.extend(got)
    for row in told[i:]:
        _tell(source, row)
    return asked


def _tell(source, row: Tuple) -> None:
    _seq, task, _attempt, status, _params, result = row
    ok = status == STATUS_OK
    source.done(task, ok, decode(result) if ok else math.nan)


def mark_resumed(store: Store, opts_argv: List[str], counts: Dict[str, int]) -> None:
    meta = store.meta()
    history = list(meta.get("resumed") or [])
    history.append({"at": time.time(), "argv": opts_argv, **counts})
    store.set_meta(status="running", resumed=history)
