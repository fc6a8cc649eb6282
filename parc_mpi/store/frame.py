"""The final attempt of every task as columns, folded incrementally: what the
dashboard's results and optimization views sort, filter, bin and sample, and what the
report's result figures draw (one reader for both, so they agree).

Each column holds one float per task (``nan`` where the task has no number there) in
a compact ``array('d')``, plus the cells that are not numbers (text, arrays) by row.
A 100,000-task sweep with a dozen columns is about 10 MB, and a poll folds only the
attempts committed since the last one (a rowid range), as the dashboard's tracker does.

No numpy at import: :meth:`ResultFrame.numbers` hands a column to numpy when a view
asks for one.
"""
from __future__ import annotations

import math
import threading
from array import array
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

from .export import _scalar, bare, fields, plain
from .reader import RunReader
from .values import type_name

NAN = math.nan
FIXED = ("task", "status", "attempts", "value", "seconds", "node", "worker")
OPS = ("<=", ">=", "!=", "=", "<", ">")   # longest first: the parser tries them in order
MAX_TEXT = 200


class FilterError(ValueError):
    """A filter the table cannot apply; the message names the clause."""


class Column:
    """One column: ``num[row]`` the number (nan when none), ``text[row]`` a cell that
    is not a number, ``kind`` input, output or fixed; ``array`` the (dtype, shape) of
    its first array cell, when it holds numeric arrays."""

    __slots__ = ("name", "kind", "num", "text", "array")

    def __init__(self, name: str, kind: str, rows: int):
        self.name, self.kind = name, kind
        self.num = array("d", [NAN]) * rows if rows else array("d")
        self.text: Dict[int, str] = {}
        self.array: Optional[Tuple[str, List[int]]] = None

    def set(self, row: int, value: Any) -> None:
        kind = value.__class__
        if kind is float or kind is int:   # the common case first
            self.num[row] = value
            if self.text:
                self.text.pop(row, None)
            return
        value = plain(value)
        kind = value.__class__
        if kind is float or kind is int or kind is bool:
            self.num[row] = float(value)
            self.text.pop(row, None)
            return
        self.num[row] = NAN
        shape = getattr(value, "shape", None)
        dtype = getattr(value, "dtype", None)
        if shape and dtype is not None and getattr(dtype, "kind", "") in "biuf" \
                and len(shape) <= 2:
            if self.array is None:
                self.array = (str(dtype), [int(s) for s in shape])
            self.text[row] = type_name(value)
            return
        if isinstance(value, (int, float)):   # Fraction, Decimal, subclasses
            try:
                self.num[row] = float(value)
                return
            except (TypeError, ValueError, OverflowError):
                pass
        cell = _scalar(value)
        if isinstance(cell, str):
            self.text[row] = cell if len(cell) <= MAX_TEXT else cell[:MAX_TEXT - 1] + "…"
        elif cell is None:
            self.text.pop(row, None)
        else:
            try:
                self.num[row] = float(cell)
            except (TypeError, ValueError):
                self.text[row] = str(cell)

    def clear(self, row: int) -> None:
        self.num[row] = NAN
        self.text.pop(row, None)

    def describe(self) -> Dict[str, Any]:
        return {"name": self.name, "kind": self.kind,
                "numeric": any(x == x for x in self.num),
                "array": {"dtype": self.array[0], "shape": self.array[1]}
                if self.array else None}


