"""What limited a run, read from its store: the figures and a verdict (no MPI).

The run's wall time splits into start-up (``started`` to the first task's start),
compute (to the last result) and the end (to ``finished``). During compute each
worker is busy (an attempt that ended ok), lost (an attempt that failed, timed out
or whose process died) or idle (waiting for work: the scheduler, the tail, a start
or an end of its own). Per node and per worker, the median time of a successful task
against the fastest's, beside the node's throttle samples and temperatures. The tail
is the time from the last task started to the last result. The scheduler's share is
rank 0's CPU over the compute time; an optimization's, the time rank 0 spent in the
optimizer's asks and tells (``summary["optimizer_seconds"]``, two clock reads per
call).

:func:`verdict` turns the figures into one or two sentences naming the limit with
its evidence, what would change it, and a "what if" time where one can be estimated
(the compute time were the named limit gone); on a clean run it says nothing stands
out. docs/report.md explains each rule. Map jobs have comparable tasks; for other
kinds the node comparison is skipped (their tasks differ by design).
"""
from __future__ import annotations

import statistics
import time
from typing import Any, Dict, List, Optional

from .store import RunReader

THROTTLED_NOW = 0xE       # get_throttled: ARM capped, throttled, soft temperature limit now
SLOW = 1.3                # a node (worker) this many times the fastest's median is slow
MIN_TASKS = 5             # tasks a node needs before its median counts
WORTH = 0.10              # a limit is named when removing it would save this share
MIN_COMPUTE = 0.5         # seconds of compute below which no limit is weighed


