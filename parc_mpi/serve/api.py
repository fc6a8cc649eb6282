"""The dashboard's JSON: plain functions from a run directory to dicts, read through
the store's read-only :class:`~parc_mpi.store.RunReader` (one short read per call, so
a run's writer is never held back). No HTTP here: :mod:`.server` routes requests to
these, and the tests call them directly. Field names are the API's contract
(docs/dashboard.md)."""
from __future__ import annotations

import math
import os
import time
from typing import Any, Dict, List, Optional

from ..monitor.nodeview import node_views, run_alerts, stale_after
from ..store import RunReader, StoreError
from ..store.export import _scalar, bare, fields

API_VERSION = 1
MAX_LIMIT = 1000          # results per request
HISTORY_SECONDS = 600     # the per-node history the nodes call returns
HISTORY_POINTS = 120      # ... at most this many points per node
MAX_CELL = 200            # characters of one table cell
MAX_FAILURES = 50
TOP = 10
MAX_STEPS = 2000          # points of the best-so-far curve
SORTS = ("task", "status", "value", "seconds", "node", "worker", "attempt")


def _num(x: Any) -> Any:
    """A number for JSON: NaN and infinities become None (JSON has neither)."""
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


def cell(value: Any) -> Any:
    """A table cell for JSON: numbers and short strings as they are, NaN and infinity as
    text, anything else summarised as in results.csv."""
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    out = _scalar(value)
    if isinstance(out, str) and len(out) > MAX_CELL:
        out = out[:MAX_CELL - 1] + "…"
    return out


def run_liveness(run_dir: str, meta: Dict[str, Any]) -> str:
    """The run's status word; a run the store calls running whose process is gone
    (run.lock names a pid on this host that no longer exists) is ``crashed``."""
    status = meta.get("status") or "starting"
    if status != "running":
        return status
    try:
        with open(os.path.join(run_dir, "run.lock"), encoding="utf-8") as fh:
            holder = fh.read().split()
    except OSError:
        return status
    if holder[:1] == ["free"]:
        return "crashed"
    if len(holder) >= 4 and holder[0] == "pid" and holder[3] == os.uname().nodename:
        if holder[1].isdigit() and not os.path.exists(f"/proc/{holder[1]}"):
            return "crashed"
    return status


def _total(meta: Dict[str, Any]) -> Optional[int]:
    job = meta.get("job") or {}
    if job.get("kind") == "optimize":
        return meta.get("budget_extended") or job.get("budget")
    return job.get("total") or job.get("max_tasks")


def _name(meta: Dict[str, Any], run_id: str) -> str:
    return meta.get("name") or run_id


def run_summary(run_id: str, run_dir: str) -> Dict[str, Any]:
    """One line of the runs list: status, job, start, duration, tasks."""
    try:
        with RunReader(run_dir) as r:
            meta = r.meta()
            done = sum(r.task_counts().values())
    except StoreError as exc:
        return {"id": run_id, "status": "unreadable", "error": str(exc)}
    started = meta.get("started")
    status = run_liveness(run_dir, meta)
    end = meta.get("finished") or (time.time() if status == "running" else None)
    job = meta.get("job") or {}
    return {"id": run_id, "name": _name(meta, run_id), "kind": job.get("kind"),
            "status": status, "started": started, "finished": meta.get("finished"),
            "duration": (end - started) if started and end else None,
            "tasks": done, "total": _total(meta), "job_file": meta.get("job_file")}


