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
import math
import os
import time
from typing import Any, Callable, Dict, List, NamedTuple, Optional

import numpy as np

from .. import __version__
from ..store import RunReader, StoreError
from . import plots
from .nodeview import healths_of, node_views, run_alerts

TOP = 10
MAX_CURVES = 300   # progress curves drawn at most (the first evaluations')
MAX_FAILURES = 20
RESULT_ROWS = 10        # the results table shows the first tasks
RESULT_SAMPLE = 5_000   # the results figure draws at most about this many tasks
MAX_OUTPUTS = 4
MAX_INPUTS = 4


def esc(value: Any) -> str:
    return html.escape("n/a" if value is None else str(value), quote=True)


def num(value: Any) -> str:
    """A table cell: floats to 6 significant digits (the CSV keeps full precision)."""
    if isinstance(value, float) or type(value).__name__.startswith("float"):
        return f"{float(value):.6g}"
    return "n/a" if value is None else str(value)


def _fmt(value: Optional[float], unit: str = "", digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return "n/a"
    return f"{value:.{digits}f}{unit}"


class RunData:
    """Everything the report shows, read through the store's read-only reader. Its
    size does not grow with the number of results beyond what a reader can see: the
    timeline is a sample, throughput a histogram, counts are aggregated in SQL."""

    def __init__(self, run_dir: str):
        self.run_dir = run_dir
        try:
            reader = RunReader(run_dir)
        except StoreError as exc:
            raise FileNotFoundError(str(exc)) from None
        with reader:
            self.meta = reader.meta()
            job = self.meta.get("job", {})
            self.kind = job.get("kind", "?")
            self.goal = job.get("goal", "min")
            dg = reader.digest(self.meta)   # rank 0's aggregates, when still whole
            span = self._tally(dg) if dg else reader.tally()
            self.n_attempts = span["attempts"]
            self.last_end = span["last_end"]
            self.t0 = min(x for x in (self.meta.get("started", time.time()),
                                      span["first_start"]) if x is not None)
            self.task_status = span["final_by_status"]
            self.per_node_tasks = span["by_node"]
            self._lanes = [tuple(x) for x in dg["lanes"]] if dg else reader.lanes()
            self._timeline = dg["bars"] if dg else reader.timeline(plots.MAX_BARS)
            self._hist = self._histogram(reader, dg)
            self._values = reader.values() if self.kind == "optimize" else None
            self.nodes = reader.nodes()
            samples = reader.samples_by_node()
            self.netbench = reader.netbench()
            self.pairs = reader.pairs()
            self.top = reader.best(TOP, self.goal) if self.kind == "optimize" else []
            self.opt: Dict[str, Any] = {}
            self.evals: List[tuple] = []
            self.curves: Dict[int, list] = {}
            self.curve_pruned: List[bool] = []
            if self.kind == "optimize":
                self._optimization(reader, job)
            if dg:
                self.first_rows = reader.results_by_seq(dg["first"][:RESULT_ROWS])
                self._sample = reader.results_by_seq(dg["sample"])
            else:
                self.first_rows = reader.final_results(limit=RESULT_ROWS)
                self._sample = reader.sample_final(RESULT_SAMPLE)
            clean = set(span["by_status"]) <= {"ok"}
            self.failed = [] if clean else reader.failed_attempts(limit=MAX_FAILURES)
            self.n_failed_attempts = sum(n for st, n in span["by_status"].items()
                                         if st != "ok")
        # nodes in the order of their ranks (the main node first, as in the node list)
        self.samples: Dict[str, List[dict]] = {
            n: samples[n] for n in sorted(samples, key=self.node_order)}
        first_sample = min((s[0]["t"] for s in samples.values() if s), default=None)
        if first_sample is not None:  # the monitor samples from before the start line
            self.t0 = min(self.t0, first_sample)

    def _optimization(self, reader: RunReader, job: Dict[str, Any]) -> None:
        """Several objectives, constraints, progress curves (store/optimization.py)."""
        from ..store.optimization import front_params, records, summarize
        evs = records(reader, job)
        self.opt = summarize(reader, job, evaluations=evs)
        front_params(reader, self.opt.get("front", [])[:TOP])
        self.evals = evs if len(self.opt["objectives"]) > 1 else []
        self.curves = reader.curves(limit=MAX_CURVES)
        if self.curves:   # curves come with optimizer records: evs was read
            pruned = {e[1]: e[5] for e in evs or ()}
            self.curve_pruned = [bool(pruned.get(t)) for t in self.curves]

    def front_arrays(self):
        """(F, feasible, front) over every successful evaluation (several objectives)."""
        from ..optimizers.objectives import Goal, non_dominated
        goal = Goal(self.goal)
        k = len(goal)
        evs = [e for e in self.evals if len(e[2]) == k]
        F = np.array([e[2] for e in evs], dtype=float).reshape(len(evs), k)
        feasible = np.array([e[4] == 0 and not e[5] for e in evs], dtype=bool)
        front = np.zeros(len(evs), dtype=bool)
        if feasible.any():
            idx = np.flatnonzero(feasible)
            front[idx[non_dominated(F[idx] * goal.signs)]] = True
        return F, feasible, front, list(goal.names), list(goal.senses)

    def result_columns(self):
        """Numeric inputs and outputs of the sampled tasks as arrays (at most
        MAX_OUTPUTS outputs and MAX_INPUTS inputs; the rest are listed), and a grid
        when two inputs span one."""
        if getattr(self, "_result_cols", None) is None:
            self._result_cols = self._find_result_columns()
        return self._result_cols

    def _find_result_columns(self):
        # the dashboard's reader of results as columns (store.frame), on this sample
        from ..store.frame import ResultFrame
        frame = ResultFrame().add(sorted(self._sample, key=lambda r: r.seq))
        ok = frame.ok_mask()
        cols = frame.plot_columns(limit=1 << 30)
        num_in = {n: frame.numbers(n)[ok] for n in cols["inputs"]}
        num_out = {n: frame.numbers(n)[ok] for n in cols["outputs"]}
        names_in, names_out = list(num_in), list(num_out)
        grid = None
        if len(names_in) == 2 and num_out and ok.any():
            x, y = num_in[names_in[0]], num_in[names_in[1]]
            nx, ny = len(np.unique(x)), len(np.unique(y))
            if 1 < nx <= 200 and 1 < ny <= 200 and nx * ny == len(x) == \
                    len({(a, b) for a, b in zip(x, y)}):
                grid = (names_in[0], names_in[1], names_out[0])
        shown_in = {n: num_in[n] for n in names_in[:MAX_INPUTS]}
        shown_out = {n: num_out[n] for n in names_out[:MAX_OUTPUTS]}
        hidden = names_out[MAX_OUTPUTS:] + names_in[MAX_INPUTS:]
        return shown_in, shown_out, grid, hidden

    def node_order(self, node: Optional[str]) -> tuple:
        info = self.nodes.get(node)
        return (min(info.ranks) if info and info.ranks else 1 << 30, node or "")

    @staticmethod
    def _tally(dg: Dict[str, Any]) -> Dict[str, Any]:
        """``RunReader.tally`` from a digest."""
        return {"attempts": dg["attempts"], "by_node": {k: v for k, v in dg["by_node"]},
                "by_status": {k: v for k, v in dg["by_status"].items() if v},
                "final_by_status": {k: v for k, v in dg["final_by_status"].items() if v},
                "first_start": dg["first_start"], "last_end": dg["last_end"]}

    def _histogram(self, reader: RunReader, dg: Optional[Dict[str, Any]] = None):
        """Attempts ended per time bin: (bin centres in seconds since t0, tasks/s); from
        a digest's finer bins when there is one."""
        if self.n_attempts < 2 or self.last_end is None:
            return None
        span = max(self.last_end - self.t0, 1e-3)
        bins = max(10, min(200, self.n_attempts // 5))
        width = span / bins
        rate = np.zeros(bins)
        if dg and dg.get("origin") is not None:
            fine = np.asarray(dg["bins"], dtype=float)   # spread evenly within a bin
            edges = dg["origin"] - self.t0 + np.arange(len(fine) + 1) * dg["width"]
            ends = np.interp(np.arange(bins + 1) * width, edges,
                             np.concatenate(([0.0], np.cumsum(fine))))
            ends[-1] = fine.sum()   # whatever ended past the last bin is counted in it
            rate = np.diff(ends)
        else:
            for b, n in reader.end_histogram(self.t0, width):
                rate[min(max(int(b), 0), bins - 1)] += n
        return (np.arange(bins) + 0.5) * width, rate / width

    # -- derived --------------------------------------------------------------
    def healths(self):
        """Each node's samples folded once (the alerts and the nodes table share it)."""
        if getattr(self, "_healths", None) is None:
            self._healths = healths_of(self.nodes, self.samples)
        return self._healths

    def counts(self) -> Dict[str, int]:
        ok = self.task_status.get("ok", 0)
        tasks = sum(self.task_status.values())
        return {"tasks": tasks, "ok": ok, "failed": tasks - ok, "attempts": self.n_attempts}

    def task_rows(self) -> np.ndarray:
        """worker, t_start, t_end, ok of the sampled attempts."""
        return (np.array(self._timeline, dtype=float) if self._timeline
                else np.empty((0, 4)))

    def lanes(self) -> List[tuple]:
        return sorted(self._lanes, key=lambda kv: (kv[1] or "", kv[0]))

    def throughput(self):
        return self._hist

    def values(self):
        c = self._values or {"status": [], "value": [], "t_end": []}
        vals = np.array([np.nan if (st != "ok" or v is None) else v
                         for st, v in zip(c["status"], c["value"])], dtype=float)
        times = np.array([t or self.t0 for t in c["t_end"]], dtype=float)
        return vals, times


def alerts(data: RunData) -> List[tuple]:
    """(level, text) most important first (see :func:`.nodeview.run_alerts`)."""
    c = data.counts()
    return run_alerts(data.meta, data.nodes, data.healths(), data.netbench, c["tasks"],
                      c["failed"])


def _cell(colour: Optional[str], text: str) -> str:
    return f'<td class="{colour or "na"}">{esc(text)}</td>'


def main_mark(view: Dict[str, Any]) -> str:
    """The main node (rank 0's: the scheduler) is named so, whatever it is: a Pi, a
    laptop, a login node."""
    return " <span class='muted'>(main)</span>" if 0 in (view.get("ranks") or ()) else ""


def nodes_table(data: RunData) -> str:
    head = ("<tr><th>node</th><th>link</th><th>ranks</th><th>CPU °C now / max</th>"
            "<th>firmware °C now / max</th><th>CPU MHz (min)</th><th>throttle now</th>"
            "<th>since start</th><th>load / cores now (max)</th><th>memory now / max</th>"
            "<th>processes</th>"
            "<th>latency p50 / p99 µs</th><th>upload MB/s</th><th>download MB/s</th>"
            "<th>tasks</th><th>busy</th><th>last seen</th></tr>")
    rows = []
    for v in node_views(data.meta, data.nodes, data.healths(), data.netbench,
                        data.per_node_tasks):
        col = v["colours"]
        link = ", ".join(f"{x['nic']} {x['speed_mbit']} Mbit/s" if x["speed_mbit"] else
                         f"{x['nic']} (speed n/a)" for x in v["links"]) or "n/a"
        now = v["throttled_now"]
        cores = v["cores"] or 1
        load = v["load1"]
        seen = v["last_seen"]
        rows.append(
            "<tr>" + f"<td>{esc(v['node'])}{main_mark(v)}</td><td>{esc(link)}</td>"
            f"<td>{esc(', '.join(map(str, v['ranks'])) or 'n/a')}</td>"
            + _cell(col["cpu_temp"], f"{_fmt(v['cpu_temp_c'])} / {_fmt(v['cpu_temp_max_c'])}")
            + _cell(col["gpu_temp"], f"{_fmt(v['gpu_temp_c'])} / {_fmt(v['gpu_temp_max_c'])}")
            + f"<td>{esc(_fmt(v['arm_mhz_min'], digits=0))}</td>"
            + _cell(col["throttle_now"], "n/a" if now is None else ", ".join(now) or "none")
            + _cell(col["throttle_since"], v["throttled_since_start"] or "n/a")
            + _cell(col["load"], "n/a" if load is None else
                    f"{load:.2f} / {cores} (max {v['load_pct_max'] * cores / 100:.2f})")
            + _cell(col["memory"], f"{_fmt(v['mem_percent'], '%', 0)} / "
                                   f"{_fmt(v['mem_percent_max'], '%', 0)}")
            + f"<td>{esc(v['processes'])}</td>"
            + f"<td>{esc(_fmt(v['latency_p50_us'], digits=1))} / "
              f"{esc(_fmt(v['latency_p99_us'], digits=1))}</td>"
            + f"<td>{esc(_fmt(v['upload_mbps']))}</td>"
            + f"<td>{esc(_fmt(v['download_mbps']))}</td>"
            + f"<td>{v['tasks']}</td>"
            + f"<td>{esc(_fmt(v['busy_pct'], '%', 0))}</td>"
            + f"<td>{esc(time.strftime('%H:%M:%S', time.localtime(seen)) if seen else 'n/a')}"
              "</td></tr>")
    return f'<table class="nodes">{head}{"".join(rows)}</table>'


CSS = """
body{font-family:system-ui,sans-serif;margin:1.2em;color:#222;max-width:1300px}
h1{font-size:1.5em;margin:0 0 .2em} h2{font-size:1.15em;margin-top:1.6em;border-bottom:1px solid #ddd}
.header span{margin-right:1.4em} .status{font-weight:bold;padding:.1em .5em;border-radius:4px}
.running{background:#d6eaff} .finished{background:#d4f4dd} .stopped,.aborted{background:#fff0c2}
.failed,.crashed{background:#ffd6d6}
.verdict{background:#eef4fb;border-left:4px solid #3b82c4;padding:.4em .7em;max-width:60em}
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

    def __init__(self, run_dir: str, out_dir: Optional[str] = None,
                 redraw_after: float = 0.0):
        self.run_dir = run_dir
        self.out_dir = out_dir or run_dir
        self._hashes: Dict[str, str] = {}
        self.cpu: Dict[str, float] = {}  # CPU seconds of the last render, by step
        # a figure this reporter drew is redrawn for new data once it is this old (s):
        # the live report's numbers move every rewrite, its figures less often
        self.redraw_after = redraw_after
        self._drawn_at: Dict[str, float] = {}

    def render(self, live: bool = False, refresh: float = 10.0,
               self_contained: bool = False) -> str:
        self.cpu = {}
        t = time.process_time()
        data = RunData(self.run_dir)
        self.cpu["read the store"] = time.process_time() - t
        pngs = self._plots(data)
        t = time.process_time()
        body = self._html(data, pngs, live, refresh, self_contained)
        path = os.path.join(self.out_dir, "report.html")
        _atomic_write(path, body.encode("utf-8"))
        self.cpu["html"] = time.process_time() - t
        return path

    def _plots(self, data: RunData) -> Dict[str, Optional[bytes]]:
        out: Dict[str, Optional[bytes]] = {}
        plot_dir = os.path.join(self.out_dir, "plots")
        os.makedirs(plot_dir, exist_ok=True)
        keys_path = os.path.join(plot_dir, ".keys.json")
        if not self._hashes:  # what another process (the live report) drew already
            try:
                with open(keys_path, encoding="utf-8") as fh:
                    self._hashes = dict(json.load(fh))
            except (OSError, ValueError):
                pass
        before = dict(self._hashes)
        for plot in PLOTS:
            name = plot.name
            digest = hashlib.sha1(repr((__version__, plot.key(data))).encode()).hexdigest()
            path = os.path.join(plot_dir, f"{name}.png")
            if os.path.exists(path) and (self._hashes.get(name) == digest or (
                    time.monotonic() - self._drawn_at.get(name, -1e9) < self.redraw_after)):
                out[name] = b"unchanged"
                continue
            t = time.process_time()
            png = plot.draw(data)
            self.cpu[f"plot {name}"] = time.process_time() - t
            out[name] = png
            if png is not None:
                _atomic_write(path, png)
                self._hashes[name] = digest
                self._drawn_at[name] = time.monotonic()
        if self._hashes != before:
            _atomic_write(keys_path, json.dumps(self._hashes).encode())
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
        job = m.get("job") or {}
        total = job.get("total") or job.get("budget")
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
               ("MPI", " ".join((m.get("mpi") or "none (serial)").split())),
               ("ranks", m.get("ranks")),
               ("nodes", len(m.get("nodes") or []) or len(data.nodes)),
               ("tasks", f"{c['ok']} ok, {c['failed']} failed of {c['tasks']}"
                         + (f" (of {total} planned)" if total and c["tasks"] < total else "")),
               ("throughput", f"{rate:,.1f} tasks/s" if rate else "n/a")]
        parts.append("<p class='header'>" + "".join(
            f"<span><b>{esc(k)}</b> {esc(v)}</span>" for k, v in hdr) + "</p>")
        if summary.get("job_summary"):
            parts.append(f"<p><b>result:</b> {esc(summary['job_summary'])}</p>")
        if (m.get("verdict") or {}).get("text"):   # analysis.py, made at the run's end
            parts.append(f"<p class='verdict'><b>What limited it:</b> "
                         f"{esc(m['verdict']['text'])}</p>")
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
            parts.append("<h2>Optimization</h2>" + self._optimization_words(data) + self._img(
                "convergence", pngs, self_contained, "best so far") + self._img(
                "pareto", pngs, self_contained, "Pareto front and hypervolume") +
                self._best(data) + self._img("curves", pngs, self_contained,
                                            "progress reported by each evaluation"))
        parts.append(self._results(data, pngs, self_contained))
        for plot in PLOTS:
            if plot.title is False:  # placed above with its own section
                continue
            img = self._img(plot.name, pngs, self_contained, plot.name)
            if img:
                parts.append((f"<h2>{esc(plot.title)}</h2>" if plot.title else "") + img)
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

    @staticmethod
    def _optimization_words(data: RunData) -> str:
        o = data.opt
        if not o:
            return ""
        words = []
        if len(o["objectives"]) > 1 and o.get("reference"):
            ref = ", ".join(f"{n} {v:.6g}" for n, v in o["reference"].items())
            hv = o.get("hypervolume")
            words.append(f"A Pareto front of {len(o['front'])} point(s); hypervolume "
                         f"{hv:.6g}{'' if o.get('hypervolume_exact', True) else ' (estimated)'} "
                         f"against the reference point ({ref}), {o['reference_source']}.")
        if o["constrained"]:
            first = o["first_feasible"]
            words.append(f"{o['feasible']} of {o['evaluations']} evaluations feasible" +
                         (f"; the first at evaluation {first}." if first else "; none yet."))
        if o["pruned"]:
            words.append(f"{o['pruned']} evaluation(s) stopped early by the pruner.")
        return "".join(f"<p>{esc(w)}</p>" for w in words)

    def _best(self, data: RunData) -> str:
        if data.opt.get("front"):
            return self._front(data)
        if not data.top:
            return "<p class='muted'>no successful evaluation yet</p>"
        rows = [(r.task, r.params, r.value) for r in data.top]
        names = list(rows[0][1]) if isinstance(rows[0][1], dict) else ["params"]
        est = ((data.meta.get("summary") or {}).get("best") or {})
        lead = ""
        if "method" in est:   # noisy values: the best is an estimate, not a row below
            sd = est.get("sd")
            spread = f" ± {sd:.3g}" if isinstance(sd, (int, float)) and math.isfinite(sd) else ""
            lead = (f"<p><b>Best (estimated: {esc(est['method'])}): {est['value']:.6g}{spread}"
                    f"</b> at trial {est.get('task')}: " + esc(", ".join(
                        f"{n} = {num(v)}" for n, v in (est.get("params") or {}).items()))
                    + f"; the value told there first {est.get('sample'):.6g}. The values are "
                    "noisy: the table below lists single draws, best first.</p>")
        head = "<tr><th>#</th><th>trial</th>" + "".join(
            f"<th>{esc(n)}</th>" for n in names) + "<th>value</th></tr>"
        body = "".join(
            f"<tr><td>{i + 1}</td><td>{t}</td>" + "".join(
                f"<td>{esc(num(p.get(n) if isinstance(p, dict) else p))}</td>" for n in names)
            + f"<td>{v:.6g}</td></tr>" for i, (t, p, v) in enumerate(rows))
        return f"{lead}<h3>Top {len(rows)}</h3><table>{head}{body}</table>"

    @staticmethod
    def _front(data: RunData) -> str:
        pts = data.opt["front"][:TOP]
        names = list(pts[0].get("params") or {})
        objs = data.opt["objectives"]
        head = "<tr><th>trial</th>" + "".join(f"<th>{esc(n)}</th>" for n in names + objs) + \
            "</tr>"
        body = "".join(
            f"<tr><td>{p['task']}</td>" + "".join(
                f"<td>{esc(num((p.get('params') or {}).get(n)))}</td>" for n in names) +
            "".join(f"<td>{p['values'][n]:.6g}</td>" for n in objs) + "</tr>" for p in pts)
        more = len(data.opt["front"]) - len(pts)
        note = (f"<p class='muted'>{more} more front point(s) in best.json.</p>"
                if more > 0 else "")
        return (f"<h3>The front, by {esc(objs[0])}</h3><table>{head}{body}</table>" + note)

    def _results(self, data: RunData, pngs, self_contained: bool) -> str:
        """The first tasks as a table, and the results figure."""
        if not data.first_rows:
            return ""
        from ..store.export import bare, columns_of, fields, plain
        cols_in, cols_out = columns_of(data.first_rows)
        rows = [(r, dict(fields(r.params, "item", ".", plain)),
                 dict(fields(r.result, "result", ".", plain)) if r.ok else {})
                for r in data.first_rows]
        head = "<tr><th>task</th><th>status</th>" + "".join(
            f"<th>{esc(bare(c))}</th>" for c in cols_in + cols_out) + "</tr>"
        body = "".join(
            f"<tr><td>{r.task}</td><td>{esc(r.status)}</td>" + "".join(
                f"<td>{esc(num(i.get(c)) if c in i else '')}</td>" for c in cols_in)
            + "".join(f"<td>{esc(num(o.get(c)) if c in o else '')}</td>" for c in cols_out)
            + "</tr>" for r, i, o in rows)
        total = sum(data.task_status.values())
        hidden = data.result_columns()[3]
        more = (f"<p class='muted'>Not drawn: {esc(', '.join(hidden))}.</p>" if hidden else "")
        return (f"<h2>Results</h2><p class='muted'>the first {len(rows)} of {total} tasks; "
                "all of them in results.csv and <code>parc_mpi.load(run_dir)</code></p>"
                f"<table>{head}{body}</table>"
                + self._img("results", pngs, self_contained, "results") + more)

    def _net_table(self, data: RunData) -> str:
        rows = sorted(data.netbench, key=lambda r: (r.node, r.kind, r.size))
        body = "".join(
            f"<tr><td>{esc(r.node)}</td><td>{esc(r.kind)}</td><td>{r.size}</td>"
            f"<td>{esc(_fmt(r.p50, digits=2))}</td><td>{esc(_fmt(r.p99, digits=2))}</td>"
            f"<td>{esc(_fmt(r.mbps, digits=1))}</td><td>{esc(r.nic)}</td>"
            f"<td>{esc(r.link_mbit)}</td></tr>" for r in rows)
        from ..netkeep import describe
        source = describe(data.meta.get("netbench"))
        return ("<details><summary>network figures</summary>"
                + (f"<p class='muted'>{esc(source)}</p>" if source else "") +
                "<table><tr><th>node</th>"
                "<th>test</th><th>bytes</th><th>p50 µs</th><th>p99 µs</th><th>MB/s</th>"
                f"<th>interface</th><th>link Mbit/s</th></tr>{body}</table></details>")

    def _failures(self, data: RunData) -> str:
        failed, total = data.failed, data.n_failed_attempts
        if not failed:
            return ""
        out = [f"<h2>Failures ({total} attempts)</h2>"]
        for r in failed:
            shown = json.dumps(r.params, default=repr)
            out.append(f"<p>task {r.task} attempt {r.attempt + 1} on {esc(r.node)} rank "
                       f"{r.worker}: {esc(r.status)}; input {esc(shown)}</p>"
                       f"<pre>{esc(r.error)}</pre>")
        if total > len(failed):
            out.append(f"<p class='muted'>{total - len(failed)} more in run.sqlite</p>")
        return "".join(out)

    def _environment(self, m: Dict[str, Any]) -> str:
        keys = ("parc_mpi", "python", "platform", "mpi", "mpi4py", "ranks", "workers",
                "monitor_rank", "nodes", "job_file", "argv", "job")
        rows = "".join(f"<tr><th>{esc(k)}</th><td>{esc(json.dumps(m.get(k)) if isinstance(m.get(k), (dict, list)) else m.get(k))}</td></tr>"
                       for k in keys if k in m)
        hostfile = m.get("hostfile")
        extra = f"<h3>hostfile</h3><pre>{esc(hostfile)}</pre>" if hostfile else ""
        return f"<h2>Environment</h2><table>{rows}</table>{extra}"


class Plot(NamedTuple):
    """One figure of the report: add a plot by adding an entry to PLOTS."""

    name: str                                   # plots/<name>.png
    title: Any                                  # its section heading; None: under the
                                                # previous one; False: placed by _html
    draw: Callable[[RunData], Optional[bytes]]  # the PNG, or None when there is no data
    key: Callable[[RunData], tuple]             # what it depends on: same key, no redraw


def _samples_key(d: RunData) -> tuple:
    return (len(d.samples), sum(map(len, d.samples.values())))


PLOTS = (
    Plot("convergence", False,
         lambda d: (plots.convergence(*d.values(), d.goal, d.t0)
                    if d.kind == "optimize" else None),
         lambda d: (d.n_attempts,)),
    Plot("pareto", False,
         lambda d: (plots.pareto(*d.front_arrays()[:5], d.opt.get("hypervolume_history", []))
                    if d.evals else None),
         lambda d: (d.n_attempts,)),
    Plot("curves", False,
         lambda d: (plots.curves([np.array(c, dtype=float) for c in d.curves.values()],
                                 d.curve_pruned, d.goal) if d.curves else None),
         lambda d: (d.n_attempts, len(d.curves))),
    Plot("results", False, lambda d: plots.results(*d.result_columns()[:3]),
         lambda d: (d.n_attempts, d.task_status.get("ok", 0))),
    Plot("temperature", "Temperature", lambda d: plots.temperatures(d.samples, d.t0),
         _samples_key),
    Plot("load_memory", "CPU, load and memory", lambda d: plots.load_memory(d.samples, d.t0),
         _samples_key),
    Plot("timeline", "Tasks", lambda d: plots.timeline(d.task_rows(), d.lanes(), d.t0),
         lambda d: (d.n_attempts,)),
    Plot("throughput", None, lambda d: plots.throughput(d.throughput()),
         lambda d: (d.n_attempts,)),
    Plot("network", "Network", lambda d: plots.network(d.netbench),
         lambda d: (len(d.netbench),)),
    Plot("pairs", None, lambda d: plots.pair_heatmap(d.pairs), lambda d: (len(d.pairs),)),
)


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
