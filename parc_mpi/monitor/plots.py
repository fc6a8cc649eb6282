"""The report's figures: matplotlib's object API on the Agg canvas, never pyplot
(pyplot keeps figures alive in a long-running rank). Each function takes plain
data from ``rundata.RunData`` and returns PNG bytes, or None when there is nothing
to draw.
"""
from __future__ import annotations

import io
import math
from typing import Any, Dict, List, Optional, Tuple

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import (AutoLocator, FixedLocator, FuncFormatter, LogLocator,
                               MaxNLocator, NullFormatter, NullLocator)

DPI = 80
MAX_BARS = 4_000   # timeline bars drawn at most (the plot is 880 px wide): beyond,
                   # tasks are sampled evenly, so a million tasks draw as a density


def _png(fig: Figure) -> bytes:
    """One draw: the constrained layout already fits the figure, so no
    ``bbox_inches="tight"`` (it lays everything out a second time)."""
    FigureCanvasAgg(fig)
    _lean_ticks(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI)
    return buf.getvalue()


def _lean_ticks(fig: Figure) -> None:
    """At most about five ticks on an axis left to matplotlib's choice, and no
    unlabelled minor ticks: every tick is three lines and two texts to make and draw
    (about a millisecond each, most of what a small figure costs)."""
    seen = set()
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            if id(axis.major) in seen:   # shared by small multiples: set once
                continue
            seen.add(id(axis.major))
            if type(axis.get_major_locator()) is AutoLocator:
                axis.set_major_locator(MaxNLocator(5, steps=[1, 2, 2.5, 5, 10]))
            if type(axis.get_minor_formatter()) is NullFormatter:
                axis.set_minor_locator(NullLocator())


def size_label(n: float, _pos: Any = None) -> str:
    """1 B, 512 B, 1 KiB, 64 KiB, 4 MiB: message sizes as people read them."""
    for unit, scale in (("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= scale:
            v = n / scale
            return f"{v:.0f} {unit}" if v == int(v) else f"{v:.1f} {unit}"
    return f"{n:.0f} B"


def plain_label(v: float, _pos: Any = None) -> str:
    """10, 100, 1000, 0.5: no mathtext (``3x10^1`` is slow to lay out and to read)."""
    if v == 0:
        return "0"
    if abs(v) >= 1e6 or abs(v) < 1e-3:
        return f"{v:.0e}"
    return f"{v:g}"


def _plain_log(ax, axis: str = "y") -> None:
    """A log axis with plain labels on 1-2-5 steps, and no minor labels."""
    which = ax.yaxis if axis == "y" else ax.xaxis
    which.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0), numticks=12))
    which.set_major_formatter(FuncFormatter(plain_label))
    which.set_minor_formatter(NullFormatter())


def _size_axis(ax, sizes) -> None:
    """Message sizes on a log-2 axis, labelled at every other power of 4 or so."""
    lo, hi = max(1, min(sizes)), max(sizes)
    exps = range(int(math.floor(math.log2(lo))), int(math.ceil(math.log2(hi))) + 1)
    step = max(1, math.ceil(len(exps) / 8))
    ax.xaxis.set_major_locator(FixedLocator([2.0 ** e for e in exps][::step]))
    ax.xaxis.set_major_formatter(FuncFormatter(size_label))
    ax.xaxis.set_minor_formatter(NullFormatter())


def _figure(width: float, height: float, rows: int = 1, cols: int = 1, *,
            left: float = 0.7, right: float = 0.25, bottom: float = 0.5, top: float = 0.45,
            wgap: float = 0.8, hgap: float = 0.75) -> Figure:
    """A figure whose margins and gaps are fixed in inches. No layout engine: the
    constrained layout measured every text several times and was most of the cost of
    a report (seconds of CPU per figure on a Pi)."""
    fig = Figure(figsize=(width, height))
    ax_w = max((width - left - right - (cols - 1) * wgap) / cols, 0.1)
    ax_h = max((height - top - bottom - (rows - 1) * hgap) / rows, 0.1)
    fig.subplots_adjust(left=left / width, right=1 - right / width, bottom=bottom / height,
                        top=1 - top / height, wspace=wgap / ax_w, hspace=hgap / ax_h)
    return fig