def status(run_id: str, run_dir: str, now: Optional[float] = None) -> Dict[str, Any]:
    """What the overview shows: status, progress, throughput, ETA, best, alerts."""
    now = time.time() if now is None else now
    with RunReader(run_dir) as r:
        meta = r.meta()
        by_status = r.task_counts()
        attempts = r.attempts()
        last_seq = r.last_seq()
        recent_window = 30.0
        recent = r.ended_since(now - recent_window)
        job = meta.get("job") or {}
        goal = job.get("goal", "min")
        best = r.best(1, goal) if job.get("kind") == "optimize" else []
        nodes = r.nodes()
        samples = r.samples_by_node()
        netbench = r.netbench()
    st = run_liveness(run_dir, meta)
    done = sum(by_status.values())
    ok = by_status.get("ok", 0)
    total = _total(meta)
    started = meta.get("started")
    end = meta.get("finished") or now
    elapsed = (end - started) if started else None
    summary = meta.get("summary") or {}
    rate = summary.get("tasks_per_second") if st != "running" else (
        done / elapsed if elapsed and elapsed > 0 else None)
    running = st == "running"
    recent_rate = recent / min(recent_window, elapsed or recent_window) if running else None
    pace = recent_rate or rate
    eta = ((total - done) / pace if running and total and pace and done < total else None)
    alerts = run_alerts(meta, nodes, samples, netbench, done, done - ok, now)
    return {
        "api": API_VERSION, "id": run_id, "name": _name(meta, run_id),
        "kind": job.get("kind"), "status": st, "job_file": meta.get("job_file"),
        "started": started, "finished": meta.get("finished"), "elapsed": elapsed,
        "now": now, "done": done, "ok": ok, "failed": done - ok, "total": total,
        "attempts": attempts, "last_seq": last_seq,
        "tasks_per_second": _num(rate), "recent_tasks_per_second": _num(recent_rate),
        "eta_seconds": eta, "goal": goal if job.get("kind") == "optimize" else None,
        "best": ({"task": best[0].task, "params": _cells(best[0].params, "item"),
                  "value": _num(best[0].value)} if best else None),
        "stop_requested": os.path.exists(os.path.join(run_dir, "STOP")),
        "stopped": summary.get("stopped"),
        "ranks": meta.get("ranks"), "workers": meta.get("workers"),
        "mpi": meta.get("mpi"), "hosts": len(meta.get("nodes") or []) or len(nodes),
        "lost_workers": summary.get("lost_workers") or {},
        "job_summary": summary.get("job_summary"),
        "alerts": [{"level": lvl, "text": text} for lvl, text in alerts],
    }


def _cells(value: Any, prefix: str) -> Dict[str, Any]:
    return {bare(c): cell(v) for c, v in fields(value, prefix, ".", lambda v: v)}


def _row(r) -> Dict[str, Any]:
    return {"seq": r.seq, "task": r.task, "attempt": r.attempt, "status": r.status,
            "inputs": _cells(r.params, "item"),
            "outputs": _cells(r.result, "result") if r.ok else {},
            "value": _num(r.value), "error": r.error_line or None, "worker": r.worker,
            "node": r.node, "t_start": r.t_start, "t_end": r.t_end,
            "seconds": _num(r.seconds)}


def _limit(limit: Optional[int], default: int = 100) -> int:
    return max(1, min(MAX_LIMIT, default if limit is None else int(limit)))


def results(run_dir: str, after: int = 0, limit: Optional[int] = None,
            status_: Optional[str] = None) -> Dict[str, Any]:
    """Attempts with ``seq > after`` in commit order (a follower's cursor)."""
    with RunReader(run_dir) as r:
        rows = r.results(after=after, status=status_, limit=_limit(limit))
        last = r.last_seq()
    return {"after": after, "results": [_row(x) for x in rows],
            "next_after": rows[-1].seq if rows else after, "last_seq": last}


def table(run_dir: str, page: int = 0, size: int = 50, sort: str = "task",
          descending: bool = False, status_: Optional[str] = None) -> Dict[str, Any]:
    """One page of the tasks' final attempts, sorted and filtered."""
    size = _limit(size, 50)
    with RunReader(run_dir) as r:
        n, rows = r.final_page(page * size, size, sort, descending, status_)
    return {"total": n, "page": page, "size": size, "sort": sort,
            "descending": descending, "status": status_, "rows": [_row(x) for x in rows]}


def nodes(run_dir: str, now: Optional[float] = None) -> Dict[str, Any]:
    """One row per node and a short history of each (the last ten minutes)."""
    now = time.time() if now is None else now
    with RunReader(run_dir) as r:
        meta = r.meta()
        infos = r.nodes()
        samples = r.samples_by_node()
        netbench = r.netbench()
        per_node = r.attempts_by_node()
    meta = dict(meta, status=run_liveness(run_dir, meta))
    views = node_views(meta, infos, samples, netbench, per_node, now)
    for v in views:
        v["history"] = _history(samples.get(v["node"], []))
    return {"nodes": views, "stale_after": stale_after(meta), "now": now}


