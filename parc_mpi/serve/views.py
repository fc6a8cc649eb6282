"""The dashboard's result, optimization and activity views: what each draws, made from
a :class:`~parc_mpi.store.frame.ResultFrame` (the final attempt of every task as
columns) or from SQL aggregates, binned or sampled so that a 100,000-task run's answer
stays small (docs/dashboard.md gives each view's rule). No HTTP here."""
from __future__ import annotations

import math
from typing import Any, Dict, List, Optional, Sequence

from ..store import RunReader
from ..store.frame import ResultFrame

SAMPLE = 1500        # rows of a scatter or slice plot's sample
MAX_LEVELS = 100     # distinct values of a parameter drawn as a line or a heat map axis
BINS = 30            # bins of a histogram
MAX_PLOT_COLUMNS = 12
THUMB = 24           # side of an array's picture in the table
DETAIL = 96          # ... in a task's detail view
CONTOUR = 30         # grid of the contour plot
STREAM_BARS = 1500   # tasks drawn one by one in a task stream; more become a density
DENSITY_BINS = 120


def _list(x) -> List[Optional[float]]:
    """A numpy array as a JSON list, 4 significant digits (a plot needs no more, and
    the answer stays small), nan as None."""
    import numpy as np
    x = np.asarray(x, dtype=float)
    out = []
    for v in x.tolist():
        out.append(None if v != v or v in (math.inf, -math.inf) else float(f"{v:.4g}"))
    return out


def _even(idx, n: int):
    """At most ``n`` of the indices ``idx``, taken evenly."""
    import numpy as np
    if len(idx) <= n:
        return idx
    return idx[np.linspace(0, len(idx) - 1, n).round().astype(int)]


def sweep(frame: ResultFrame) -> Dict[str, Any]:
    """A sweep's views: a sample of the successful rows for scatter plots (each output
    against each input, coloured by another), the mean per level of every input with
    few values (lines, over every row), a heat map of each output over the first two
    such inputs when they form a grid, and a histogram of each output."""
    import numpy as np
    with frame.lock:
        cols = frame.plot_columns(MAX_PLOT_COLUMNS)
        ins, outs = cols["inputs"], cols["outputs"]
        if not outs and any(x == x for x in frame.columns["value"].num):
            outs = ["value"]
        ok = frame.ok_mask()
        rows = np.flatnonzero(ok)
        picked = _even(rows, SAMPLE)
        data = {name: frame.numbers(name) for name in ins + outs}
        sample = {"task": _list(frame.numbers("task")[picked]),
                  **{name: _list(data[name][picked]) for name in ins + outs}}
        levels = {}
        for name in ins:
            lv = frame.levels(name, MAX_LEVELS)
            if lv is not None:
                levels[name] = lv
    lines: Dict[str, Dict[str, Any]] = {}
    for name, lv in levels.items():
        x = data[name][rows]
        pos = np.searchsorted(lv, x)
        good = np.isfinite(x)
        per = {}
        for out in outs:
            y = data[out][rows]
            use = good & np.isfinite(y)
            n = np.bincount(pos[use], minlength=len(lv))
            s = np.bincount(pos[use], weights=y[use], minlength=len(lv))
            with np.errstate(invalid="ignore", divide="ignore"):
                per[out] = _list(np.where(n > 0, s / np.maximum(n, 1), np.nan))
        lines[name] = {"x": _list(lv), "mean": per}
    heat = None
    grid = [n for n in ins if n in levels and len(levels[n]) > 1][:2]
    if len(grid) == 2 and len(levels[grid[0]]) * len(levels[grid[1]]) <= 10_000:
        a, b = grid
        la, lb = levels[a], levels[b]
        xa, xb = data[a][rows], data[b][rows]
        good = np.isfinite(xa) & np.isfinite(xb)
        ia, ib = np.searchsorted(la, xa[good]), np.searchsorted(lb, xb[good])
        cell = ia * len(lb) + ib
        cells = {}
        for out in outs:
            y = data[out][rows][good]
            use = np.isfinite(y)
            n = np.bincount(cell[use], minlength=len(la) * len(lb))
            s = np.bincount(cell[use], weights=y[use], minlength=len(la) * len(lb))
            with np.errstate(invalid="ignore", divide="ignore"):
                m = np.where(n > 0, s / np.maximum(n, 1), np.nan)
            cells[out] = [_list(r) for r in m.reshape(len(la), len(lb))]
        heat = {"x": a, "y": b, "x_levels": _list(la), "y_levels": _list(lb),
                "mean": cells, "filled": int(len(np.unique(cell)))}
    hist = {}
    for out in outs:
        y = data[out][rows]
        y = y[np.isfinite(y)]
        if len(y):
            counts, edges = np.histogram(y, bins=BINS if np.ptp(y) > 0 else 1)
            hist[out] = {"edges": _list(edges), "counts": counts.tolist()}
    return {"inputs": ins, "outputs": outs, "rows": int(len(rows)),
            "sample": sample, "sampled": int(len(picked)), "lines": lines, "heat": heat,
            "histograms": hist}


