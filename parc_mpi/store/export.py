"""``results.csv``: a table a spreadsheet reads, one row per task, fixed columns.

- the task's input: a dict item or the optimizer's parameters give one column per key,
  a tuple or list item ``item_0, item_1, ...``, a scalar item ``item``;
- its output: a dict result ``result.<key>`` per key, a tuple or list
  ``result_0, ...``, a scalar ``result``;
- a 1-D array of up to ``MAX_SPREAD`` values spreads like a list; other arrays and
  objects are summarised by their type (``<ndarray float64 3x4>``): the value itself
  is in ``run.sqlite`` and ``parc_mpi.load``;
- numbers at full precision, as numbers: numpy's scalars, ``Decimal`` and
  ``Fraction`` too (``pandas.read_csv`` reads them back as numbers).

The columns come from the first rows (up to ``SAMPLE``); a key that appears only
later is left out of the CSV (never out of the store).
"""
from __future__ import annotations

import csv
import io
import json
import math
import os
from decimal import Decimal
from fractions import Fraction
from typing import Any, Dict, Iterable, Iterator, List, Optional, Tuple

from .values import decode_lenient, type_name

SAMPLE = 1000
HEAD = ["task", "status", "attempts", "item", "result", "worker", "node", "seconds", "error"]
#       the columns of one item and one result; others replace item and result
MAX_SPREAD = 20   # a tuple or list longer than this stays in one column


def _scalar(value: Any) -> Any:
    """A CSV cell for a single value: numbers as numbers a spreadsheet or
    ``pandas.read_csv`` reads back (numpy's scalars, Decimal and Fraction too, whose
    ``repr`` is not one), anything else summarised."""
    cls = value.__class__
    if value is None or cls is bool or cls is int or cls is str:
        return value
    if isinstance(value, float):   # float subclasses (numpy.float64) too
        value = float(value)
        return repr(value) if math.isfinite(value) else str(value)
    if isinstance(value, (bool, int, str)):   # an IntEnum, a str subclass: their value
        return (bool if isinstance(value, bool) else int if isinstance(value, int)
                else str)(value)
    if isinstance(value, complex):
        return str(complex(value))
    if isinstance(value, Fraction):
        return _scalar(float(value))
    if isinstance(value, Decimal):   # exact as written; NaN and infinity as float's
        return str(value) if value.is_finite() else str(float(value))
    item = getattr(value, "item", None)
    if item is not None and getattr(value, "ndim", 1) == 0:  # a numpy scalar or 0-d array
        plain_value = item()
        if plain_value.__class__ is cls:   # numpy.longdouble: item() keeps it
            return _scalar(float(value))
        return _scalar(plain_value)
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
    if getattr(value, "ndim", None) == 1 and hasattr(value, "tolist") \
            and 0 < len(value) <= MAX_SPREAD:   # a short 1-D numpy array, as a list
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
    in_cols, out_cols = columns_of(reader.final_results(limit=SAMPLE), param_names)
    if not out_cols:
        out_cols = ["result"]
    if not in_cols:
        in_cols = ["item"]
    head = HEAD[:3] + [bare(c) for c in in_cols] + out_cols + HEAD[-4:]
    scalar = not param_names and in_cols == ["item"] and out_cols == ["result"]
    repeats = None
    if param_names:   # an optimization: its repeated evaluations say so (repeats=)
        from .optimization import repeat_map
        meta = reader.meta()
        if (meta.get("job") or {}).get("repeats"):
            repeats = repeat_map(reader, meta=meta)
            head.append("repeat_of")
    tmp = path + ".tmp"
    try:
        return _write_csv(path, tmp, reader, head, scalar, in_cols, out_cols, param_names,
                          repeats)
    except OSError:   # a full disk: no half file left behind
        try:
            os.remove(tmp)
        except OSError:
            pass
        raise


def _write_csv(path, tmp, reader, head, scalar, in_cols, out_cols, param_names,
               repeats=None) -> str:
    plain = reader.plain_final_rows() if scalar else None
    rows = reader.iter_final_raw() if plain is None else None
    try:
        _write_rows(tmp, reader, head, scalar, in_cols, out_cols, param_names, plain, rows,
                    repeats)
    finally:   # a write that failed half-way: the read ends now, with its store open
        if rows is not None:
            rows.close()
    os.replace(tmp, path)
    return path