def _grid(n: int, width: float = 4.4, height: float = 2.6):
    """Small multiples, one scale for all (set by :func:`_finish_grid` once drawn)."""
    cols = min(n, 3)
    rows = math.ceil(n / cols)
    fig = _figure(width * cols, height * rows + 0.3, rows, cols, top=0.75, hgap=0.45,
                  wgap=0.3)
    return fig, [fig.add_subplot(rows, cols, i + 1) for i in range(n)]


def _finish_grid(axes, xlabel: str, ylabel: str, ylim: Tuple[float, float]) -> None:
    """Give the small multiples one scale (every panel's x range, ``ylim``), tick
    labels and axis titles on the outer panels only, and the same tick marks on the
    inner ones drawn as one line per axis: a real tick is three lines and two texts
    to make and draw, and six panels of them were most of these figures' cost."""
    n, cols = len(axes), min(len(axes), 3)
    spans = [ax.get_xlim() for ax in axes]
    xlim = (min(a for a, _ in spans), max(b for _, b in spans))
    fig_w, fig_h = axes[0].figure.get_size_inches()
    marks = {}
    for axis, lim in (("x", xlim), ("y", ylim)):
        marks[axis] = [v for v in MaxNLocator(5).tick_values(*lim) if lim[0] <= v <= lim[1]]
    for i, ax in enumerate(axes):
        ax.set_xlim(xlim)
        ax.set_ylim(ylim)
        ax.tick_params(labelsize=7)
        box = ax.get_position()
        for axis, outer, size in (("x", i + cols >= n, box.height * fig_h),
                                  ("y", i % cols == 0, box.width * fig_w)):
            which = ax.xaxis if axis == "x" else ax.yaxis
            if outer:
                which.set_major_locator(FixedLocator(marks[axis]))
                continue
            which.set_major_locator(NullLocator())
            out = -3.5 / 72 / size   # matplotlib's tick length, in axes fractions
            pos = [v for t in marks[axis] for v in (t, t, np.nan)]
            across = [v for _t in marks[axis] for v in (0.0, out, np.nan)]
            if axis == "x":
                ax.plot(pos, across, transform=ax.get_xaxis_transform(), clip_on=False,
                        color="black", lw=0.8)
            else:
                ax.plot(across, pos, transform=ax.get_yaxis_transform(), clip_on=False,
                        color="black", lw=0.8)
        if i + cols >= n:
            ax.set_xlabel(xlabel, fontsize=8)
        if i % cols == 0:
            ax.set_ylabel(ylabel, fontsize=8)


def _spans(t: np.ndarray, on: np.ndarray):
    """(start, end) of each run of consecutive samples where ``on`` holds."""
    out, start = [], None
    for i in range(len(t) - 1):
        if on[i] and start is None:
            start = t[i]
        if start is not None and (not on[i] or i == len(t) - 2):
            out.append((start, t[i + 1] if on[i] else t[i]))
            start = None
    return out


def time_unit(samples: Dict[str, List[dict]], t0: float):
    """(divisor, label): seconds for runs under five minutes, else minutes."""
    end = max((x["t"] for s in samples.values() for x in s), default=t0)
    return (1.0, "seconds since start") if end - t0 < 300 else (60.0, "minutes since start")


def _series(s: List[dict], t0: float, *fields: str, unit: float = 60.0):
    """Time since t0 (in ``unit`` seconds, never negative), then one float array per
    field (None becomes nan)."""
    t = np.array([max(0.0, x["t"] - t0) / unit for x in s])
    return (t,) + tuple(np.array([np.nan if x.get(f) is None else float(x[f]) for x in s])
                        for f in fields)