def thumb(value: Any, side: int = THUMB) -> Optional[Dict[str, Any]]:
    """A numeric 1-D or 2-D array as a small picture: its shape, range and at most
    ``side`` values a side (block means), or None for anything else."""
    shape = getattr(value, "shape", None)
    dtype = getattr(value, "dtype", None)
    if not shape or dtype is None or getattr(dtype, "kind", "") not in "biuf" \
            or len(shape) > 2 or 0 in shape:
        return None
    import numpy as np
    a = np.asarray(value, dtype=float)
    finite = a[np.isfinite(a)]
    lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (None, None)
    if a.ndim == 1:
        k = -(-len(a) // (side * 4))   # a sparkline has four times the points
        small = _blocks(a, (k,))
    else:
        k = (-(-a.shape[0] // side), -(-a.shape[1] // side))
        small = _blocks(a, k)
    return {"$array": True, "dtype": str(dtype), "shape": [int(s) for s in shape],
            "min": lo, "max": hi,
            "data": _list(small) if small.ndim == 1 else [_list(r) for r in small]}


def _blocks(a, k):
    """Means over blocks of ``k`` (nan-aware), a downsampled copy of ``a``."""
    import numpy as np
    if all(s == 1 for s in k):
        return a
    pad = [(0, (-n) % s) for n, s in zip(a.shape, k)]
    b = np.pad(a, pad, constant_values=np.nan)
    if a.ndim == 1:
        b = b.reshape(-1, k[0])
        axes = (1,)
    else:
        b = b.reshape(b.shape[0] // k[0], k[0], b.shape[1] // k[1], k[1])
        axes = (1, 3)
    with np.errstate(invalid="ignore"):
        import warnings
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return np.nanmean(b, axis=axes)


def importance(frame: ResultFrame, names: Sequence[str], rows) -> List[Dict[str, Any]]:
    """Each parameter's share of the objective's variation: the correlation ratio
    of the values' ranks over 10 quantile bins of the parameter (a category: its
    levels), less what as many bins explain of pure noise (epsilon squared), normalised
    to sum to 1. A first-order, fANOVA-style
    estimate from the evaluations alone; an optimizer samples near its best, which
    this does not correct for."""
    import numpy as np
    y = frame.numbers("value")[rows]
    good = np.isfinite(y)
    if good.sum() < 8:
        return []
    ranks = np.empty(good.sum())
    ranks[np.argsort(y[good], kind="stable")] = np.arange(good.sum())
    total = ranks.var()
    out = []
    for name in names:
        x = _coded(frame, name)[rows][good]
        use = np.isfinite(x)
        if use.sum() < 8 or total == 0:
            out.append({"name": name, "importance": 0.0})
            continue
        lv = np.unique(x[use])
        if len(lv) > 10:
            edges = np.quantile(x[use], np.linspace(0, 1, 11)[1:-1])
            b = np.searchsorted(edges, x[use], side="right")
        else:
            b = np.searchsorted(lv, x[use])
        r = ranks[use]
        n = np.bincount(b)
        m = np.bincount(b, weights=r) / np.maximum(n, 1)
        eta2 = float((n * (m - r.mean()) ** 2).sum() / len(r) / total)
        k = int((n > 0).sum())
        # epsilon squared: eta squared less what k bins explain of pure noise
        eps2 = 1 - (1 - eta2) * (len(r) - 1) / max(len(r) - k, 1)
        out.append({"name": name, "importance": max(0.0, eps2)})
    s = sum(o["importance"] for o in out)
    for o in out:
        o["importance"] = round(o["importance"] / s, 4) if s > 0 else 0.0
    return sorted(out, key=lambda o: -o["importance"])


def _coded(frame: ResultFrame, name: str):
    """A parameter's numbers; a categorical one's cells as the index of their level."""
    import numpy as np
    x = frame.numbers(name)
    cats = frame.categories(name)
    if cats:
        pos = {c: i for i, c in enumerate(cats)}
        for row, cell in frame.columns[name].text.items():
            x[row] = pos.get(cell, np.nan)
    return x


IMPORTANCE_METHOD = ("each parameter's share of the variation of the values' ranks, "
                     "from binning the evaluations by that parameter alone, less what as "
                     "many bins explain of pure noise (a first-order, "
                     "fANOVA-style estimate; it ignores interactions, and an optimizer's "
                     "samples crowd near its best)")


def optimization(frame: ResultFrame, space: Optional[Dict[str, Any]]) -> Dict[str, Any]:
    """An optimization's views over its evaluations: a sample (each evaluation's
    parameters and value, the best 100 always in it) for the slice plots and parallel
    coordinates, the parameters ranked by importance, and a contour of the value over
    the two most important numeric ones (interpolated between the evaluations with the
    other parameters ignored, as optuna-dashboard's is)."""
    import numpy as np
    with frame.lock:
        names = [n for n in (list(space) if space else frame.inputs) if n in frame.columns]
        ok = frame.ok_mask()
        value = frame.numbers("value")
        rows = np.flatnonzero(ok & np.isfinite(value))
        best = rows[np.argsort(value[rows], kind="stable")]
        cats = {n: frame.categories(n) for n in names}
        coded = {n: _coded(frame, n) for n in names}
        ranked = importance(frame, names, rows)
        task = frame.numbers("task")
    goal_rows = best if len(best) <= SAMPLE else np.union1d(
        _even(rows, SAMPLE - 100), np.concatenate([best[:50], best[-50:]]))
    picked = np.sort(goal_rows)
    params = []
    for n in names:
        p = {"name": n, "values": _list(coded[n][picked])}
        if cats[n]:
            p["categories"] = cats[n]
        spec = (space or {}).get(n) or {}
        if isinstance(spec, dict) and spec.get("log"):
            p["log"] = True
        params.append(p)
    out: Dict[str, Any] = {"sample": {"task": _list(task[picked]),
                                      "value": _list(value[picked]),
                                      "params": params},
                           "sampled": int(len(picked)), "evaluated": int(len(rows)),
                           "importance": ranked, "importance_method": IMPORTANCE_METHOD}
    numeric = [r["name"] for r in ranked if not cats.get(r["name"])]
    if len(numeric) >= 2 and len(rows) >= 10:
        out["contour"] = _contour(coded[numeric[0]][rows], coded[numeric[1]][rows],
                                  value[rows], numeric[0], numeric[1])
    return out


def _contour(x, y, v, xname: str, yname: str) -> Optional[Dict[str, Any]]:
    import numpy as np
    good = np.isfinite(x) & np.isfinite(y) & np.isfinite(v)
    x, y, v = x[good], y[good], v[good]
    if len(v) < 10 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return None
    if len(v) > 3000:   # Delaunay on a sample: the best half always in it
        order = np.argsort(v)
        keep = np.union1d(order[:1500], _even(np.arange(len(v)), 1500))
        x, y, v = x[keep], y[keep], v[keep]
    from scipy.interpolate import griddata
    gx = np.linspace(x.min(), x.max(), CONTOUR)
    gy = np.linspace(y.min(), y.max(), CONTOUR)
    mx, my = np.meshgrid(gx, gy)
    try:
        z = griddata((x, y), v, (mx, my), method="linear")
    except Exception:   # all points on a line: scipy's Qhull refuses (QhullError)
        return None
    return {"x": xname, "y": yname, "x_grid": _list(gx), "y_grid": _list(gy),
            "z": [_list(r) for r in z],
            "points": {"x": _list(_even(x, 500)), "y": _list(_even(y, 500))},
            "method": "linear interpolation between the evaluations over these two "
                      "parameters, the others ignored"}


def activity(run_dir: str, now: Optional[float] = None) -> Dict[str, Any]:
    """Throughput over time (tasks ended per bin, at most 120 bins) and the task
    stream: which worker ran what, when; each task as a bar while there are at most
    STREAM_BARS, else each worker's busy share per time bin (a density). One read of
    the attempts' times, binned here."""
    import numpy as np
    with RunReader(run_dir) as r:
        few = r.last_seq() <= STREAM_BARS   # the row id: at least as many as attempts
        lanes = sorted((w, nd or "") for w, nd in r.lanes())
        rows = r.stream(bars=True) if few else None
        arr = (np.array([(w, a, b) for w, _t, a, b, _ok in rows], dtype=float).reshape(-1, 3)
               if few else np.array(r.stream(bars=False), dtype=float).reshape(-1, 3))
    n = len(arr)
    if not n:
        return {"attempts": 0, "throughput": None, "stream": None}
    first, last = float(arr[:, 1].min()), float(arr[:, 2].max())
    span = max(last - first, 1e-3)
    width = max(span / 120, min(1.0, span / 10))   # at most 120 bins, 1 s once long
    counts = np.bincount(((arr[:, 2] - first) / width).astype(int))
    throughput = {"t0": first, "width": width,
                  "per_second": [round(c / width, 3) for c in counts.tolist()]}
    lane = {w: i for i, (w, _nd) in enumerate(lanes)}
    stream: Dict[str, Any] = {"t0": first, "t1": last,
                              "workers": [{"worker": w, "node": nd} for w, nd in lanes]}
    if rows is not None:
        stream["bars"] = [[lane.get(w, 0), t, round(a - first, 4), round(b - first, 4), int(ok)]
                          for w, t, a, b, ok in rows]
    else:
        edges = np.linspace(first, last, DENSITY_BINS + 1)
        order = np.argsort(arr[:, 0], kind="stable")
        arr = arr[order]
        cut = np.searchsorted(arr[:, 0], [w for w, _nd in lanes] + [np.inf])
        dens = []
        for i in range(len(lanes)):
            mine = arr[cut[i]:cut[i + 1]]
            busy = _covered(np.sort(mine[:, 1]), np.sort(mine[:, 2]), edges)
            dens.append(_list(np.clip(np.diff(busy) / np.diff(edges), 0, None)))
        stream["density"] = {"edges": _list(edges - first), "busy": dens}
    return {"attempts": int(n), "throughput": throughput, "stream": stream}


def _covered(starts, ends, edges):
    """The busy time up to each edge: the sum over tasks of how long each had run by
    then (tasks' starts and ends each sorted; O(n log n))."""
    import numpy as np
    def part(t):
        k = np.searchsorted(t, edges, side="right")
        c = np.concatenate([[0.0], np.cumsum(t)])
        return k * edges - c[k]
    return part(starts) - part(ends)
