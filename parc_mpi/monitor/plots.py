"""The report's figures: matplotlib's object API on the Agg canvas, never pyplot
(pyplot keeps figures alive in a long-running rank). Each function takes plain
data from ``rundata.RunData`` and returns PNG bytes, or None when there is nothing
to draw.
"""
from __future__ import annotations

import io
import math
from typing import Dict, List, Optional

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

DPI = 80
MAX_BARS = 20_000  # timeline bars drawn at most; beyond, tasks are sampled evenly


def _png(fig: Figure) -> bytes:
    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, bbox_inches="tight")
    return buf.getvalue()


def _grid(n: int, width: float = 4.0, height: float = 2.4):
    cols = min(n, 3)
    rows = math.ceil(n / cols)
    fig = Figure(figsize=(width * cols, height * rows), layout="constrained")
    axes = [fig.add_subplot(rows, cols, i + 1) for i in range(n)]
    return fig, axes


def _series(s: List[dict], t0: float, *fields: str):
    """Minutes since t0, then one float array per field (None becomes nan)."""
    t = np.array([(x["t"] - t0) / 60 for x in s])
    return (t,) + tuple(np.array([np.nan if x.get(f) is None else float(x[f]) for x in s])
                        for f in fields)


def temperatures(samples: Dict[str, List[dict]], t0: float) -> Optional[bytes]:
    """Small multiples, one panel per node: CPU (thermal zone) line, firmware points,
    spans shaded while throttled (red: under-voltage), 80/85 °C dashed."""
    nodes = [n for n, s in samples.items() if any(x.get("cpu_temp_c") is not None or
                                                   x.get("gpu_temp_c") is not None for x in s)]
    if not nodes:
        return None
    fig, axes = _grid(len(nodes))
    for ax, node in zip(axes, nodes):
        s = samples[node]
        t, cpu, gpu = _series(s, t0, "cpu_temp_c", "gpu_temp_c")
        for i in range(len(s) - 1):
            mask = s[i].get("throttled") or 0
            if mask & 0x1:
                ax.axvspan(t[i], t[i + 1], color="#f4a3a3", lw=0)
            elif mask & 0xE:
                ax.axvspan(t[i], t[i + 1], color="#f6d58e", lw=0)
        ax.plot(t, cpu, color="#c0392b", lw=1.2, label="CPU (kernel thermal zone)")
        if not np.all(np.isnan(gpu)):
            ax.plot(t, gpu, ".", color="#2c3e50", ms=3, label="firmware (vcgencmd)")
        for level in (80, 85):
            ax.axhline(level, color="grey", ls="--", lw=0.8)
        ax.set_ylim(min(30, np.nanmin(cpu) - 2 if not np.all(np.isnan(cpu)) else 30), 90)
        ax.set_title(node, fontsize=9)
        ax.set_xlabel("minutes", fontsize=8)
        ax.set_ylabel("°C", fontsize=8)
        ax.tick_params(labelsize=7)
    axes[0].legend(fontsize=6, loc="lower right")
    fig.suptitle("Temperature (shaded: throttled; red: under-voltage)", fontsize=10)
    return _png(fig)


def load_memory(samples: Dict[str, List[dict]], t0: float) -> Optional[bytes]:
    nodes = [n for n, s in samples.items() if s]
    if not nodes:
        return None
    fig, axes = _grid(len(nodes))
    for ax, node in zip(axes, nodes):
        s = samples[node]
        t, cpu, load, mem = _series(s, t0, "cpu_percent", "load1", "mem_percent")
        load = 100 * load / (s[-1].get("cores") or 1)
        ax.plot(t, cpu, lw=1, label="CPU %")
        ax.plot(t, load, lw=1, label="load1 / cores %")
        ax.plot(t, mem, lw=1, label="memory %")
        ax.axhline(100, color="grey", lw=0.6)
        ax.axhline(90, color="grey", ls="--", lw=0.6)
        ax.set_ylim(0, max(110, float(np.nanmax(load)) + 5 if len(load) and
                           not np.all(np.isnan(load)) else 110))
        ax.set_title(node, fontsize=9)
        ax.set_xlabel("minutes", fontsize=8)
        ax.tick_params(labelsize=7)
    axes[0].legend(fontsize=6, loc="upper left")
    fig.suptitle("CPU, load and memory", fontsize=10)
    return _png(fig)