class ResultFrame:
    """The final attempt of every task of one run, as columns (see the module's
    docstring). ``fold(reader)`` takes in what was committed since the last call;
    every other method reads under the frame's lock."""

    BATCH = 20_000

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self._reset()

    def _reset(self) -> None:
        self.seq = 0
        self.rows = 0
        self.row_of: Dict[int, int] = {}
        self.seqs = array("q")
        self.statuses: List[str] = []       # status words, by code
        self.nodes: List[Optional[str]] = []
        self._status_code: Dict[str, int] = {}
        self._node_code: Dict[Optional[str], int] = {}
        self.columns: Dict[str, Column] = {}
        for name in FIXED:
            self.columns[name] = Column(name, "fixed", 0)
        self.inputs: List[str] = []
        self.outputs: List[str] = []

    # -- folding ---------------------------------------------------------------
    def _code(self, table: Dict, names: List, word) -> int:
        code = table.get(word)
        if code is None:
            code = table[word] = len(names)
            names.append(word)
        return code

    def _column(self, name: str, kind: str) -> Column:
        col = self.columns.get(name)
        if col is None:
            col = self.columns[name] = Column(name, kind, self.rows)
            (self.inputs if kind == "input" else self.outputs).append(name)
        return col

    def fold(self, reader: RunReader) -> bool:
        """Take in the attempts committed since the last call; True when any came."""
        with self.lock:
            if reader.last_seq() < self.seq:   # a replaced store
                self._reset()
            came = False
            while True:
                got = reader.results(after=self.seq, limit=self.BATCH)
                self._add_all(got)
                if got:
                    self.seq = got[-1].seq
                    came = True
                if len(got) < self.BATCH:
                    return came

    def add(self, results: Iterable[Any]) -> "ResultFrame":
        """Take in result records read elsewhere (a report's sample of the run), in
        commit order; returns the frame."""
        with self.lock:
            self._add_all(results)
        return self

    def _add_all(self, results: Iterable[Any]) -> None:
        for r in results:
            self._add(r)

    def _add(self, r) -> None:
        cols = self.columns
        row = self.row_of.get(r.task)
        if row is None:
            row = self.row_of[r.task] = self.rows
            self.rows += 1
            self.seqs.append(r.seq)
            for col in cols.values():
                col.num.append(NAN)
        else:   # a later attempt of the same task replaces the row
            self.seqs[row] = r.seq
            for name in self.outputs:
                cols[name].clear(row)
        cols["task"].num[row] = r.task
        cols["status"].num[row] = self._code(self._status_code, self.statuses, r.status)
        cols["attempts"].num[row] = r.attempt + 1
        cols["value"].num[row] = NAN if r.value is None else r.value
        cols["seconds"].num[row] = NAN if r.seconds is None else r.seconds
        cols["node"].num[row] = self._code(self._node_code, self.nodes, r.node)
        cols["worker"].num[row] = NAN if r.worker is None else r.worker
        self._cells(r.params, "item", "input", row)
        if r.ok:
            self._cells(r.result, "result", "output", row)

    def _cells(self, value: Any, prefix: str, kind: str, row: int) -> None:
        cols = self.columns
        if value.__class__ is dict:   # the common case: no list of pairs made
            for key, v in value.items():
                name = key if kind == "input" else f"result.{key}"
                col = cols.get(name)
                if col is None or col.kind != kind:
                    break
                col.set(row, v)
            else:
                return
        for name, v in fields(value, prefix, ".", plain):
            if kind == "input" and bare(name) not in FIXED:   # an item's "node" stays item.node
                name = bare(name)
            self._column(name, kind).set(row, v)

    # -- reading -------------------------------------------------------------
    def plot_columns(self, limit: int = 12) -> Dict[str, List[str]]:
        """The inputs and outputs a plot can use: those with a number in some row (text
        cells count as gaps, arrays are left out), at most ``limit`` of each."""
        def numeric(names):
            return [n for n in names if self.columns[n].array is None
                    and any(x == x for x in self.columns[n].num)][:limit]
        return {"inputs": numeric(self.inputs), "outputs": numeric(self.outputs)}

    def numbers(self, name: str):
        """A column's numbers as a numpy array (a copy: the frame may grow)."""
        import numpy as np
        return np.array(self.columns[name].num, dtype=float)

    def described(self) -> List[Dict[str, Any]]:
        """Every column a table can show or sort by, in order: task, status, attempts,
        the inputs, the outputs, value, seconds, node, worker."""
        order = ["task", "status", "attempts"] + self.inputs + self.outputs + [
            "value", "seconds", "node", "worker"]
        out = []
        for name in order:
            col = self.columns[name]
            d = col.describe()
            if name in ("status", "node"):
                d["numeric"] = False
            out.append(d)
        return out

    def _text_key(self, name: str) -> List[Any]:
        col = self.columns[name]
        if name == "status":
            return [self.statuses[int(c)] for c in col.num]
        if name == "node":
            return [self.nodes[int(c)] or "" for c in col.num]
        return [col.text.get(i, "") for i in range(self.rows)]

    def order(self, sort: str, descending: bool = False, mask=None):
        """Row indices sorted by column ``sort`` (numbers before text, empty cells
        last in either direction, ties by task), only where ``mask`` holds."""
        import numpy as np
        if sort not in self.columns:
            raise FilterError(f"no column {sort!r} to sort by; the columns are "
                              f"{', '.join(c['name'] for c in self.described())}")
        rows = np.arange(self.rows) if mask is None else np.flatnonzero(mask)
        task = self.numbers("task")[rows]
        if sort in ("status", "node") or (self.columns[sort].text and not np.isfinite(
                self.numbers(sort)[rows]).any()):
            keys = self._text_key(sort)
            picked = [keys[i] for i in rows]
            empty = np.array([k == "" for k in picked])
            uniq = sorted(set(picked))
            rank = {k: i for i, k in enumerate(uniq)}
            key = np.array([rank[k] for k in picked], dtype=float)
        else:
            key = self.numbers(sort)[rows]
            empty = np.isnan(key)
        key = np.where(empty, 0.0, -key if descending else key)
        idx = np.lexsort((task, key, empty))
        return rows[idx]

    def mask(self, clauses: Sequence[str]):
        """Rows that meet every clause: ``COLUMN OP VALUE`` with OP one of
        ``= != < <= > >=``; a number compares as one, a word with = and != as text
        (status=ok, node=pi2)."""
        import numpy as np
        keep = np.ones(self.rows, dtype=bool)
        for clause in clauses:
            clause = clause.strip()
            if not clause:
                continue
            for op in OPS:
                name, sep, value = clause.partition(op)
                if sep and name.strip():
                    break
            else:
                raise FilterError(f"filter {clause!r}: write COLUMN OP VALUE, with OP one of "
                                  "= != < <= > >=")
            name, value = name.strip(), value.strip()
            if name not in self.columns:
                raise FilterError(f"filter {clause!r}: no column {name!r}")
            try:
                number = float(value)
            except ValueError:
                number = None
            if name in ("status", "node") or number is None:
                if op not in ("=", "!="):
                    raise FilterError(f"filter {clause!r}: {value!r} is not a number, so "
                                      "only = and != apply")
                hit = np.array([k == value for k in self._text_key(name)], dtype=bool)
                if op == "!=":
                    hit = ~hit
            else:
                x = self.numbers(name)
                with np.errstate(invalid="ignore"):
                    hit = {"=": x == number, "!=": x != number, "<": x < number,
                           "<=": x <= number, ">": x > number, ">=": x >= number}[op]
            keep &= hit
        return keep

    def seqs_of(self, rows: Iterable[int]) -> List[int]:
        return [self.seqs[int(i)] for i in rows]

    def ok_mask(self):
        import numpy as np
        code = self._status_code.get("ok")
        if code is None:
            return np.zeros(self.rows, dtype=bool)
        return self.numbers("status") == code

    def levels(self, name: str, limit: int = 50):
        """The distinct numbers of a column when there are at most ``limit``, else None."""
        import numpy as np
        x = self.numbers(name)
        x = x[np.isfinite(x)]
        if not len(x):
            return None
        u = np.unique(x)
        return u if len(u) <= limit else None

    def categories(self, name: str, limit: int = 50) -> Optional[List[str]]:
        """A text column's distinct cells (a categorical parameter), when few."""
        col = self.columns[name]
        if not col.text or col.array:
            return None
        cats = sorted(set(col.text.values()))
        return cats if len(cats) <= limit else None


def frame_of(run_dir: str) -> ResultFrame:
    """A frame of a run read once (the report; the dashboard keeps one per run)."""
    f = ResultFrame()
    with RunReader(run_dir) as r:
        f.fold(r)
    return f
