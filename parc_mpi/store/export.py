"""``results.csv``: a table a spreadsheet reads, one row per task, fixed columns.

- the task's input: a dict item or the optimizer's parameters give one column per key,
  a tuple or list item ``item_0, item_1, ...``, a scalar item ``item``;
- its output: a dict result ``result.<key>`` per key, a tuple or list
  ``result_0, ...``, a scalar ``result``;
- arrays and other objects are summarised by their type (``<ndarray float64 3x4>``):
  the value itself is in ``run.sqlite`` and ``parc_mpi.load``;
- numbers at full precision.

The columns come from the first rows (up to ``SAMPLE``); a key that appears only
later is left out of the CSV (never out of the store).
"""
from __future__ import annotations

import csv
import json
import math
import os
from typing import Any, Iterable, Iterator, List, Optional, Tuple

from .values import type_name

SAMPLE = 1000
MAX_SPREAD = 20   # a tuple or list longer than this stays in one column


def _scalar(value: Any) -> Any:
    """A CSV cell for a single value."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else str(value)
    if isinstance(value, complex):
        return str(value)
    item = getattr(value, "item", None)
    if item is not None and getattr(value, "ndim", 1) == 0:  # numpy scalar
        return _scalar(item())
    if isinstance(value, (list, dict)):
        try:
            return json.dumps(value, allow_nan=True)
        except (TypeError, ValueError):
            pass
    return type_name(value)


def plain(value: Any) -> Any:
    """A value as itself, numpy scalars as Python numbers (for tables and figures)."""
    item = getattr(value, "item", None)
    if item is not None and getattr(value, "ndim", 1) == 0:
        return item()
    return value


def fields(value: Any, prefix: str, sep: str, cell=_scalar) -> List[Tuple[str, Any]]:
    """(column, cell) pairs for one value: dict keys, sequence positions, or one;
    ``cell`` makes each value a CSV cell (or, with :func:`plain`, keeps it)."""
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return [(f"{prefix}{sep}{k}" if prefix else k, cell(v)) for k, v in value.items()]
    if isinstance(value, (tuple, list)) and 0 < len(value) <= MAX_SPREAD:
        return [(f"{prefix}_{i}", cell(v)) for i, v in enumerate(value)]
    return [(prefix, cell(value))]


def columns_of(rows: Iterable[Any], param_names: Optional[List[str]] = None
               ) -> Tuple[List[str], List[str]]:
    """(input columns, output columns) of result records, in first-seen order: the
    parameter names when given, else the item's fields; the successful results' fields."""
    in_cols: List[str] = list(param_names or [])
    out_cols: List[str] = []
    for r in rows:
        if not param_names:
            for c, _v in fields(r.params, "item", "."):
                if c not in in_cols:
                    in_cols.append(c)
        if r.ok:
            for c, _v in fields(r.result, "result", "."):
                if c not in out_cols:
                    out_cols.append(c)
    return in_cols, out_cols


def bare(column: str) -> str:
    """A dict item's field is shown by its key alone (``beta``, not ``item.beta``)."""
    return column[len("item."):] if column.startswith("item.") else column


def write_csv(path: str, reader, param_names: Optional[List[str]] = None) -> str:
    """Write ``results.csv`` from a RunReader's final attempts (task order) through a
    temporary file and a rename; return the path. One streaming pass: the common case
    (a scalar item and a scalar result) costs little more than SQLite's read."""
    from .reader import _result
    in_cols, out_cols = columns_of(reader.final_results(limit=SAMPLE), param_names)
    if not out_cols:
        out_cols = ["result"]
    if not in_cols:
        in_cols = ["item"]
    head = (["task", "status", "attempts"] + [bare(c) for c in in_cols]
            + out_cols + ["worker", "node", "seconds", "error"])
    scalar = not param_names and in_cols == ["item"] and out_cols == ["result"]
    tmp = path + ".tmp"
    with open(tmp, "w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(head)
        plain = reader.plain_final_rows() if scalar else None
        rows = reader.iter_final_raw() if plain is None else None
        if plain is not None:
            out.writerows(plain)          # every value a plain number: SQLite's rows as-is
        elif scalar:
            out.writerows(_scalar_rows(rows))
        else:
            for raw in rows:
                r = _result(raw)
                if param_names:
                    p = r.params if isinstance(r.params, dict) else {}
                    ins = {n: _scalar(p.get(n)) for n in param_names}
                else:
                    ins = dict(fields(r.params, "item", "."))
                outs = dict(fields(r.result, "result", ".")) if r.ok else {}
                out.writerow([r.task, r.status, r.attempt + 1]
                             + [ins.get(c) for c in in_cols]
                             + [outs.get(c) for c in out_cols]
                             + [r.worker, r.node,
                                None if r.seconds is None else round(r.seconds, 6),
                                r.error_line])
    os.replace(tmp, path)
    return path


def _scalar_rows(rows: Iterator[tuple]) -> Iterator[tuple]:
    """CSV rows for a scalar item and a scalar result, straight from SQL rows:
    native numbers pass untouched, anything encoded is decoded and summarised."""
    from .values import decode_lenient
    native = (int, float, type(None))
    for _seq, task, attempt, status, params, _value, result, error, worker, node, t0, t1 \
            in rows:
        if params.__class__ not in native:
            params = _scalar(decode_lenient(params))
        if result.__class__ not in native:
            result = _scalar(decode_lenient(result))
        yield (task, status, attempt + 1, params, result, worker, node,
               None if t0 is None or t1 is None else round(t1 - t0, 6),
               error.strip().splitlines()[-1] if error else "")