def timeline(tasks: np.ndarray, lanes: List[tuple], t0: float) -> Optional[bytes]:
    """One lane per worker rank, grouped by node: a bar per task (black: failed);
    white gaps are idle time. ``tasks`` rows: worker, t_start, t_end, ok."""
    if len(tasks) == 0:
        return None
    if len(tasks) > MAX_BARS:
        tasks = tasks[np.linspace(0, len(tasks) - 1, MAX_BARS).astype(int)]
    ranks = [r for r, _node in lanes]
    row = {r: i for i, r in enumerate(ranks)}
    span = float(tasks[:, 2].max() - tasks[:, 1].min()) or 1.0
    min_width = span / 1500  # a task too short to see still gets a sliver
    fig = Figure(figsize=(11, 0.35 * len(ranks) + 1.2), layout="constrained")
    ax = fig.add_subplot()
    palette = ["#3b7dd8", "#48a868", "#d8883b", "#8e5bd8", "#d85b8e", "#5bc0d8"]
    nodes = []
    for r, node in lanes:
        if node not in nodes:
            nodes.append(node)
    for r, node in lanes:
        sel = tasks[tasks[:, 0] == r]
        if not len(sel):
            continue
        color = palette[nodes.index(node) % len(palette)]
        spans = [(a - t0, max(b - a, min_width)) for a, b in sel[:, 1:3]]
        colors = [color if ok else "black" for ok in sel[:, 3]]
        ax.broken_barh(spans, (row[r] - 0.4, 0.8), facecolors=colors, lw=0)
    ax.set_yticks(range(len(ranks)))
    ax.set_yticklabels([f"{node} r{r}" for r, node in lanes], fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("seconds since start", fontsize=8)
    ax.set_title("Task timeline (black: failed; white: idle)", fontsize=10)
    return _png(fig)


def throughput(ends: np.ndarray, t0: float) -> Optional[bytes]:
    if len(ends) < 2:
        return None
    t = ends - t0
    span = max(float(t.max()), 1e-3)
    bins = max(10, min(200, int(len(t) / 5)))
    counts, edges = np.histogram(t, bins=bins, range=(0, span))
    width = edges[1] - edges[0]
    fig = Figure(figsize=(11, 2.2), layout="constrained")
    ax = fig.add_subplot()
    ax.plot(edges[:-1] + width / 2, counts / width, lw=1.2)
    ax.set_xlabel("seconds since start", fontsize=8)
    ax.set_ylabel("tasks/s", fontsize=8)
    ax.set_title("Throughput", fontsize=10)
    ax.set_ylim(bottom=0)
    return _png(fig)


def convergence(values: np.ndarray, times: np.ndarray, goal: str, t0: float) -> Optional[bytes]:
    ok = ~np.isnan(values)
    if ok.sum() < 1:
        return None
    sign = -1.0 if goal == "max" else 1.0
    best = sign * np.fmin.accumulate(np.where(ok, sign * values, np.inf))
    n = np.arange(1, len(values) + 1)
    fig = Figure(figsize=(11, 3), layout="constrained")
    a1, a2, a3 = fig.add_subplot(1, 3, 1), fig.add_subplot(1, 3, 2), fig.add_subplot(1, 3, 3)
    a1.plot(n, best, lw=1.5)
    a1.set_xlabel("evaluations", fontsize=8)
    a1.set_title("best so far", fontsize=9)
    a2.plot(times - t0, best, lw=1.5)
    a2.set_xlabel("seconds", fontsize=8)
    a2.set_title("best so far against time", fontsize=9)
    a3.plot(n[ok], values[ok], ".", ms=3, alpha=0.6)
    a3.set_xlabel("evaluations", fontsize=8)
    a3.set_title("every value", fontsize=9)
    finite = values[ok]
    if len(finite) and np.all(finite > 0) and finite.max() / max(finite.min(), 1e-300) > 1e3:
        for a in (a1, a2, a3):
            a.set_yscale("log")
    for a in (a1, a2, a3):
        a.tick_params(labelsize=7)
    fig.suptitle(f"Optimisation ({'highest' if goal == 'max' else 'lowest'} is best)",
                 fontsize=10)
    return _png(fig)


def network(rows: List[dict]) -> Optional[bytes]:
    """Latency and bandwidth against message size, one line per node (OSU style)."""
    if not rows:
        return None
    nodes = sorted({r["node"] for r in rows})
    fig = Figure(figsize=(11, 3.2), layout="constrained")
    a1, a2 = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
    for node in nodes:
        lat = sorted((r["size"], r["p50"]) for r in rows
                     if r["node"] == node and r["kind"] == "latency")
        if lat:
            a1.plot(*zip(*lat), marker="o", ms=3, label=node)
        for kind, style in (("upload", "-"), ("download", "--")):
            bw = sorted((r["size"], r["mbps"]) for r in rows
                        if r["node"] == node and r["kind"] == kind)
            if bw:
                a2.plot(*zip(*bw), style, marker="o", ms=3, label=f"{node} {kind}")
    a2.axhline(117, color="grey", ls=":", lw=0.8, label="gigabit payload (117 MB/s)")
    for a, title, unit in ((a1, "latency p50 (one way)", "µs"), (a2, "bandwidth", "MB/s")):
        a.set_xscale("log", base=2)
        a.set_yscale("log")
        a.set_xlabel("message size (bytes)", fontsize=8)
        a.set_ylabel(unit, fontsize=8)
        a.set_title(title, fontsize=9)
        a.tick_params(labelsize=7)
        a.legend(fontsize=6)
    return _png(fig)


def pair_heatmap(pairs: List[tuple]) -> Optional[bytes]:
    if not pairs:
        return None
    nodes = sorted({a for a, *_ in pairs} | {b for _a, b, *_ in pairs})
    idx = {n: i for i, n in enumerate(nodes)}
    m = np.full((len(nodes), len(nodes)), np.nan)
    for a, b, p50, _p99 in pairs:
        m[idx[a], idx[b]] = m[idx[b], idx[a]] = p50
    fig = Figure(figsize=(1.0 + 0.7 * len(nodes), 0.8 + 0.6 * len(nodes)),
                 layout="constrained")
    ax = fig.add_subplot()
    im = ax.imshow(m, cmap="viridis_r")
    for i in range(len(nodes)):
        for j in range(len(nodes)):
            if not np.isnan(m[i, j]):
                ax.text(j, i, f"{m[i, j]:.0f}", ha="center", va="center", fontsize=7,
                        color="white")
    ax.set_xticks(range(len(nodes)))
    ax.set_xticklabels(nodes, fontsize=7, rotation=45)
    ax.set_yticks(range(len(nodes)))
    ax.set_yticklabels(nodes, fontsize=7)
    ax.set_title("1-byte latency between nodes, p50 µs", fontsize=9)
    fig.colorbar(im, ax=ax)
    return _png(fig)