def _style(n_points: int) -> Dict[str, Any]:
    """Lines, with visible markers when there are few points (one sample is a dot)."""
    return {"lw": 1.2, "marker": "o", "ms": 3} if n_points < 20 else {"lw": 1.2}


def temperatures(samples: Dict[str, List[dict]], t0: float) -> Optional[bytes]:
    """Small multiples, one panel per node: CPU (thermal zone) line, firmware points,
    spans shaded while throttled (red: under-voltage), 80/85 °C dashed."""
    nodes = [n for n, s in samples.items() if any(x.get("cpu_temp_c") is not None or
                                                   x.get("gpu_temp_c") is not None for x in s)]
    if not nodes:
        return None
    fig, axes = _grid(len(nodes))
    unit, xlabel = time_unit(samples, t0)
    lows: List[float] = []
    for ax, node in zip(axes, nodes):
        s = samples[node]
        t, cpu, gpu = _series(s, t0, "cpu_temp_c", "gpu_temp_c", unit=unit)
        masks = np.array([x.get("throttled") or 0 for x in s])
        for on, colour in ((masks & 0x1 != 0, "#f4a3a3"),
                           ((masks & 0xE != 0) & (masks & 0x1 == 0), "#f6d58e")):
            for a, b in _spans(t, on):
                ax.axvspan(a, b, color=colour, lw=0)
        lows.append(np.nanmin(cpu) if not np.all(np.isnan(cpu)) else 30.0)
        ax.plot(t, cpu, color="#c0392b", label="CPU (kernel thermal zone)", **_style(len(t)))
        if not np.all(np.isnan(gpu)):
            ax.plot(t, gpu, ".", color="#2c3e50", ms=3, label="firmware (vcgencmd)")
        for level, what in ((80, "80 °C: throttling starts"), (85, "85 °C: hard limit")):
            ax.axhline(level, color="grey", ls="--", lw=0.8)
            if ax is axes[0]:
                ax.text(0.01, level, what, transform=ax.get_yaxis_transform(), fontsize=6,
                        va="bottom", color="grey")
        ax.set_title(node, fontsize=9, y=1.0)
    _finish_grid(axes, xlabel, "°C", (min(30.0, min(lows) - 2), 90))
    axes[0].legend(fontsize=6, loc="lower right")
    fig.suptitle("Temperature (shaded: throttled; red: under-voltage)", fontsize=10)
    return _png(fig)


def load_memory(samples: Dict[str, List[dict]], t0: float) -> Optional[bytes]:
    nodes = [n for n, s in samples.items() if s]
    if not nodes:
        return None
    fig, axes = _grid(len(nodes))
    unit, xlabel = time_unit(samples, t0)
    top = 110.0
    for ax, node in zip(axes, nodes):
        s = samples[node]
        t, cpu, load, mem = _series(s, t0, "cpu_percent", "load1", "mem_percent", unit=unit)
        load = 100 * load / (s[-1].get("cores") or 1)
        style = _style(len(t))
        ax.plot(t, cpu, label="CPU %", **style)
        ax.plot(t, load, label="load1 / cores %", **style)
        ax.plot(t, mem, label="memory %", **style)
        ax.axhline(100, color="grey", lw=0.6)
        ax.axhline(90, color="grey", ls="--", lw=0.6)
        if ax is axes[0]:
            ax.text(0.01, 100, "all cores busy", transform=ax.get_yaxis_transform(),
                    fontsize=6, va="bottom", color="grey")
            ax.text(0.01, 90, "memory alert", transform=ax.get_yaxis_transform(),
                    fontsize=6, va="top", color="grey")
        if len(load) and not np.all(np.isnan(load)):
            top = max(top, float(np.nanmax(load)) + 5)
        ax.set_title(node, fontsize=9, y=1.0)
    _finish_grid(axes, xlabel, "%", (0, top))
    axes[0].legend(fontsize=7, loc="lower left", framealpha=0.8)
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
    fig = _figure(11, 0.35 * len(ranks) + 1.2, left=1.1, top=0.4, bottom=0.55)
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
    ax.set_title("Task timeline (black: failed; white: idle)", fontsize=10, y=1.0)
    return _png(fig)


