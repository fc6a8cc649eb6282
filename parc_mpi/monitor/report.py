"""The HTML report: a pure function of the run store.

``python -m parc_mpi.report RUN_DIR`` rebuilds it at any time; the monitor rank
calls the same function every ``--report-interval`` seconds while the job runs
(a live page that refreshes itself and can be paused), and rank 0 writes the final
one at the end. Every file is written to a temporary name and renamed, so a
browser never sees half a file; a plot whose data did not change is not redrawn.
Everything that comes from the user or the tasks is HTML-escaped.
"""
from __future__ import annotations

import base64
import hashlib
import html
import json
import os
import sqlite3
import time
from typing import Any, Dict, List, Optional

import numpy as np

from . import plots
from .sensors import decode_throttled, new_throttle_bits, throttle_cause

TOP = 10
MAX_FAILURES = 20


def esc(value: Any) -> str:
    return html.escape("n/a" if value is None else str(value), quote=True)


def _fmt(value: Optional[float], unit: str = "", digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return "n/a"
    return f"{value:.{digits}f}{unit}"


class RunData:
    """Everything the report shows, read from ``run.sqlite`` (read-only)."""

    def __init__(self, run_dir: str):
        path = os.path.join(run_dir, "run.sqlite")
        if not os.path.exists(path):
            raise FileNotFoundError(f"{run_dir}: no run.sqlite here; is it a parc_mpi run "
                                    "directory?")
        self.run_dir = run_dir
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
        try:
            self.meta = {k: json.loads(v) for k, v in db.execute("SELECT key, value FROM meta")}
            self.results = db.execute(
                "SELECT seq, task, attempt, status, params, value, result, error, worker, "
                "node, t_start, t_end FROM results ORDER BY seq").fetchall()
            self.nodes = {n: {"ranks": json.loads(r), "facts": json.loads(f), "baseline": b,
                              "first": t0, "last": t1}
                          for n, r, f, b, t0, t1 in db.execute(
                              "SELECT node, ranks, facts, baseline_throttled, first_seen, "
                              "last_seen FROM nodes ORDER BY node")}
            self.samples: Dict[str, List[dict]] = {}
            for node, data in db.execute("SELECT node, data FROM samples ORDER BY t"):
                self.samples.setdefault(node, []).append(json.loads(data))
            cols = ("node", "peer_rank", "kind", "size", "p50", "p90", "p99", "min", "mean",
                    "mbps", "iterations", "seconds", "nic", "link_mbit")
            self.netbench = [dict(zip(cols, r)) for r in db.execute(
                f"SELECT {', '.join(cols)} FROM netbench")]
            self.pairs = db.execute("SELECT a, b, p50, p99 FROM pairs").fetchall()
        finally:
            db.close()
        job = self.meta.get("job", {})
        self.kind = job.get("kind", "?")
        self.goal = job.get("goal", "min")
        starts = [r[10] for r in self.results if r[10] is not None]
        self.t0 = min([self.meta.get("started", time.time())] + starts)

    # -- derived --------------------------------------------------------------
    def counts(self) -> Dict[str, int]:
        final: Dict[int, str] = {}
        for r in self.results:
            final[r[1]] = r[3]
        ok = sum(1 for s in final.values() if s == "ok")
        return {"tasks": len(final), "ok": ok, "failed": len(final) - ok,
                "attempts": len(self.results)}

    def task_rows(self) -> np.ndarray:
        rows = [(r[8], r[10], r[11], r[3] == "ok") for r in self.results
                if r[10] is not None and r[8] is not None]
        return np.array(rows, dtype=float) if rows else np.empty((0, 4))

    def lanes(self) -> List[tuple]:
        ranks = {}
        for r in self.results:
            if r[8] is not None:
                ranks[r[8]] = r[9]
        return sorted(ranks.items(), key=lambda kv: (kv[1], kv[0]))

    def values(self):
        vals = np.array([np.nan if (r[3] != "ok" or r[5] is None) else r[5]
                         for r in self.results], dtype=float)
        times = np.array([r[11] or self.t0 for r in self.results], dtype=float)
        return vals, times


def alerts(data: RunData) -> List[tuple]:
    """(level, text) most important first: power, throttling, heat, stale nodes, slow
    paths, memory, failures."""
    out = []
    status = data.meta.get("status")
    now = data.meta.get("finished") or time.time()
    for node, info in data.nodes.items():
        s = data.samples.get(node, [])
        new = 0
        for x in s:
            new |= new_throttle_bits(info["baseline"], x.get("throttled"))
        if new & 0x10001:
            out.append((0, f"{node}: under-voltage during the run: check the power supply "
                           "(not heat)"))
        elif new:
            out.append((1, f"{node}: throttled during the run; cause: {throttle_cause(new)}"))
        temps = [x["cpu_temp_c"] for x in s if x.get("cpu_temp_c") is not None]
        if temps and max(temps) >= 80:
            out.append((1, f"{node}: temperature reached {max(temps):.0f} °C "
                           "(the Pi throttles from 80 °C)"))
        interval = data.meta.get("monitor_interval") or 2.0
        if status == "running" and info["last"] and now - info["last"] > max(5 * interval, 15):
            out.append((1, f"{node}: no health sample for {now - info['last']:.0f} s "
                           "(stale; last seen at "
                           f"{time.strftime('%H:%M:%S', time.localtime(info['last']))})"))
        mem = [x["mem_percent"] for x in s if x.get("mem_percent") is not None]
        if mem and max(mem) >= 90:
            out.append((2, f"{node}: memory reached {max(mem):.0f}%"))
        swap = [x["swap_used_mb"] for x in s if x.get("swap_used_mb")]
        if swap and max(swap) > 0:
            out.append((3, f"{node}: swap in use ({max(swap):.0f} MB)"))
    from .netbench import warnings_for
    for text in warnings_for(data.netbench):
        out.append((2, text))
    lost = (data.meta.get("summary") or {}).get("lost_workers") or {}
    for w, info in sorted(lost.items(), key=lambda x: int(x[0])):
        at = time.strftime("%H:%M:%S", time.localtime(info.get("at") or now))
        out.append((1, f"worker rank {w} on {info.get('node', '?')} was lost at {at} "
                       f"(silent past the heartbeat timeout); its "
                       f"{info.get('tasks_requeued', 0)} task(s) ran elsewhere"))
    c = data.counts()
    if c["failed"]:
        out.append((2, f"{c['failed']} of {c['tasks']} tasks failed (tracebacks below)"))
    return sorted(out)


def _cell(value: Optional[float], amber: float, red: float, text: str) -> str:
    if value is None:
        return f'<td class="na">{esc(text)}</td>'
    cls = "red" if value >= red else "amber" if value >= amber else "green"
    return f'<td class="{cls}">{esc(text)}</td>'


def nodes_table(data: RunData) -> str:
    head = ("<tr><th>node</th><th>link</th><th>ranks</th><th>CPU °C now / max</th>"
            "<th>firmware °C now / max</th><th>ARM MHz (min)</th><th>throttle now</th>"
            "<th>since start</th><th>load / cores</th><th>memory</th><th>processes</th>"
            "<th>latency p50 / p99 µs</th><th>upload MB/s</th><th>download MB/s</th>"
            "<th>tasks</th><th>busy</th><th>last seen</th></tr>")
    workers = (data.meta.get("summary") or {}).get("workers", {})
    per_node_tasks: Dict[str, int] = {}
    for r in data.results:
        per_node_tasks[r[9]] = per_node_tasks.get(r[9], 0) + 1
    rows = []
    names = sorted(set(data.nodes) | {n for n in per_node_tasks if n})
    for node in names:
        info = data.nodes.get(node, {"ranks": [], "facts": {}, "baseline": None, "last": None})
        s = data.samples.get(node, [])
        last = s[-1] if s else {}
        temps = [x["cpu_temp_c"] for x in s if x.get("cpu_temp_c") is not None]
        fw = [x["gpu_temp_c"] for x in s if x.get("gpu_temp_c") is not None]
        clocks = [x["arm_mhz"] for x in s if x.get("arm_mhz") is not None]
        links = info["facts"].get("links", {}) if info.get("facts") else {}
        link = ", ".join(f"{k} {v.get('speed_mbit') or '?'} Mbit/s" for k, v in links.items()
                         if v.get("up")) or "n/a"
        mask = last.get("throttled")
        flags_now = decode_throttled(mask) if mask is not None else None
        now_txt = "n/a" if flags_now is None else (", ".join(
            k for k, v in flags_now.items() if v and not k.endswith("occurred")) or "none")
        new = 0
        for x in s:
            new |= new_throttle_bits(info.get("baseline"), x.get("throttled"))
        since_txt = "n/a" if mask is None else (throttle_cause(new) or "none")
        cores = last.get("cores") or 1
        load = last.get("load1")
        net = {r["kind"]: r for r in data.netbench if r["node"].split(" (")[0] == node
               and r["size"] == min((x["size"] for x in data.netbench
                                     if x["node"] == r["node"] and x["kind"] == r["kind"]),
                                    default=0)}
        big = {r["kind"]: r for r in data.netbench if r["node"].split(" (")[0] == node
               and r["kind"] != "latency" and r["size"] == max(
                   (x["size"] for x in data.netbench if x["node"] == r["node"]
                    and x["kind"] == r["kind"]), default=0)}
        lat = net.get("latency")
        busy = [w.get("busy_fraction") for w in workers.values()
                if w.get("node") == node and w.get("busy_fraction") is not None]
        seen = info.get("last")
        rows.append(
            "<tr>" + f"<td>{esc(node)}</td><td>{esc(link)}</td>"
            f"<td>{esc(', '.join(map(str, info.get('ranks') or [])) or 'n/a')}</td>"
            + _cell(max(temps) if temps else None, 75, 80,
                    f"{_fmt(temps[-1] if temps else None)} / {_fmt(max(temps) if temps else None)}")
            + _cell(max(fw) if fw else None, 75, 80,
                    f"{_fmt(fw[-1] if fw else None)} / {_fmt(max(fw) if fw else None)}")
            + f"<td>{esc(_fmt(min(clocks) if clocks else None, digits=0))}</td>"
            + (f'<td class="{"red" if flags_now and any(flags_now[k] for k in ("under_voltage", "throttled")) else "green"}">'
               f"{esc(now_txt)}</td>" if flags_now is not None else '<td class="na">n/a</td>')
            + (f'<td class="{"red" if new & 0x10001 else "amber" if new else "green"}">'
               f"{esc(since_txt)}</td>" if mask is not None else '<td class="na">n/a</td>')
            + _cell(None if load is None else 100 * load / cores, 85, 95,
                    "n/a" if load is None else f"{load:.2f} / {cores}")
            + _cell(last.get("mem_percent"), 80, 90, _fmt(last.get("mem_percent"), "%", 0))
            + f"<td>{esc(last.get('processes', 'n/a'))}</td>"
            + f"<td>{esc(_fmt(lat['p50'] if lat else None, digits=1))} / "
              f"{esc(_fmt(lat['p99'] if lat else None, digits=1))}</td>"
            + f"<td>{esc(_fmt(big['upload']['mbps'] if 'upload' in big else None))}</td>"
            + f"<td>{esc(_fmt(big['download']['mbps'] if 'download' in big else None))}</td>"
            + f"<td>{per_node_tasks.get(node, 0)}</td>"
            + f"<td>{esc(_fmt(100 * sum(busy) / len(busy), '%', 0) if busy else 'n/a')}</td>"
            + f"<td>{esc(time.strftime('%H:%M:%S', time.localtime(seen)) if seen else 'n/a')}"
              "</td></tr>")
    return f'<table class="nodes">{head}{"".join(rows)}</table>'


CSS = """
body{font-family:system-ui,sans-serif;margin:1.2em;color:#222;max-width:1300px}
h1{font-size:1.5em;margin:0 0 .2em} h2{font-size:1.15em;margin-top:1.6em;border-bottom:1px solid #ddd}
.header span{margin-right:1.4em} .status{font-weight:bold;padding:.1em .5em;border-radius:4px}
.running{background:#d6eaff} .finished{background:#d4f4dd} .stopped,.aborted{background:#fff0c2}
.failed,.crashed{background:#ffd6d6}
.alerts li{margin:.2em 0} .l0{color:#b00020;font-weight:bold} .l1{color:#b35c00} .l2,.l3{color:#555}
table{border-collapse:collapse;font-size:.85em} td,th{border:1px solid #ccc;padding:.25em .45em;text-align:left}
th{background:#f3f3f3} .green{background:#dff5e3} .amber{background:#ffe9b8} .red{background:#ffc9c9}
.na{color:#888} img{max-width:100%;display:block;margin:.4em 0} pre{background:#f7f7f7;padding:.5em;
overflow:auto;font-size:.8em} .muted{color:#777;font-size:.85em}
"""

LIVE_JS = """<script>
(function(){var key='parc-pause';var box=document.getElementById('pause');
box.checked=localStorage.getItem(key)==='1';
function arm(){if(!box.checked){window.__t=setTimeout(function(){location.reload();},%d);}}
box.addEventListener('change',function(){localStorage.setItem(key,box.checked?'1':'0');
clearTimeout(window.__t);arm();});arm();})();
</script>"""


class Reporter:
    """Renders a run directory's report; keeps hashes so unchanged plots are skipped."""

    def __init__(self, run_dir: str, out_dir: Optional[str] = None):
        self.run_dir = run_dir
        self.out_dir = out_dir or run_dir
        self._hashes: Dict[str, str] = {}

    def render(self, live: bool = False, refresh: float = 10.0,
               self_contained: bool = False) -> str:
        data = RunData(self.run_dir)
        pngs = self._plots(data)
        body = self._html(data, pngs, live, refresh, self_contained)
        path = os.path.join(self.out_dir, "report.html")
        _atomic_write(path, body.encode("utf-8"))
        return path

    def _plots(self, data: RunData) -> Dict[str, Optional[bytes]]:
        vals, times = data.values()
        makers = {
            "temperature": lambda: plots.temperatures(data.samples, data.t0),
            "load_memory": lambda: plots.load_memory(data.samples, data.t0),
            "timeline": lambda: plots.timeline(data.task_rows(), data.lanes(), data.t0),
            "throughput": lambda: plots.throughput(
                np.array([r[11] for r in data.results if r[11] is not None]), data.t0),
            "convergence": lambda: (plots.convergence(vals, times, data.goal, data.t0)
                                    if data.kind == "optimize" else None),
            "network": lambda: plots.network(data.netbench),
            "pairs": lambda: plots.pair_heatmap(data.pairs),
        }
        keys = {"temperature": (len(data.samples), sum(map(len, data.samples.values()))),
                "load_memory": (len(data.samples), sum(map(len, data.samples.values()))),
                "timeline": (len(data.results),), "throughput": (len(data.results),),
                "convergence": (len(data.results),), "network": (len(data.netbench),),
                "pairs": (len(data.pairs),)}
        out: Dict[str, Optional[bytes]] = {}
        plot_dir = os.path.join(self.out_dir, "plots")
        os.makedirs(plot_dir, exist_ok=True)
        for name, make in makers.items():
            digest = hashlib.sha1(repr(keys[name]).encode()).hexdigest()
            path = os.path.join(plot_dir, f"{name}.png")
            if self._hashes.get(name) == digest and os.path.exists(path):
                out[name] = b"unchanged"
                continue
            png = make()
            out[name] = png
            if png is not None:
                _atomic_write(path, png)
                self._hashes[name] = digest
        return out

    def _img(self, name: str, pngs, self_contained: bool, alt: str) -> str:
        if pngs.get(name) is None:
            return ""
        if self_contained:
            with open(os.path.join(self.out_dir, "plots", f"{name}.png"), "rb") as fh:
                src = "data:image/png;base64," + base64.b64encode(fh.read()).decode()
        else:
            src = f"plots/{name}.png?v={self._hashes.get(name, '')[:8]}"
        return f'<img src="{src}" alt="{esc(alt)}">'

    def _html(self, data: RunData, pngs, live: bool, refresh: float,
              self_contained: bool) -> str:
        m = data.meta
        c = data.counts()
        status = m.get("status", "?")
        started = m.get("started")
        end = m.get("finished") or time.time()
        duration = (end - started) if started else None
        summary = m.get("summary") or {}
        rate = c["tasks"] / duration if duration else None
        name = m.get("name") or "job"
        parts = ["<!DOCTYPE html><html><head><meta charset='utf-8'>",
                 f"<title>{esc(name)}: parc_mpi report</title><style>{CSS}</style></head><body>"]
        parts.append(f"<h1>{esc(name)} <span class='status {esc(status)}'>{esc(status)}</span>"
                     "</h1>")
        if live:
            parts.append(f"<p class='muted'>live: refreshes every {refresh:.0f} s "
                         "<label><input type='checkbox' id='pause'> pause refresh</label></p>")
        hdr = [("started", time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(started))
                if started else "n/a"),
               ("duration", f"{duration:.1f} s" if duration else "n/a"),
               ("MPI", m.get("mpi") or "none (serial)"), ("ranks", m.get("ranks")),
               ("nodes", len(m.get("nodes") or []) or len(data.nodes)),
               ("tasks", f"{c['ok']} ok, {c['failed']} failed of {c['tasks']}"),
               ("throughput", f"{rate:,.1f} tasks/s" if rate else "n/a")]
        parts.append("<p class='header'>" + "".join(
            f"<span><b>{esc(k)}</b> {esc(v)}</span>" for k, v in hdr) + "</p>")
        if summary.get("job_summary"):
            parts.append(f"<p><b>result:</b> {esc(summary['job_summary'])}</p>")
        al = alerts(data)
        parts.append("<h2>Alerts</h2>")
        parts.append("<ul class='alerts'>" + "".join(
            f"<li class='l{lvl}'>{esc(text)}</li>" for lvl, text in al) + "</ul>"
                     if al else "<p class='muted'>none</p>")
        parts.append("<h2>Nodes</h2>" + nodes_table(data))
        if not any(x.get("cpu_temp_c") is not None for s in data.samples.values() for x in s):
            parts.append("<p class='muted'>No node reported a temperature sensor "
                         "(n/a: a VM, or a machine without one).</p>")
        if data.kind == "optimize":
            parts.append("<h2>Optimisation</h2>" + self._img(
                "convergence", pngs, self_contained, "best so far") + self._best(data))
        for title, key in (("Temperature", "temperature"), ("CPU, load and memory",
                                                             "load_memory"),
                           ("Tasks", "timeline"), (None, "throughput"),
                           ("Network", "network"), (None, "pairs")):
            img = self._img(key, pngs, self_contained, key)
            if img:
                parts.append((f"<h2>{esc(title)}</h2>" if title else "") + img)
        if data.netbench:
            parts.append(self._net_table(data))
        parts.append(self._failures(data))
        parts.append(self._environment(m))
        parts.append(f"<p class='muted'>rebuilt {time.strftime('%H:%M:%S')} by parc_mpi "
                     f"{esc(m.get('parc_mpi'))}; rebuild any time with "
                     f"<code>python -m parc_mpi.report {esc(self.run_dir)}</code></p>")
        if live:
            parts.append(LIVE_JS % int(refresh * 1000))
        parts.append("</body></html>")
        return "\n".join(parts)

    def _best(self, data: RunData) -> str:
        sign = -1.0 if data.goal == "max" else 1.0
        ok = [r for r in data.results if r[3] == "ok" and r[5] is not None]
        ok.sort(key=lambda r: sign * r[5])
        if not ok:
            return "<p class='muted'>no successful evaluation yet</p>"
        rows = []
        for r in ok[:TOP]:
            params = json.loads(r[4]) if isinstance(r[4], str) else r[4]
            rows.append((r[1], params, r[5]))
        names = list(rows[0][1]) if isinstance(rows[0][1], dict) else ["params"]
        head = "<tr><th>#</th><th>trial</th>" + "".join(
            f"<th>{esc(n)}</th>" for n in names) + "<th>value</th></tr>"
        body = "".join(
            f"<tr><td>{i + 1}</td><td>{t}</td>" + "".join(
                f"<td>{esc(p.get(n) if isinstance(p, dict) else p)}</td>" for n in names)
            + f"<td>{v:.6g}</td></tr>" for i, (t, p, v) in enumerate(rows))
        return f"<h3>Top {len(rows)}</h3><table>{head}{body}</table>"

    def _net_table(self, data: RunData) -> str:
        rows = sorted(data.netbench, key=lambda r: (r["node"], r["kind"], r["size"]))
        body = "".join(
            f"<tr><td>{esc(r['node'])}</td><td>{esc(r['kind'])}</td><td>{r['size']}</td>"
            f"<td>{esc(_fmt(r['p50'], digits=2))}</td><td>{esc(_fmt(r['p99'], digits=2))}</td>"
            f"<td>{esc(_fmt(r['mbps'], digits=1))}</td><td>{esc(r['nic'])}</td>"
            f"<td>{esc(r['link_mbit'])}</td></tr>" for r in rows)
        return ("<details><summary>network figures</summary><table><tr><th>node</th>"
                "<th>test</th><th>bytes</th><th>p50 µs</th><th>p99 µs</th><th>MB/s</th>"
                f"<th>interface</th><th>link Mbit/s</th></tr>{body}</table></details>")

    def _failures(self, data: RunData) -> str:
        failed = [r for r in data.results if r[3] != "ok"]
        if not failed:
            return ""
        out = [f"<h2>Failures ({len(failed)} attempts)</h2>"]
        for r in failed[:MAX_FAILURES]:
            out.append(f"<p>task {r[1]} attempt {r[2] + 1} on {esc(r[9])} rank {r[8]}: "
                       f"{esc(r[3])}; input {esc(r[4])}</p><pre>{esc(r[7])}</pre>")
        if len(failed) > MAX_FAILURES:
            out.append(f"<p class='muted'>{len(failed) - MAX_FAILURES} more in run.sqlite</p>")
        return "".join(out)

    def _environment(self, m: Dict[str, Any]) -> str:
        keys = ("parc_mpi", "python", "platform", "mpi", "mpi4py", "ranks", "workers",
                "monitor_rank", "nodes", "job_file", "argv", "job")
        rows = "".join(f"<tr><th>{esc(k)}</th><td>{esc(json.dumps(m.get(k)) if isinstance(m.get(k), (dict, list)) else m.get(k))}</td></tr>"
                       for k in keys if k in m)
        hostfile = m.get("hostfile")
        extra = f"<h3>hostfile</h3><pre>{esc(hostfile)}</pre>" if hostfile else ""
        return f"<h2>Environment</h2><table>{rows}</table>{extra}"


def _atomic_write(path: str, data: bytes) -> None:
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "wb") as fh:
        fh.write(data)
    os.replace(tmp, path)


def build_report(run_dir: str, self_contained: bool = False, live: bool = False,
                 refresh: float = 10.0, out_dir: Optional[str] = None) -> str:
    """Render ``report.html`` (and ``plots/*.png``) for a run directory; return its path."""
    return Reporter(run_dir, out_dir).render(live=live, refresh=refresh,
                                             self_contained=self_contained)
