"""The dashboard's JSON: plain functions from a run directory to dicts, read through
the store's read-only :class:`~parc_mpi.store.RunReader` (one short read per call, so
a run's writer is never held back). No HTTP here: :mod:`.server` routes requests to
these, and the tests call them directly. Field names are the API's contract
(docs/dashboard.md)."""
from __future__ import annotations

import math
import os
import threading
import time
from collections import Counter, deque
from typing import Any, Deque, Dict, List, Optional, Sequence, Tuple

from ..monitor.alerts import NodeHealth
from ..monitor.nodeview import node_views, run_alerts, stale_after
from ..eta import eta_seconds
from ..store.load import liveness
from ..store import RunReader, StoreError
from ..store.export import _scalar, bare, fields
from ..store.frame import ResultFrame
from .views import THUMB, thumb
from ..store.schema import STOP_FILE

API_VERSION = 1
MAX_LIMIT = 1000          # results per request
HISTORY_SECONDS = 600     # the per-node history the nodes call returns
HISTORY_POINTS = 120      # ... at most this many points per node
MAX_CELL = 200            # characters of one table cell
MAX_FAILURES = 50
TOP = 10
MAX_STEPS = 2000          # points of the best-so-far curve


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
    """The run's status word (store.load.liveness: crashed when its process is gone)."""
    return liveness(run_dir, meta)


def _total(meta: Dict[str, Any]) -> Optional[int]:
    job = meta.get("job") or {}
    if job.get("kind") == "optimize":   # with repeats= the best points' again too
        budget = meta.get("budget_extended") or job.get("budget")
        repeated = ((meta.get("summary") or {}).get("best") or {}).get("repeats")
        if budget and job.get("repeats"):
            budget += repeated if repeated is not None else \
                job["repeats"] * job.get("repeat_top", 3)
        return budget
    return job.get("total") or job.get("max_tasks")


def _name(meta: Dict[str, Any], run_id: str) -> str:
    return meta.get("name") or run_id


