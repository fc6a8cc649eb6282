"""What is known of each node and of the run's health, as plain numbers (no HTML, no
matplotlib): the report's nodes table and alert list and the dashboard's JSON are
both made from these, so the two never disagree."""
from __future__ import annotations

import time
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from ..store import NetFigure, NodeInfo
from .alerts import LOAD_PCT, MEMORY_PCT, TEMP_C, NodeHealth
from .sensors import UNDER_VOLTAGE, decode_throttled, throttle_cause


def stale_after(meta: Mapping[str, Any]) -> float:
    """Seconds without a health sample after which a running node is called stale:
    five sampling intervals (at least 15 s) plus how late samples are committed."""
    return (max(5 * (meta.get("monitor_interval") or 2.0), 15.0)
            + (meta.get("health_commit_seconds") or 10.0))


def silent_for(meta: Mapping[str, Any], last_seen: Optional[float], now: float) -> float:
    """Seconds a node has been silent during the run: the start-up network benchmark
    before ``started`` (when nobody samples) does not count."""
    if not last_seen:
        return 0.0
    return now - max(last_seen, meta.get("started") or last_seen)


def _net_figures(netbench: Sequence[NetFigure], node: str) -> Dict[str, NetFigure]:
    """The node's latency at the smallest size, upload and download at the largest."""
    mine = [r for r in netbench if r.node.split(" (")[0] == node]
    out: Dict[str, NetFigure] = {}
    for r in mine:
        sizes = [x.size for x in mine if x.node == r.node and x.kind == r.kind]
        want = min(sizes) if r.kind == "latency" else max(sizes)
        if r.size == want:
            out[r.kind] = r
    return out


def healths_of(nodes: Mapping[str, NodeInfo],
               samples: Mapping[str, List[Dict[str, Any]]]) -> Dict[str, NodeHealth]:
    """Every node's samples folded (see :class:`.alerts.NodeHealth`)."""
    return {n: NodeHealth.of(samples.get(n, []),
                             nodes[n].baseline_throttled if n in nodes else None)
            for n in set(nodes) | set(samples)}


def node_view(node: str, info: Optional[NodeInfo], health: Optional[NodeHealth],
              netbench: Sequence[NetFigure], tasks: int, busy: Optional[float],
              meta: Mapping[str, Any], now: Optional[float] = None) -> Dict[str, Any]:
    """One node as the report's row and the dashboard's JSON show it. Every value is a
    plain number, string, list or None (n/a); ``state`` and ``colours`` carry the same
    thresholds as the alerts."""
    info = info or NodeInfo(node, [], {}, None, None, None)
    h = health or NodeHealth(info.baseline_throttled)
    now = time.time() if now is None else now
    last = h.last
    mask = last.get("throttled")
    flags = decode_throttled(mask) if mask is not None else None
    new = h.new_bits
    links = (info.facts or {}).get("links", {})
    net = _net_figures(netbench, node)
    lat = net.get("latency")
    running = meta.get("status") == "running"
    seen = info.last_seen
    stale = bool(running and silent_for(meta, seen, now) > stale_after(meta))
    alerts = h.alerts()
    throttled_now = [k for k, v in (flags or {}).items() if v and not k.endswith("occurred")]
    if stale:
        state = "stale"
    elif new & UNDER_VOLTAGE or (flags or {}).get("under_voltage"):
        state = "under-voltage"
    elif (flags or {}).get("throttled") or (flags or {}).get("soft_temp_limit"):
        state = "throttled"
    elif alerts:
        state = "alert"
    elif h.temp_last is not None and h.temp_last >= TEMP_C.amber:
        state = "warm"
    else:
        state = "ok"
    return {
        "node": node,
        "ranks": list(info.ranks or []),
        "model": (info.facts or {}).get("model"),
        "cores": last.get("cores") or (info.facts or {}).get("cores"),
        "mem_total_mb": (info.facts or {}).get("mem_total_mb"),
        "links": [{"nic": k, "speed_mbit": v.get("speed_mbit"), "wireless": v.get("wireless")}
                  for k, v in links.items() if v.get("up")],
        "cpu_temp_c": h.temp_last,
        "cpu_temp_max_c": h.temp_max,
        "gpu_temp_c": h.gpu_last,
        "gpu_temp_max_c": h.gpu_max,
        "arm_mhz_min": h.clock_min,
        "throttled_mask": mask,
        "throttled_now": None if flags is None else throttled_now,
        "throttled_since_start": None if mask is None else (throttle_cause(new) or "none"),
        "under_voltage_since_start": bool(new & UNDER_VOLTAGE),
        "new_throttle_bits": new,
        "load1": last.get("load1"),
        "load_pct_max": h.load_pct_max,
        "mem_percent": last.get("mem_percent"),
        "mem_percent_max": h.mem_max,
        "processes": last.get("processes"),
        "latency_p50_us": lat.p50 if lat else None,
        "latency_p99_us": lat.p99 if lat else None,
        "upload_mbps": net["upload"].mbps if "upload" in net else None,
        "download_mbps": net["download"].mbps if "download" in net else None,
        "tasks": tasks,
        "busy_pct": busy,
        "last_seen": seen,
        "samples": h.n,
        "state": state,
        "colours": {"cpu_temp": TEMP_C.colour(h.temp_max),
                    "gpu_temp": TEMP_C.colour(h.gpu_max),
                    "load": LOAD_PCT.colour(h.load_pct_max),
                    "memory": MEMORY_PCT.colour(h.mem_max),
                    "throttle_now": None if flags is None else (
                        "red" if flags.get("under_voltage") or flags.get("throttled")
                        else "green"),
                    "throttle_since": None if mask is None else (
                        "red" if new & UNDER_VOLTAGE else "amber" if new else "green")},
        "alerts": [a.text for a in alerts],
    }