def _history(samples: List[Dict[str, Any]]) -> Dict[str, list]:
    if not samples:
        return {"t": [], "cpu_temp_c": [], "load_pct": [], "mem_percent": []}
    t_end = samples[-1]["t"]
    recent = [s for s in samples if s["t"] >= t_end - HISTORY_SECONDS]
    every = max(1, -(-len(recent) // HISTORY_POINTS))
    picked = recent[::every]
    if picked[-1] is not recent[-1]:
        picked.append(recent[-1])
    return {"t": [s["t"] for s in picked],
            "cpu_temp_c": [s.get("cpu_temp_c") for s in picked],
            "load_pct": [round(100.0 * s["load1"] / s["cores"], 1)
                         if s.get("load1") is not None and s.get("cores") else None
                         for s in picked],
            "mem_percent": [s.get("mem_percent") for s in picked]}


def samples(run_dir: str, since: Optional[float] = None, node: Optional[str] = None,
            limit: Optional[int] = None) -> Dict[str, Any]:
    """Health samples after time ``since`` (all of them without), oldest first."""
    with RunReader(run_dir) as r:
        rows = r.samples(node=node, since=since)
    rows = rows[:_limit(limit, MAX_LIMIT)]
    return {"since": since, "samples": [dict(s.data, node=s.node, t=s.t) for s in rows],
            "next_since": rows[-1].t if rows else since}


def failures(run_dir: str, limit: Optional[int] = None) -> Dict[str, Any]:
    """Tasks whose final attempt failed, with their tracebacks."""
    with RunReader(run_dir) as r:
        rows = r.failures(limit=_limit(limit, MAX_FAILURES))
        counts = r.task_counts()
        attempts = r.counts()
    return {"failed_tasks": sum(n for s, n in counts.items() if s != "ok"),
            "failed_attempts": sum(n for s, n in attempts.items() if s != "ok"),
            "failures": [dict(_row(x), traceback=x.error) for x in rows]}


def optimization(run_dir: str) -> Dict[str, Any]:
    """Best so far against evaluations (the steps only), the best and the top ten."""
    with RunReader(run_dir) as r:
        meta = r.meta()
        job = meta.get("job") or {}
        if job.get("kind") != "optimize":
            return {"kind": job.get("kind"), "steps": [], "top": [], "evaluations": 0}
        goal = job.get("goal", "min")
        cols = r.values()
        top = r.best(TOP, goal)
    sign = -1.0 if goal == "max" else 1.0
    best = math.inf
    evals, values = [], []
    for i, (st, v) in enumerate(zip(cols["status"], cols["value"]), 1):
        if st == "ok" and v is not None and math.isfinite(v) and sign * v < best:
            best = sign * v
            evals.append(i)
            values.append(v)
    n = len(cols["status"])
    if evals and evals[-1] != n:  # the curve runs on to the last evaluation
        evals.append(n)
        values.append(values[-1])
    if len(evals) > MAX_STEPS:  # keep the first and the last improvements
        keep = list(range(MAX_STEPS // 2)) + list(range(len(evals) - MAX_STEPS // 2,
                                                        len(evals)))
        evals, values = [evals[i] for i in keep], [values[i] for i in keep]
    return {"kind": "optimize", "goal": goal, "evaluations": n,
            "space": job.get("space"), "steps": {"evaluation": evals, "best": values},
            "top": [_row(x) for x in top]}


def network(run_dir: str) -> Dict[str, Any]:
    """The start-up benchmark's figures and the pair matrix (p50/p99 µs)."""
    with RunReader(run_dir) as r:
        figs = r.netbench()
        pairs = r.pairs()
    return {"figures": [{k: _num(v) for k, v in f._asdict().items()} for f in figs],
            "pairs": [{k: _num(v) for k, v in p._asdict().items()} for p in pairs]}