class Tracker:
    """One run followed incrementally: each call folds only the results and health
    samples committed since the last one (a rowid range), so a poll costs the same on
    a store of 100 results or 1,000,000, and the server holds counters, not rows.

    Final-attempt counts need no per-task table: a task is tried again only after an
    attempt that did not succeed, so only the tasks whose latest attempt failed are
    remembered."""

    RECENT = 30.0      # seconds of the recent throughput
    BATCH = 50_000     # rows per read

    def __init__(self, run_dir: str):
        self.run_dir = run_dir
        self.lock = threading.Lock()
        self._reset()

    def _reset(self) -> None:
        self.seq = 0
        self.attempts = 0
        self.final: Counter = Counter()           # final attempts by status
        self.not_ok: Dict[int, str] = {}          # task -> status of its failed attempt
        self.by_node: Counter = Counter()         # attempts by node
        self.busy: Counter = Counter()            # task seconds by node
        self.workers: Dict[str, set] = {}         # worker ranks seen on each node
        self.per_second: Dict[int, int] = {}      # attempts ended, by whole second
        self.best: Optional[Tuple[float, int]] = None  # (signed value, seq)
        self.goal: Optional[str] = None
        self.row = 0
        self.health: Dict[str, NodeHealth] = {}
        self.history: Dict[str, Deque[tuple]] = {}
        self.infos: Dict[str, Any] = {}           # the nodes table, as last read
        self.last_end: Optional[float] = None     # when the last attempt ended
        self.live: Optional[Dict[str, Any]] = None   # a running run's verdict so far ...
        self.live_at = 0.0                           # ... and when it was made
        self.first_start: Optional[float] = None  # when the first task began (the ETA's
        #                                           measure starts there, not at start-up)

    def update(self, r: RunReader, meta: Dict[str, Any]) -> None:
        """Fold what was committed since the last call (the caller's reader)."""
        goal = (meta.get("job") or {}).get("goal", "min")
        with self.lock:
            if goal != self.goal or r.last_seq() < self.seq:  # a new or replaced store
                self._reset()
                self.goal = goal
            sign = -1.0 if goal == "max" else 1.0
            while True:
                rows = r.tail(self.seq, self.BATCH)
                for seq, task, attempt, status, value, node, worker, t0, t_end in rows:
                    self.attempts += 1
                    self.by_node[node] += 1
                    if t0 is not None and t_end is not None:
                        self.busy[node] += t_end - t0
                        if self.first_start is None or t0 < self.first_start:
                            self.first_start = t0
                        self.workers.setdefault(node, set()).add(worker)
                    if attempt and task in self.not_ok:
                        self.final[self.not_ok.pop(task)] -= 1
                    self.final[status] += 1
                    if status != "ok":
                        self.not_ok[task] = status
                    elif value is not None and math.isfinite(value) and (
                            self.best is None or sign * value < self.best[0]):
                        self.best = (sign * value, seq)
                    if t_end is not None:
                        if self.last_end is None or t_end > self.last_end:
                            self.last_end = t_end
                        sec = int(t_end)
                        self.per_second[sec] = self.per_second.get(sec, 0) + 1
                if rows:
                    self.seq = rows[-1][0]
                if len(rows) < self.BATCH:
                    break
            if len(self.per_second) > 2 * self.RECENT:
                cut = max(self.per_second) - self.RECENT - 2
                self.per_second = {k: v for k, v in self.per_second.items() if k >= cut}
            infos = self.infos = r.nodes()
            for node, info in infos.items():
                h = self.health.get(node)
                if h is not None and h.baseline != info.baseline_throttled and h.n:
                    self.row = 0  # the node's start state came late: fold it again
                    self.health, self.history = {}, {}
                    break
            while True:
                got = r.samples_after(self.row, self.BATCH)
                for row, smp in got:
                    info = infos.get(smp.node)
                    h = self.health.get(smp.node)
                    if h is None:
                        h = self.health[smp.node] = NodeHealth(
                            info.baseline_throttled if info else None)
                    h.add(smp.data)
                    d = smp.data
                    load = (round(100.0 * d["load1"] / d["cores"], 1)
                            if d.get("load1") is not None and d.get("cores") else None)
                    self.history.setdefault(smp.node, deque(maxlen=4000)).append(
                        (smp.t, d.get("cpu_temp_c"), load, d.get("mem_percent")))
                if got:
                    self.row = got[-1][0]
                if len(got) < self.BATCH:
                    break

    def ended_since(self, t: float) -> int:
        with self.lock:
            return sum(n for sec, n in self.per_second.items() if sec >= t)

    def best_result(self, r: RunReader):
        seq = self.best[1] if self.best else None
        if seq is None:
            return None
        rows = r.results(after=seq - 1, limit=1)
        return rows[0] if rows else None

    def done(self) -> Tuple[int, int]:
        """(tasks with a final attempt, of which ok)."""
        with self.lock:
            return sum(self.final.values()), self.final.get("ok", 0)


def run_summary(run_id: str, run_dir: str, tracker: Optional[Tracker] = None
                ) -> Dict[str, Any]:
    """One line of the runs list: status, job, start, duration, tasks."""
    tracker = tracker or Tracker(run_dir)
    try:
        with RunReader(run_dir) as r:
            meta = r.meta()
            tracker.update(r, meta)
    except StoreError as exc:
        return {"id": run_id, "status": "unreadable", "error": str(exc)}
    done = tracker.done()[0]
    started = meta.get("started")
    status = run_liveness(run_dir, meta)
    end = _end(meta, status, tracker, time.time())
    job = meta.get("job") or {}
    return {"id": run_id, "name": _name(meta, run_id), "kind": job.get("kind"),
            "status": status, "started": started, "finished": meta.get("finished"),
            "duration": (end - started) if started and end else None,
            "tasks": done, "total": _total(meta), "job_file": meta.get("job_file")}


def _end(meta: Dict[str, Any], status: str, tracker: Tracker, now: float
         ) -> Optional[float]:
    """When the run's current session ended: now while it runs; its last result when
    it crashed (a finish time in meta is an earlier session's); else its finish."""
    started = meta.get("started") or 0.0
    if status in ("running", "starting"):
        return now
    if status == "crashed":
        return max(started, tracker.last_end or started)
    finished = meta.get("finished")
    return finished if finished and finished >= started else None