def throughput(hist) -> Optional[bytes]:
    """Tasks finished per second over the run; ``hist``: (bin centres in seconds since
    the start, tasks/s), aggregated by the store."""
    if hist is None:
        return None
    centres, rate = hist
    fig = _figure(11, 2.2, top=0.4)
    ax = fig.add_subplot()
    ax.plot(centres, rate, lw=1.2)
    ax.set_xlabel("seconds since start", fontsize=8)
    ax.set_ylabel("tasks/s", fontsize=8)
    ax.set_title("Throughput", fontsize=10, y=1.0)
    ax.set_ylim(bottom=0)
    return _png(fig)


def convergence(values: np.ndarray, times: np.ndarray, goal: str, t0: float) -> Optional[bytes]:
    ok = ~np.isnan(values)
    if ok.sum() < 1:
        return None
    sign = -1.0 if goal == "max" else 1.0
    best = sign * np.fmin.accumulate(np.where(ok, sign * values, np.inf))
    n = np.arange(1, len(values) + 1)
    fig = _figure(11, 3.2, 1, 3, top=0.7, wgap=0.8)
    a1, a2, a3 = fig.add_subplot(1, 3, 1), fig.add_subplot(1, 3, 2), fig.add_subplot(1, 3, 3)
    a1.plot(n, best, lw=1.5)
    a1.set_xlabel("evaluations", fontsize=8)
    a1.set_title("best so far", fontsize=9, y=1.0)
    a2.plot(times - t0, best, lw=1.5)
    a2.set_xlabel("seconds", fontsize=8)
    a2.set_title("best so far against time", fontsize=9, y=1.0)
    a3.plot(n[ok], values[ok], ".", ms=3, alpha=0.6)
    a3.set_xlabel("evaluations", fontsize=8)
    a3.set_title("every value", fontsize=9, y=1.0)
    finite = values[ok]
    if len(finite) and np.all(finite > 0) and finite.max() / max(finite.min(), 1e-300) > 1e3:
        for a in (a1, a2, a3):
            a.set_yscale("log")
            _plain_log(a)
    for a in (a1, a2, a3):
        a.tick_params(labelsize=7)
    fig.suptitle(f"Optimization ({'highest' if goal == 'max' else 'lowest'} is best)",
                 fontsize=10)
    return _png(fig)