def _write_rows(tmp, reader, head, scalar, in_cols, out_cols, param_names, plain, rows,
                repeats=None):
    from .reader import _result
    with open(tmp, "w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(head)
        if plain is not None:
            out.writerows(plain)          # every value a plain number: SQLite's rows as-is
        elif scalar:
            out.writerows(_scalar_rows(rows))
        else:
            for raw in rows:
                r = _result(raw)
                out.writerow(_csv_row(r, in_cols, out_cols, param_names)
                             + ([] if repeats is None else [repeats.get(r.task)]))


def _csv_row(r, in_cols, out_cols, param_names=None) -> list:
    """One results.csv row of a result record, in the columns given."""
    if param_names:
        p = r.params if isinstance(r.params, dict) else {}
        ins = {n: _scalar(p.get(n)) for n in param_names}
    else:
        ins = dict(fields(r.params, "item", "."))
    outs = dict(fields(r.result, "result", ".")) if r.ok else {}
    return ([r.task, r.status, r.attempt + 1] + [ins.get(c) for c in in_cols]
            + [outs.get(c) for c in out_cols]
            + [r.worker, r.node, None if r.seconds is None else round(r.seconds, 6),
               r.error_line])


def rows_csv(chunks: Iterable[List[Any]]) -> bytes:
    """Result records (chunks of them, in the order given) as CSV bytes in
    results.csv's columns: what the dashboard's filtered table downloads."""
    import itertools
    chunks = iter(chunks)
    first = next(chunks, [])
    in_cols, out_cols = columns_of(first[:SAMPLE])
    in_cols, out_cols = in_cols or ["item"], out_cols or ["result"]
    buf = io.StringIO()
    out = csv.writer(buf)
    out.writerow(HEAD[:3] + [bare(c) for c in in_cols] + out_cols + HEAD[-4:])
    for chunk in itertools.chain([first], chunks):
        out.writerows(_csv_row(r, in_cols, out_cols) for r in chunk)
    return buf.getvalue().encode("utf-8")


_NATIVE = (int, float, type(None))
_OK = "ok"


def _scalar_cells(task, attempt, status, params, result, error, worker, node, t0, t1):
    """One CSV row of a scalar item and a scalar result, from a store row's values:
    native numbers pass untouched, anything encoded is decoded and summarised."""
    if params.__class__ not in _NATIVE:
        params = _scalar(decode_lenient(params))
    if result.__class__ not in _NATIVE:
        result = _scalar(decode_lenient(result))
    return (task, status, attempt + 1, params, result, worker, node,
            None if t0 is None or t1 is None else round(t1 - t0, 6),
            error.strip().splitlines()[-1] if error else "")


def _scalar_rows(rows: Iterator[tuple]) -> Iterator[tuple]:
    """CSV rows for a scalar item and a scalar result, straight from SQL rows."""
    for _seq, task, attempt, status, params, _value, result, error, worker, node, t0, t1 \
            in rows:
        yield _scalar_cells(task, attempt, status, params, result, error, worker, node, t0, t1)


def sheet_text(rows: List[tuple]) -> Optional[str]:
    """The ``results.csv`` lines of a map batch's store rows (``rows_for``), made where
    the tasks ran, when they are the common case: consecutive tasks, first attempts,
    all ok, items and results plain numbers, one worker on a node whose name needs no
    quoting. None otherwise (rank 0 then writes those rows itself). The lines are
    what ``csv.writer`` makes of the same cells, at half its cost."""
    if not rows:
        return None
    worker, node = rows[0][7], rows[0][8]
    if node.__class__ is not str or any(ch in node for ch in ',"\r\n'):
        return None
    tail = f",{worker},{node},"
    number = (int, float)
    out = []
    append = out.append
    expect = rows[0][0]
    for task, attempt, params, status, _v, result, _e, w, _n, t0, t1 in rows:
        if task != expect or attempt or status != _OK or w != worker \
                or params.__class__ not in number or result.__class__ not in number:
            return None
        expect += 1
        append(f"{task},ok,1,{params!r},{result!r}{tail}{round(t1 - t0, 6)!r},\r\n")
    return "".join(out)


class CsvStream:
    """``results.csv`` of a map run written while the results arrive, in task order,
    so that the end of a million-task run does not read the store back to write it.

    The scheduler adds each task's final attempt (store rows, and the lines the
    worker made of them, :func:`sheet_text`); rows that arrive ahead of an earlier
    task wait in memory until the gap fills. The file is ``results.csv.part`` until
    :meth:`finish` renames it. The stream gives up (and the end of the run writes the
    file from the store as before) when the table is not one item and one result
    (the first ``SAMPLE`` tasks decide, as :func:`write_csv` does), or when more than
    ``HOLD`` tasks wait behind a gap (a lost node's tasks run again late)."""

    HOLD = 200_000

    def __init__(self, path: str, first_task: int = 0):
        self.path = path
        self.part = path + ".part"
        self.next = first_task
        self.held: Dict[int, Tuple[int, Any]] = {}   # first task -> (end, text or row)
        self.waiting = 0           # tasks held behind a gap
        self.written = 0           # rows in the file
        self.retried = False       # an attempt after the first was written
        self.reason = ""           # why the stream gave up, when it did
        try:
            self.fh = open(self.part, "w", newline="", encoding="utf-8")
        except OSError as exc:
            self.fh = None
            self.reason = f"cannot write {self.part}: {exc.strerror}"
            return
        self.out = csv.writer(self.fh)
        self.out.writerow(HEAD)

    @property
    def live(self) -> bool:
        return self.fh is not None

    def add(self, rows: List[tuple], text: Optional[str] = None) -> None:
        """Final attempts (store rows); ``text`` their lines when the worker made them
        (then the rows are consecutive tasks)."""
        if self.fh is None or not rows:
            return
        if text is not None:
            first, end = rows[0][0], rows[-1][0] + 1
            self.held[first] = (end, text)
            self.waiting += end - first
        else:
            for row in rows:
                self.held[row[0]] = (row[0] + 1, row)
                self.waiting += 1
        self._emit()
        if self.waiting > self.HOLD:
            self.give_up(f"more than {self.HOLD:,} results waited for an earlier task")

    def _emit(self) -> None:
        held = self.held
        while self.fh is not None:
            entry = held.pop(self.next, None)
            if entry is None:
                return
            end, chunk = entry
            try:
                self._write(chunk, end)
            except OSError as exc:   # a full disk: the store still has every row
                self.give_up(f"cannot write {self.part}: {exc.strerror}")

    def _write(self, chunk: Any, end: int) -> None:
        n = end - self.next if chunk.__class__ is str else 1
        if chunk.__class__ is str:
            self.fh.write(chunk)
        else:
            task, attempt, params, status, _v, result, error, worker, node, t0, t1 = chunk
            if self.written < SAMPLE and (params.__class__ not in _NATIVE or (
                    status == _OK and result.__class__ not in _NATIVE)):
                self.give_up("the items or results are not plain numbers")
                return
            if attempt:
                self.retried = True
            self.out.writerow(_scalar_cells(task, attempt, status, params, result, error,
                                            worker, node, t0, t1))
        self.waiting -= n
        self.written += n
        self.next = end

    def give_up(self, reason: str) -> None:
        """Stop streaming; the end of the run writes results.csv from the store."""
        if self.fh is None:
            return
        self.reason = reason
        self.fh.close()
        self.fh = None
        self.held.clear()
        try:
            os.remove(self.part)
        except OSError:
            pass

    def finish(self, expected: Optional[int] = None) -> Optional[str]:
        """Write what still waits (tasks never run leave no row), and put the file in
        place when it holds ``expected`` rows (when given); return its path, or None
        when the stream gave up (the caller writes the file from the store)."""
        if self.fh is None:
            return None
        for first in sorted(self.held):
            end, chunk = self.held.pop(first)
            self.next = first
            try:
                self._write(chunk, end)
            except OSError as exc:
                self.give_up(f"cannot write {self.part}: {exc.strerror}")
            if self.fh is None:
                return None
        if expected is not None and expected != self.written:
            self.give_up(f"{self.written} rows written, {expected} tasks stored")
            return None
        try:
            self.fh.close()
            self.fh = None
            os.replace(self.part, self.path)
        except OSError as exc:
            self.fh = None
            self.reason = f"cannot write {self.path}: {exc.strerror}"
            return None
        return self.path