def status(run_id: str, run_dir: str, now: Optional[float] = None,
           tracker: Optional[Tracker] = None) -> Dict[str, Any]:
    """What the overview shows: status, progress, throughput, ETA, best, alerts."""
    now = time.time() if now is None else now
    tracker = tracker or Tracker(run_dir)
    recent_window = Tracker.RECENT
    with RunReader(run_dir) as r:
        meta = r.meta()
        tracker.update(r, meta)
        job = meta.get("job") or {}
        goal = job.get("goal", "min")
        best = tracker.best_result(r) if job.get("kind") == "optimize" else None
        netbench = r.netbench()
    nodes = tracker.infos
    recent = tracker.ended_since(now - recent_window)
    attempts, last_seq = tracker.attempts, tracker.seq
    st = run_liveness(run_dir, meta)
    done, ok = tracker.done()
    total = _total(meta)
    started = meta.get("started")
    elapsed = (_end(meta, st, tracker, now) - started) if started else None
    summary = meta.get("summary") or {}
    rate = summary.get("tasks_per_second") if st != "running" else (
        done / elapsed if elapsed and elapsed > 0 else None)
    running = st == "running"
    # throughput and ETA from the first task on: start-up (the network benchmark) has none
    measured = max(0.0, now - tracker.first_start) if tracker.first_start else 0.0
    recent_rate = (recent / min(recent_window, measured) if running and measured > 0
                   else None)
    pace = recent_rate or rate
    workers = sum(len(w) for w in tracker.workers.values())
    eta = eta_seconds(done, total, pace, workers, measured) if running else None
    with tracker.lock:
        alerts = run_alerts(meta, nodes, tracker.health, netbench, done, done - ok, now)
    return {
        "api": API_VERSION, "id": run_id, "name": _name(meta, run_id),
        "kind": job.get("kind"), "status": st, "job_file": meta.get("job_file"),
        "started": started, "finished": meta.get("finished"), "elapsed": elapsed,
        "now": now, "done": done, "ok": ok, "failed": done - ok, "total": total,
        "attempts": attempts, "last_seq": last_seq,
        "tasks_per_second": _num(rate), "recent_tasks_per_second": _num(recent_rate),
        "eta_seconds": eta, "goal": goal if job.get("kind") == "optimize" else None,
        "best": _best(best, summary.get("best"), job),
        "stop_requested": os.path.exists(os.path.join(run_dir, STOP_FILE)),
        # this session's: a resumed run that crashed does not show an earlier stop
        "stopped": summary.get("stopped") if st == "stopped" else None,
        "ranks": meta.get("ranks"), "workers": meta.get("workers"),
        "mpi": meta.get("mpi"), "hosts": len(meta.get("nodes") or []) or len(nodes),
        "lost_workers": summary.get("lost_workers") or {},
        "job_summary": summary.get("job_summary"),
        "verdict": (meta.get("verdict") or {}).get("text"),
        "verdict_so_far": _so_far(run_dir, tracker, now) if running else None,
        "alerts": [{"level": lvl, "text": text} for lvl, text in alerts],
    }


LIVE_EVERY = 15.0   # seconds between a running run's verdicts so far


def _so_far(run_dir: str, tracker: Tracker, now: float) -> Optional[str]:
    """What limits a running run so far (analysis.live_verdict), made at most every
    LIVE_EVERY seconds; None until it can be trusted."""
    if now - tracker.live_at >= LIVE_EVERY:
        from ..analysis import live_verdict
        tracker.live_at = now
        try:
            tracker.live = live_verdict(run_dir, now=now)
        except StoreError:
            pass
    return (tracker.live or {}).get("text")


def _best(best, final: Optional[Dict[str, Any]], job: Dict[str, Any]):
    """The overview's best: the best value told; with noisy values (``noise=``) the
    estimate the run ended with, or while it runs the best value told, marked as a
    sample (the estimate is made at the end)."""
    if final and "method" in final:
        return {"task": final.get("task"), "params": _cells(final["params"], "item"),
                "value": _num(final["value"]), "sd": _num(final.get("sd")),
                "n": final.get("n"), "method": final["method"],
                "sample": _num(final.get("sample"))}
    if not best:
        return None
    out = {"task": best.task, "params": _cells(best.params, "item"), "value": _num(best.value)}
    if job.get("noise") is not None:
        out["method"] = "lowest value told so far (noisy: the estimate is made at the end)" \
            if job.get("goal", "min") == "min" else \
            "highest value told so far (noisy: the estimate is made at the end)"
    return out


def _cells(value: Any, prefix: str, pictures: bool = False, side: int = 0
           ) -> Dict[str, Any]:
    out = {}
    for c, v in fields(value, prefix, ".", lambda v: v):
        pic = thumb(v, side or THUMB) if pictures else None
        out[bare(c)] = pic if pic is not None else cell(v)
    return out