def pareto(F: np.ndarray, feasible: np.ndarray, front: np.ndarray, names: List[str],
           senses: List[str], history: List[List[float]]) -> Optional[bytes]:
    """Several objectives: the evaluations and their Pareto front (two objectives:
    a scatter with the front as a staircase; more: parallel coordinates, each
    objective scaled to its range, the front in colour), beside hypervolume against
    evaluations. ``F``: objective values as returned, one row per evaluation."""
    if len(F) == 0:
        return None
    fig = _figure(11, 3.6, 1, 2, top=0.45, bottom=0.6, wgap=0.9)
    a1, a2 = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
    other = feasible & ~front
    if F.shape[1] == 2:
        if (~feasible).any():
            a1.plot(F[~feasible, 0], F[~feasible, 1], "x", ms=4, color="0.65",
                    label="infeasible")
        a1.plot(F[other, 0], F[other, 1], ".", ms=4, color="C0", alpha=0.5, label="feasible")
        P = F[front]
        P = P[np.argsort(P[:, 0])]
        a1.plot(P[:, 0], P[:, 1], "o-", ms=4, color="C3", lw=1,
                drawstyle="steps-post" if senses[1] == "min" else "steps-pre",
                label=f"front ({len(P)})")
        if feasible.sum() >= 2:   # the feasible region's scale: far infeasible points clip
            lo, hi = F[feasible].min(axis=0), F[feasible].max(axis=0)
            pad = 0.08 * np.where(hi > lo, hi - lo, np.maximum(np.abs(hi), 1.0))
            a1.set_xlim(lo[0] - pad[0], hi[0] + pad[0])
            a1.set_ylim(lo[1] - pad[1], hi[1] + pad[1])
        a1.set_xlabel(f"{names[0]} ({senses[0]})", fontsize=8)
        a1.set_ylabel(f"{names[1]} ({senses[1]})", fontsize=8)
        a1.set_title("evaluations and the Pareto front", fontsize=9)
    else:
        lo, hi = F[feasible].min(axis=0), F[feasible].max(axis=0)
        Z = (F - lo) / np.where(hi > lo, hi - lo, 1.0)
        x = np.arange(F.shape[1])
        for row in Z[other][:500]:
            a1.plot(x, row, color="0.7", lw=0.5, alpha=0.5)
        for row in Z[front][:200]:
            a1.plot(x, row, color="C3", lw=1, alpha=0.8)
        a1.set_xticks(x)
        a1.set_xticklabels([f"{n} ({s})" for n, s in zip(names, senses)], fontsize=7)
        a1.set_ylabel("scaled to the feasible range", fontsize=8)
        a1.set_title(f"parallel coordinates: the front ({int(front.sum())}) in red",
                     fontsize=9)
    if F.shape[1] == 2:
        a1.legend(fontsize=7, loc="best")
    if history:
        h = np.array(history, dtype=float)
        a2.plot(h[:, 0], h[:, 1], lw=1.5)
    a2.set_xlabel("evaluations", fontsize=8)
    a2.set_title("hypervolume", fontsize=9)
    for a in (a1, a2):
        a.tick_params(labelsize=7)
    return _png(fig)


def curves(series: List[np.ndarray], pruned: List[bool], goal: str) -> Optional[bytes]:
    """Progress values each evaluation reported (``parc_mpi.report``): completed
    ones in colour, those stopped early in grey on top, an x where each stopped."""
    if not series:
        return None
    fig = _figure(11, 3.2, 1, 1, top=0.45)
    ax = fig.add_subplot(1, 1, 1)
    for c, p in sorted(zip(series, pruned), key=lambda x: x[1]):  # pruned last, on top
        if p:
            ax.plot(c[:, 0], c[:, 1], color="0.45", lw=0.8, alpha=0.8)
            ax.plot(c[-1:, 0], c[-1:, 1], "x", color="0.25", ms=5)
        else:
            ax.plot(c[:, 0], c[:, 1], color="C0", lw=0.9, alpha=0.6)
    vals = np.concatenate([c[:, 1] for c in series])
    vals = vals[np.isfinite(vals)]
    if len(vals) and np.all(vals > 0) and vals.max() / max(vals.min(), 1e-300) > 1e3:
        ax.set_yscale("log")
        _plain_log(ax)
    n_pruned = sum(pruned)
    ax.set_title(f"progress reported: {len(series) - n_pruned} completed (blue), "
                 f"{n_pruned} stopped early (grey, x where they stopped); "
                 f"{'higher' if goal == 'max' else 'lower'} "
                 "is better", fontsize=9)
    ax.set_xlabel("step", fontsize=8)
    ax.tick_params(labelsize=7)
    return _png(fig)