def node_views(meta: Mapping[str, Any], nodes: Mapping[str, NodeInfo],
               healths: Mapping[str, NodeHealth], netbench: Sequence[NetFigure],
               per_node_tasks: Mapping[Optional[str], int],
               now: Optional[float] = None,
               live_busy: Optional[Mapping[str, float]] = None) -> List[Dict[str, Any]]:
    """Every node the monitor saw or a task ran on, in rank order (the main node first).
    Busy % comes from the workers' own figures once the run has ended, else from
    ``live_busy`` (a follower's estimate) when given."""
    workers = (meta.get("summary") or {}).get("workers", {})

    def order(node: str) -> Tuple[int, str]:
        info = nodes.get(node)
        return (min(info.ranks) if info and info.ranks else 1 << 30, node)
    names = sorted(set(nodes) | {n for n in per_node_tasks if n}, key=order)
    out = []
    for node in names:
        busy = [w.get("busy_fraction") for w in workers.values()
                if w.get("node") == node and w.get("busy_fraction") is not None]
        pct = (100.0 * sum(busy) / len(busy) if busy else
               (live_busy or {}).get(node))
        out.append(node_view(node, nodes.get(node), healths.get(node), netbench,
                             per_node_tasks.get(node, 0), pct, meta, now))
    return out


CLOCK_ALERT = 2.0   # seconds a node's clock may be off before the report says so


def run_alerts(meta: Mapping[str, Any], nodes: Mapping[str, NodeInfo],
               healths: Mapping[str, NodeHealth], netbench: Sequence[NetFigure],
               tasks: int, failed: int, now: Optional[float] = None) -> List[Tuple[int, str]]:
    """(level, text), most important first: power, throttling, heat, stale nodes, lost
    workers, slow paths, memory, failures."""
    out: List[Tuple[int, str]] = []
    now = meta.get("finished") or (time.time() if now is None else now)
    running = meta.get("status") == "running"
    for node, info in nodes.items():
        h = healths.get(node) or NodeHealth(info.baseline_throttled)
        out += [(a.level, f"{node}: {a.text}") for a in h.alerts()]
        last = info.last_seen
        if running and silent_for(meta, last, now) > stale_after(meta):
            out.append((1, f"{node}: no health sample for {now - last:.0f} s "
                           "(stale; last seen at "
                           f"{time.strftime('%H:%M:%S', time.localtime(last))})"))
    for node, ahead in sorted((meta.get("clock_offsets") or {}).items()):
        if abs(ahead) >= CLOCK_ALERT:
            out.append((2, f"{node}: its clock was {abs(ahead):.0f} s "
                           f"{'ahead of' if ahead > 0 else 'behind'} the main node's; its "
                           "times are corrected here (keep the clocks in step: chrony or "
                           "systemd-timesyncd; a Pi has no battery-backed clock)"))
    from .network import warnings_for
    out += [(2, text) for text in warnings_for(netbench)]
    lost = (meta.get("summary") or {}).get("lost_workers") or {}
    for w, info in sorted(lost.items(), key=lambda x: int(x[0])):
        at = time.strftime("%H:%M:%S", time.localtime(info.get("at") or now))
        if info.get("after_last_result"):
            out.append((2, f"worker rank {w} on {info.get('node', '?')} stopped answering "
                           f"after the last result (found at {at}); every result is in"))
            continue
        out.append((1, f"worker rank {w} on {info.get('node', '?')} was lost at {at} "
                       f"(silent past the heartbeat timeout); its "
                       f"{info.get('tasks_requeued', 0)} task(s) ran elsewhere"))
    if failed:
        out.append((2, f"{failed} of {tasks} tasks failed (tracebacks below)"))
    return sorted(out)