def _row(r, pictures: bool = False, side: int = 0) -> Dict[str, Any]:
    return {"seq": r.seq, "task": r.task, "attempt": r.attempt, "status": r.status,
            "inputs": _cells(r.params, "item", pictures, side),
            "outputs": _cells(r.result, "result", pictures, side) if r.ok else {},
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
          descending: bool = False, status_: Optional[str] = None,
          filter_: Sequence[str] = (), frame: Optional[ResultFrame] = None
          ) -> Dict[str, Any]:
    """One page of the tasks' final attempts, sorted by any column (a parameter, a
    result field, or task, status, attempts, value, seconds, node, worker) and
    filtered by clauses such as ``alpha>0.5`` or ``node=pi2`` (store.frame). Array
    results come with a small picture of themselves (views.thumb)."""
    size = _limit(size, 50)
    frame = frame or ResultFrame()
    clauses = list(filter_) + ([f"status={status_}"] if status_ else [])
    with RunReader(run_dir) as r:
        frame.fold(r)
        with frame.lock:
            mask = frame.mask(clauses) if clauses else None
            order = frame.order(sort, descending, mask)
            n = len(order)
            seqs = frame.seqs_of(order[page * size:(page + 1) * size])
            columns = frame.described()
        got = {x.seq: x for x in r.results_by_seq(seqs)}
    rows = [_row(got[q], pictures=True) for q in seqs if q in got]
    return {"total": n, "tasks": frame.rows, "page": page, "size": size, "sort": sort,
            "descending": descending, "status": status_, "filter": clauses,
            "columns": columns, "rows": rows}


def table_rows(run_dir: str, sort: str = "task", descending: bool = False,
               filter_: Sequence[str] = (), frame: Optional[ResultFrame] = None):
    """(reader-free) the final attempts a filtered, sorted table holds, in its order,
    a chunk at a time: what its CSV download writes."""
    frame = frame or ResultFrame()
    with RunReader(run_dir) as r:
        frame.fold(r)
        with frame.lock:
            order = frame.order(sort, descending, frame.mask(filter_) if filter_ else None)
            seqs = frame.seqs_of(order)
    for i in range(0, len(seqs), 5000):
        part = seqs[i:i + 5000]
        with RunReader(run_dir) as r:
            got = {x.seq: x for x in r.results_by_seq(part)}
        yield [got[q] for q in part if q in got]


class NotFound(LookupError):
    """A thing the URL names is not in the run (404, with this one line)."""


def task_detail(run_dir: str, task: int) -> Dict[str, Any]:
    """Every attempt of one task, its arguments and result with arrays drawn larger
    (views.DETAIL a side), and the traceback of each failed attempt."""
    from .views import DETAIL
    with RunReader(run_dir) as r:
        attempts = r.attempts_of(task)
    if not attempts:
        raise NotFound(f"no task {task} in this run")
    return {"task": int(task), "attempts": [
        dict(_row(a, pictures=True, side=DETAIL), traceback=a.error) for a in attempts]}


def nodes(run_dir: str, now: Optional[float] = None,
          tracker: Optional[Tracker] = None) -> Dict[str, Any]:
    """One row per node and a short history of each (the last ten minutes)."""
    now = time.time() if now is None else now
    tracker = tracker or Tracker(run_dir)
    with RunReader(run_dir) as r:
        meta = r.meta()
        tracker.update(r, meta)
        netbench = r.netbench()
    infos = tracker.infos
    meta = dict(meta, status=run_liveness(run_dir, meta))
    with tracker.lock:
        busy = None
        started = meta.get("started")
        if started and now > started:  # while it runs: task seconds over worker seconds
            busy = {n: min(100.0, 100.0 * s / (len(tracker.workers[n]) * (now - started)))
                    for n, s in tracker.busy.items() if tracker.workers.get(n)}
        views = node_views(meta, infos, tracker.health, netbench, tracker.by_node, now,
                           busy)
        for v in views:
            v["history"] = _history(tracker.history.get(v["node"], ()))
    return {"nodes": views, "stale_after": stale_after(meta), "now": now}