def network(rows: List[Any]) -> Optional[bytes]:
    """Latency and bandwidth against message size, one line per node (OSU style);
    ``rows`` are store.NetFigure records."""
    if not rows:
        return None
    nodes = sorted({r.node for r in rows})
    fig = _figure(11, 3.4, 1, 2, top=0.4, bottom=0.55, wgap=0.9)
    a1, a2 = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
    for node in nodes:
        lat = sorted((r.size, r.p50) for r in rows if r.node == node and r.kind == "latency")
        if lat:
            a1.plot(*zip(*lat), marker="o", ms=3, label=node)
        for kind, style in (("upload", "-"), ("download", "--")):
            bw = sorted((r.size, r.mbps) for r in rows if r.node == node and r.kind == kind)
            if bw:
                a2.plot(*zip(*bw), style, marker="o", ms=3, label=f"{node} {kind}")
    a2.axhline(117, color="grey", ls=":", lw=0.8, label="gigabit payload (117 MB/s)")
    sizes = [r.size for r in rows]
    for a, title, unit in ((a1, "latency p50 (one way)", "µs"), (a2, "bandwidth", "MB/s")):
        a.set_xscale("log", base=2)
        a.set_yscale("log")
        _size_axis(a, sizes)
        _plain_log(a)
        a.set_xlabel("message size", fontsize=8)
        a.set_ylabel(unit, fontsize=8)
        a.set_title(title, fontsize=9, y=1.0)
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
    fig = _figure(1.8 + 0.7 * len(nodes), 1.3 + 0.6 * len(nodes), left=0.8, bottom=0.8,
                  right=0.1, top=0.35)
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
    ax.set_title("1-byte latency between nodes, p50 µs", fontsize=9, y=1.0)
    fig.colorbar(im, ax=ax)
    return _png(fig)


def results(inputs: Dict[str, np.ndarray], outputs: Dict[str, np.ndarray],
            grid: Optional[tuple] = None) -> Optional[bytes]:
    """What the tasks returned: a histogram of each numeric output, each output
    against each numeric input, and a heat map when two inputs form a grid
    (``grid``: (x name, y name, output name))."""
    if not outputs:
        return None
    outs = list(outputs)
    ins = list(inputs)
    cols = 1 + len(ins) + (1 if grid else 0)
    fig = _figure(3.3 * cols, 2.6 * len(outs) + 0.3, len(outs), cols, left=0.7, top=0.6,
                  wgap=0.75, hgap=0.7)
    for i, name in enumerate(outs):
        y = outputs[name]
        ok = np.isfinite(y)
        ax = fig.add_subplot(len(outs), cols, i * cols + 1)
        if ok.any():
            ax.hist(y[ok], bins=min(40, max(5, int(np.sqrt(ok.sum())))), color="#3b7dd8")
        ax.set_xlabel(name, fontsize=8)
        ax.set_ylabel("tasks", fontsize=8)
        ax.tick_params(labelsize=7)
        for j, pname in enumerate(ins):
            ax = fig.add_subplot(len(outs), cols, i * cols + 2 + j)
            x = inputs[pname]
            sel = ok & np.isfinite(x)
            ax.plot(x[sel], y[sel], ".", ms=3, alpha=0.6, color="#48a868")
            ax.set_xlabel(pname, fontsize=8)
            ax.set_ylabel(name, fontsize=8)
            ax.tick_params(labelsize=7)
        if grid and name == grid[2]:
            gx, gy = inputs[grid[0]], inputs[grid[1]]
            xs, ys = np.unique(gx), np.unique(gy)
            m = np.full((len(ys), len(xs)), np.nan)
            m[np.searchsorted(ys, gy), np.searchsorted(xs, gx)] = y
            ax = fig.add_subplot(len(outs), cols, i * cols + cols)
            im = ax.imshow(m, origin="lower", aspect="auto", cmap="viridis",
                           extent=(-0.5, len(xs) - 0.5, -0.5, len(ys) - 0.5))
            step_x, step_y = -(-len(xs) // 6), -(-len(ys) // 6)
            ax.set_xticks(range(0, len(xs), step_x))
            ax.set_xticklabels([f"{v:.3g}" for v in xs[::step_x]], fontsize=7)
            ax.set_yticks(range(0, len(ys), step_y))
            ax.set_yticklabels([f"{v:.3g}" for v in ys[::step_y]], fontsize=7)
            ax.set_xlabel(grid[0], fontsize=8)
            ax.set_ylabel(grid[1], fontsize=8)
            ax.set_title(f"{name} over the grid", fontsize=8, y=1.0)
            fig.colorbar(im, ax=ax)
    fig.suptitle("Results", fontsize=10)
    return _png(fig)