def analyse(run_dir: str, now: Optional[float] = None,
            summary: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    """The figures a verdict rests on, as a JSON-able dict (see the module's doc).
    ``summary``: the run's summary when the store does not hold it yet (at the end).
    Read as SQL aggregates (``RunReader.timing``) and a sample for the medians."""
    with RunReader(run_dir) as r:
        meta = r.meta()
        t = r.timing()
        samples = r.samples_by_node()
        links: Dict[str, float] = {}   # node -> its best measured download (node -> main)
        for f in r.netbench():
            if f.kind == "download" and f.mbps and "same node" not in f.node:
                links[f.node] = max(links.get(f.node, 0.0), f.mbps)
    summary = summary if summary is not None else (meta.get("summary") or {})
    job = meta.get("job") or {}
    groups = t["groups"]   # (worker, node, ok, n, seconds, first, last start, last end, max)
    out: Dict[str, Any] = {"kind": job.get("kind"), "tasks": sum(g[3] for g in groups)}
    if not groups:
        return out
    started = meta.get("started") or min(g[5] for g in groups)
    first = min(g[5] for g in groups)
    last = max(g[7] for g in groups)
    finished = meta.get("finished") or (now if now is not None else time.time())
    compute = max(last - first, 1e-9)
    workers = sorted({g[0] for g in groups})
    busy = sum(g[4] for g in groups if g[2])
    lost = sum(g[4] for g in groups if not g[2])
    ok = sum(g[3] for g in groups if g[2]) or 1
    available = len(workers) * compute
    out.update(
        wall={"first": first, "startup": max(0.0, first - started), "compute": compute,
              "end": max(0.0, finished - last), "total": max(0.0, finished - started)},
        workers=len(workers),
        share={"busy": busy / available, "lost": lost / available,
               "idle": max(0.0, 1.0 - (busy + lost) / available)},
        attempts_failed=sum(g[3] for g in groups if not g[2]),
        longest=max(g[8] for g in groups))
    ends: Dict[str, float] = {}
    for g in groups:
        ends[str(g[0])] = max(ends.get(str(g[0]), first), g[7])
    gone = {str(w) for w in (summary.get("lost_workers") or {})}
    out["tail"] = _tail(t, groups, ends, last, compute, len(workers), gone)
    out["nodes"] = _groups(groups, t["sample"], 1, samples)
    out["by_worker"] = _groups(groups, t["sample"], 0, {})
    for w, st in (summary.get("workers") or {}).items():   # results' bytes, per node
        g = out["nodes"].get(str(st.get("node")))
        if g is not None and st.get("bytes_in"):
            g["bytes_in"] = g.get("bytes_in", 0) + int(st["bytes_in"])
    for name, mbps in links.items():
        if name in out["nodes"]:
            out["nodes"][name]["download_mbps"] = mbps
    cpu = summary.get("main_cpu_seconds")
    if cpu is not None:
        out["scheduler"] = {"busy": min(1.0, cpu / compute),
                            "ms_per_task": 1e3 * cpu / out["tasks"], "task_ms": 1e3 * busy / ok}
    if summary.get("lost_workers"):
        # "last": its last result, from when its work was missing (the loss is noticed
        # a heartbeat timeout later, "at")
        out["lost"] = {w: {"node": v.get("node"), "at": v.get("at"),
                           "last": ends.get(str(w), first),
                           "requeued": v.get("tasks_requeued")}
                       for w, v in summary["lost_workers"].items()}
    if summary.get("optimizer_seconds") is not None:
        opt = float(summary["optimizer_seconds"])
        out["optimizer"] = {"seconds": opt, "share": min(1.0, opt / compute),
                            "ms_per_task": 1e3 * opt / out["tasks"], "task_ms": 1e3 * busy / ok}
    return out


def _tail(t: Dict[str, Any], groups: List[tuple], ends: Dict[str, float], last: float,
          compute: float, workers: int, gone: set) -> Dict[str, Any]:
    """From the last start to the last result: how long, which tasks ran in it, and
    the worker-time idle in it (workers whose last task had ended; not the ones
    ``gone``, lost: they were not idle, they were not there)."""
    last_start = max(g[6] for g in groups)
    idle = sum(last - e for w, e in ends.items() if w not in gone)
    running = [row for row in t["tail"] if row[3] > last_start]
    before = t["before_last"] if t["before_last"] is not None else last
    return {"seconds": last - last_start, "idle_share": idle / (workers * compute),
            "tasks": [row[0] for row in running[:5]], "last_task": t["tail"][0][0],
            "alone_seconds": max(0.0, last - before)}


def _groups(groups: List[tuple], sample: List[tuple], key: int,
            samples: Dict[str, List[dict]]) -> Dict[str, Any]:
    """Per node (``key`` 1) or worker (0): tasks, workers, busy seconds, the median of
    its successful tasks' seconds (from the sample) and its ratio to the fastest such
    median; for nodes, the share of health samples taken while throttled, the hottest
    temperature and the lowest ARM clock."""
    out: Dict[str, Any] = {}
    for g in groups:
        d = out.setdefault(str(g[key]), {"tasks": 0, "busy": 0.0, "ranks": set()})
        d["tasks"] += g[3]
        d["ranks"].add(g[0])
        if g[2]:
            d["busy"] += g[4]
    seconds: Dict[str, List[float]] = {}
    for row in sample:
        seconds.setdefault(str(row[key]), []).append(row[2])
    medians = {k: statistics.median(v) for k, v in seconds.items() if len(v) >= MIN_TASKS}
    fastest = min(medians.values()) if medians else None
    for k, d in out.items():
        d["workers"] = len(d.pop("ranks"))
        d["median"] = medians.get(k)
        d["ratio"] = (medians[k] / fastest if k in medians and fastest and fastest > 0
                      else None)
        s = samples.get(k) or []
        masks = [v.get("throttled") for v in s if v.get("throttled") is not None]
        temps = [x for v in s for x in (v.get("cpu_temp_c"), v.get("gpu_temp_c"))
                 if x is not None]   # the kernel's sensor, or a Pi's firmware
        mhz = [v.get("arm_mhz") for v in s if v.get("arm_mhz") is not None]
        if masks:
            d["throttled_share"] = sum(1 for m in masks if m & THROTTLED_NOW) / len(masks)
        if temps:
            d["max_temp_c"] = max(temps)
        if mhz:
            d["min_arm_mhz"] = min(mhz)
    return out


def verdict(a: Dict[str, Any]) -> Optional[Dict[str, Any]]:
    """The limit the figures point to: ``{"limit", "text", "what_if"}`` (``what_if``:
    the compute seconds without it, or None), or None before any task ran. Of the
    limits found, the one whose removal would save the most is named; under
    ``WORTH`` of the compute time, none is, and the text says nothing stands out."""
    if not a.get("tasks") or "wall" not in a:
        return None
    compute, workers = a["wall"]["compute"], a["workers"]
    if compute < MIN_COMPUTE:   # start-up and the end are the run; nothing to weigh
        return {"limit": None, "what_if": None,
                "text": f"too short to say: {_dur(compute)} of compute"}
    found = [c for c in (_network(a) or _slow(a), _tail_limit(a), _optimizer(a) or
                         _scheduler(a), _lost(a), _lost_node(a)) if c]
    found = [c for c in found if c["saving"] >= WORTH * compute]
    if not found:
        busy = a["share"]["busy"]
        return {"limit": None, "what_if": None,
                "text": f"nothing stands out: the {workers} worker(s) were busy "
                        f"{busy:.0%} of the compute time ({_dur(compute)})"}
    found.sort(key=lambda c: -c["saving"])
    best = found[0]
    if best.get("estimate", True):
        what_if = compute - best["saving"]
        text = best["text"] + (f" (compute would take about {_dur(what_if)} instead of "
                               f"{_dur(compute)})")
    else:
        what_if, text = None, best["text"]
    if len(found) > 1:   # a second limit worth naming: the second sentence
        text += ". Also " + found[1]["text"]
    return {"limit": best["limit"], "text": text, "what_if": what_if,
            "also": found[1]["limit"] if len(found) > 1 else None}


def _slow(a: Dict[str, Any]) -> Optional[Dict[str, Any]]:
    """The slowest node (or worker, when every worker shares a node) by median task
    time, beside the fastest; its saving, the compute time the same tasks would take
    were its workers to finish tasks at the fastest's rate per worker."""
    if a.get("kind") != "map":
        return None
    for key, label in (("nodes", "node"), ("by_worker", "worker")):
        groups = {k: g for k, g in a[key].items() if g.get("ratio")}
        if len(groups) < 2:
            continue
        name, g = max(groups.items(), key=lambda kv: kv[1]["ratio"])
        fast = min(groups, key=lambda k: groups[k]["ratio"])
        if g["ratio"] < SLOW:
            return None
        # what if it kept the fastest's pace: its workers would finish tasks at the
        # fastest's rate per worker (its own rank and task processes were slow too, so
        # its tasks' own seconds understate what it cost); the same tasks at that rate
        tasks = sum(x["tasks"] for x in a[key].values())
        rate = tasks / a["wall"]["compute"]
        per_worker = max(x["tasks"] / x["workers"] for x in groups.values())
        rate += (g["workers"] * per_worker - g["tasks"]) / a["wall"]["compute"]
        saving = a["wall"]["compute"] - tasks / rate
        why = ""
        if g.get("throttled_share"):
            seen = ([f"{g['max_temp_c']:.0f} °C"] if g.get("max_temp_c") is not None else []) \
                + ([f"ARM {g['min_arm_mhz']:.0f} MHz"] if g.get("min_arm_mhz") else [])
            why = (f" it was throttled for {g['throttled_share']:.0%} of its samples"
                   + (f" ({', '.join(seen)})" if seen else "") + ";")
        elif g.get("max_temp_c") is not None:
            why = f" it reached {g['max_temp_c']:.0f} °C without throttling;"
        who = f"{label} {name}" if label == "node" else f"worker {name}"
        text = (f"a slow {label}: {who}'s tasks took {g['ratio']:.1f}x as long as "
                f"{label} {fast}'s (median {g['median']:.3g} s against "
                f"{groups[fast]['median']:.3g} s);{why} more cooling, a lighter load or "
                f"fewer tasks on it would help")
        return {"limit": "slow " + label, "text": text, "saving": saving}
    return None


def _network(a: Dict[str, Any]) -> Optional[Dict[str, Any]]:
    """A node whose results took a large share of its workers' time on its link (the
    bytes received from it over its measured download rate), beside the best link.
    What if: its bytes at the best link's rate, its workers' time saved spread over
    all workers. Named before a slow node: its slow link is why its workers lag."""
    compute, workers = a["wall"]["compute"], a["workers"]
    nodes = {k: g for k, g in a["nodes"].items() if g.get("bytes_in") and g.get("download_mbps")}
    if not nodes or len(a["nodes"]) < 2:   # a node's link beside another node's
        return None
    best = max(g["download_mbps"] for g in a["nodes"].values() if g.get("download_mbps"))
    worst = None
    for k, g in nodes.items():
        wire = _wire_seconds(g)
        share = wire / (max(g["workers"], 1) * compute)
        if worst is None or share > worst[2]:
            worst = (k, wire, share, g)
    if worst is None or worst[2] < WORTH:
        return None
    name, wire, share, g = worst
    if g["download_mbps"] >= 0.5 * best:
        return None   # every node's link is as slow: the network is the box's, not a node's
    saving = (wire - g["bytes_in"] / (best * 1e6)) / workers
    text = (f"the network: {name} sent {g['bytes_in'] / 1e6:.3g} MB of results over its "
            f"{g['download_mbps']:.3g} MB/s link (about {_dur(wire)} on the wire, "
            f"{share:.0%} of its workers' time; the best link measured {best:.3g} MB/s); "
            f"smaller results, or a wired link for {name}, would help")
    return {"limit": "network", "text": text, "saving": saving}


def _tail_limit(a: Dict[str, Any]) -> Optional[Dict[str, Any]]:
    """Workers idle while the last tasks ran: the work spread evenly (no task
    shorter than it is) would have ended sooner."""
    t = a["tail"]
    compute, workers = a["wall"]["compute"], a["workers"]
    if workers < 2 or t["idle_share"] < WORTH:
        return None
    even = max((a["share"]["busy"] + a["share"]["lost"]) * compute, a["longest"])
    saving = compute - even
    if saving <= 0:
        return None
    if t["alone_seconds"] > 0.5 * t["seconds"] and t["alone_seconds"] > 0:
        lead = (f"the tail: task {t['last_task']} ran {_dur(t['alone_seconds'])} after "
                f"every other task was done")
    else:
        lead = (f"the tail: {_dur(t['seconds'])} from the last task started to the last "
                f"result (tasks {', '.join(map(str, t['tasks']))})")
    text = (f"{lead}; the workers were idle {t['idle_share']:.0%} of the compute time; "
            f"split long tasks, or start them first (map(..., cost=) with each item's "
            f"cost)")
    return {"limit": "tail", "text": text, "saving": saving}


def _scheduler(a: Dict[str, Any]) -> Optional[Dict[str, Any]]:
    """Workers idle, not in the tail: each task costs more to hand out and commit
    (rank 0's CPU, messages) than to run. No "what if": how much larger tasks would
    save depends on how the work can be grouped."""
    s = a.get("scheduler")
    # a worker sending its result is not computing, nor waiting for work: the time on
    # the wire (each node's bytes over its measured link) is the network's, not this
    idle = a["share"]["idle"] - a["tail"]["idle_share"] - _wire_share(a)
    if not s or idle < 0.3 or s["task_ms"] > 20 * max(s["ms_per_task"], 1e-3):
        return None
    compute = a["wall"]["compute"]
    text = (f"the scheduler: tasks of {s['task_ms']:.2g} ms against {s['ms_per_task']:.2g} ms "
            f"of rank 0's CPU each (rank 0 busy {s['busy']:.0%} of the compute time); the "
            f"workers waited for work {idle:.0%} of it; more work per task (a batch of "
            f"items per call) would help")
    return {"limit": "scheduler", "text": text, "saving": idle * compute, "estimate": False}


def _wire_share(a: Dict[str, Any]) -> float:
    """The share of all workers' compute time their results spent on the wire, from
    each node's bytes received over its measured download rate (0 unmeasured)."""
    wire = sum(_wire_seconds(g) for g in a["nodes"].values()
               if g.get("bytes_in") and g.get("download_mbps"))
    return wire / max(a["workers"] * a["wall"]["compute"], 1e-9)


def _wire_seconds(g: Dict[str, Any]) -> float:
    """A node's results' seconds on its link: its bytes over its download rate."""
    return g["bytes_in"] / (g["download_mbps"] * 1e6)


def _optimizer(a: Dict[str, Any]) -> Optional[Dict[str, Any]]:
    """An optimization whose workers waited while rank 0 asked and told: the
    optimizer's own time is the limit (a model-based ask costs milliseconds, more
    than a quick evaluation). No "what if": a cheaper optimizer finds other points."""
    o = a.get("optimizer")
    idle = a["share"]["idle"] - a["tail"]["idle_share"] - _wire_share(a)
    if not o or idle < 0.3 or o["share"] < 0.3:
        return None
    compute = a["wall"]["compute"]
    text = (f"the optimizer: its asks and tells took {o['ms_per_task']:.2g} ms of rank 0's "
            f"time per evaluation ({o['share']:.0%} of the compute time) for evaluations of "
            f"{o['task_ms']:.2g} ms, and the workers waited {idle:.0%} of it; for an "
            f"objective this quick, a cheaper optimizer (\"cmaes\", \"random\") or more work "
            f"per evaluation would use them")
    return {"limit": "optimizer", "text": text, "saving": idle * compute, "estimate": False}


def _lost(a: Dict[str, Any]) -> Optional[Dict[str, Any]]:
    lost = a["share"]["lost"]
    if lost < WORTH:
        return None
    compute = a["wall"]["compute"]
    text = (f"failures: {a['attempts_failed']} attempt(s) failed, timed out or were "
            f"killed, {lost:.0%} of the workers' time; see the failures page")
    return {"limit": "failures", "text": text, "saving": lost * compute}


def _lost_node(a: Dict[str, Any]) -> Optional[Dict[str, Any]]:
    """Workers lost (a pulled cable, a crashed node): the other workers did their
    share from the loss on. What if: that remainder with every worker."""
    lost = a.get("lost")
    if not lost:
        return None
    compute, workers = a["wall"]["compute"], a["workers"]
    first, last = a["wall"]["first"], a["wall"]["first"] + compute
    nodes: Dict[str, List[dict]] = {}
    for v in lost.values():
        nodes.setdefault(str(v["node"]), []).append(v)
    saving = 0.0
    if workers > len(lost):
        saving = sum(max(0.0, last - v["last"]) for v in lost.values()) / workers
    name, vs = max(nodes.items(), key=lambda kv: len(kv[1]))
    at = min((v["last"] for v in vs), default=None)
    when = f" {_dur(max(0.0, at - first))} into the compute" if at is not None else ""
    requeued = sum(v.get("requeued") or 0 for v in vs)
    others = "" if len(nodes) == 1 else f" (and {len(nodes) - 1} other node(s))"
    text = (f"a lost node: {name}{others} stopped answering{when}; its {len(vs)} "
            f"worker(s)' {requeued} task(s) in hand ran again elsewhere and the others did "
            f"its share; check its cable, power and temperature")
    return {"limit": "lost node", "text": text, "saving": saving}


def _dur(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.3g} s"
    m, s = divmod(int(round(seconds)), 60)
    h, m = divmod(m, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def run_verdict(run_dir: str, summary: Optional[Dict[str, Any]] = None
                ) -> Optional[Dict[str, Any]]:
    """The verdict of a run directory (:func:`analyse` then :func:`verdict`), with
    the figures it rests on under ``figures``."""
    a = analyse(run_dir, summary=summary)
    v = verdict(a)
    if v is not None:
        v["figures"] = {k: a[k] for k in ("wall", "share", "tail", "scheduler", "optimizer",
                                          "workers") if k in a}
    return v


LIVE_MIN_COMPUTE = 10.0   # seconds of compute before a running run's verdict is shown


def live_verdict(run_dir: str, now: Optional[float] = None) -> Optional[Dict[str, Any]]:
    """What limits a running run so far, once it can be trusted: after
    LIVE_MIN_COMPUTE seconds of compute and three tasks per worker. The tail and the
    scheduler's share are judged only at the end (the tail has not happened; rank 0's
    CPU is counted at the end), and no what-if is given (the compute is not over):
    what is named mid-run is a slow node, the network, failures or a lost node."""
    a = analyse(run_dir, now=now)
    if "wall" not in a or a["wall"]["compute"] < LIVE_MIN_COMPUTE or \
            a["tasks"] < 3 * max(1, a["workers"]):
        return None
    a["tail"] = dict(a["tail"], idle_share=0.0)   # no tail yet: none is named
    v = verdict(a)
    if v is None:
        return None
    if v.get("what_if") is not None:   # the what-if clause speaks of a finished compute
        head, _sep, rest = v["text"].partition(" (compute would take about ")
        v["text"] = head + rest.partition(")")[2]
        v["what_if"] = None
    v["text"] = "so far, " + v["text"]
    return v


__all__ = ["analyse", "verdict", "run_verdict", "live_verdict"]