def _history(points) -> Dict[str, list]:
    """The last HISTORY_SECONDS of (t, CPU °C, load %, memory %), at most
    HISTORY_POINTS of them."""
    if not points:
        return {"t": [], "cpu_temp_c": [], "load_pct": [], "mem_percent": []}
    t_end = points[-1][0]
    recent = [p for p in points if p[0] >= t_end - HISTORY_SECONDS]
    every = max(1, -(-len(recent) // HISTORY_POINTS))
    picked = recent[::every]
    if picked[-1] is not recent[-1]:
        picked.append(recent[-1])
    t, temp, load, mem = (list(c) for c in zip(*picked))
    return {"t": t, "cpu_temp_c": temp, "load_pct": load, "mem_percent": mem}


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
    """Best so far against evaluations (the steps only), the best and the top ten;
    with several objectives the front, every evaluation's objectives (at most
    MAX_POINTS) and hypervolume against evaluations; with constraints the feasible
    counts; with progress reports the first MAX_CURVES curves, pruned ones flagged."""
    from ..store.optimization import front_params, records, summarize
    with RunReader(run_dir) as r:
        meta = r.meta()
        job = meta.get("job") or {}
        if job.get("kind") != "optimize":
            return {"kind": job.get("kind"), "steps": [], "top": [], "evaluations": 0}
        goal = job.get("goal", "min")
        cols = r.values()
        top = r.best(TOP, goal)
        evs = records(r, job)
        opt = summarize(r, job, evaluations=evs)
        front_params(r, opt.get("front", [])[:MAX_FRONT])
        curves = r.curves(limit=MAX_CURVES)
    pruned = {e[1]: e[5] for e in evs or ()} if curves else {}
    extra = _optimization_extra(opt, evs if len(opt["objectives"]) > 1 else [], curves,
                                pruned)
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
            "top": [_row(x) for x in top], **extra}


MAX_FRONT = 200     # front points sent with their parameters
MAX_POINTS = 5000   # evaluations sent for the scatter or parallel coordinates
MAX_CURVES = 100    # progress curves sent


def _optimization_extra(opt: Dict[str, Any], evs: List[tuple], curves: Dict[int, list],
                        pruned: Dict[int, bool]) -> Dict[str, Any]:
    out: Dict[str, Any] = {k: opt.get(k) for k in (
        "objectives", "constrained", "feasible", "first_feasible", "pruned", "hypervolume",
        "hypervolume_exact", "reference", "reference_source")}
    if len(opt["objectives"]) > 1:
        front = opt.get("front") or []
        on_front = {p["task"] for p in front}
        pts = evs[-MAX_POINTS:]
        out.update(
            front=[{"task": p["task"], "inputs": p.get("params"), "values": p["values"]}
                   for p in front[:MAX_FRONT]],
            front_size=len(front),
            hypervolume_history=opt.get("hypervolume_history") or [],
            points={"values": [[_num(v) for v in e[2]] for e in pts],
                    "feasible": [e[4] == 0 and not e[5] for e in pts],
                    "front": [e[1] in on_front for e in pts]})
    out["curves"] = [{"task": t, "pruned": bool(pruned.get(t)),
                      "step": [s for s, _ in c], "value": [_num(v) for _, v in c]}
                     for t, c in curves.items()]
    return out


def network(run_dir: str) -> Dict[str, Any]:
    """The start-up benchmark's figures and the pair matrix (p50/p99 µs)."""
    from ..netkeep import describe
    with RunReader(run_dir) as r:
        figs = r.netbench()
        pairs = r.pairs()
        meta = r.meta()
        source = describe(meta.get("netbench"))
        loaded = _loaded_while_measured(r, meta) if figs or pairs else {}
    return {"source": source, "loaded": loaded,
            "figures": [{k: _num(v) for k, v in f._asdict().items()} for f in figs],
            "pairs": [{k: _num(v) for k, v in p._asdict().items()} for p in pairs]}


def _loaded_while_measured(r: RunReader, meta: Dict[str, Any]) -> Dict[str, Dict[str, Any]]:
    """The nodes whose load was above their cores while this run measured the network
    (from the run's start to its first task): their figures include waiting for a
    core, not only the wire. Figures kept from an earlier run are not judged."""
    if (meta.get("netbench") or {}).get("source") == "kept" or not meta.get("started"):
        return {}
    first = r.first_start()
    out: Dict[str, Dict[str, Any]] = {}
    for s in r.samples(since=meta["started"] - 1, until=first):   # not the whole run's
        load, cores = s.data.get("load1"), s.data.get("cores")
        if load is not None and cores and load > cores:
            worst = out.get(s.node)
            if worst is None or load > worst["load1"]:
                out[s.node] = {"load1": round(load, 2), "cores": cores}
    return out
