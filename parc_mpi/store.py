"""The run directory and its SQLite journal (WAL mode).

``runs/<name>-<timestamp>/`` holds ``run.sqlite`` (metadata, every task attempt
with its parameters, result or error, worker rank, node and times), and at the
end ``results.csv`` and, for optimize jobs, ``best.json``.

Rows are written in batches, one transaction per flush, so a Pi's SD card sees a
few commits a second at most. A result is counted (in progress, by an optimizer,
by a generator) only after the transaction that holds it has committed, so a
crash of any process at any moment loses nothing that was counted.

Values are stored natively when they are ints or floats, else as JSON text.
"""
from __future__ import annotations

import csv
import json
import os
import sqlite3
import time
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS results (
    seq INTEGER PRIMARY KEY,      -- order in which results were committed
    task INTEGER NOT NULL,        -- task id: item index (map), trial id (optimize)
    attempt INTEGER NOT NULL,     -- 0 for the first try
    status TEXT NOT NULL,         -- ok | failed | timeout
    params,                       -- the item or parameters (number or JSON text)
    value REAL,                   -- the result as a number, when it is one
    result,                       -- the result (number or JSON text)
    error TEXT,                   -- traceback of a failed attempt
    worker INTEGER,               -- MPI rank
    node TEXT,                    -- host name of the worker
    t_start REAL,                 -- epoch seconds on the worker
    t_end REAL
);
CREATE TABLE IF NOT EXISTS asks (       -- adaptive jobs: every take, for --resume's replay
    seq INTEGER PRIMARY KEY,
    after INTEGER NOT NULL,       -- results told to the source before this take
    n INTEGER NOT NULL,           -- how many tasks were asked for
    tasks TEXT NOT NULL           -- JSON [[task, encoded argument], ...]
);
CREATE TABLE IF NOT EXISTS nodes (      -- written by the monitor: one row per node
    node TEXT PRIMARY KEY, ranks TEXT, facts TEXT, baseline_throttled INTEGER,
    first_seen REAL, last_seen REAL
);
CREATE TABLE IF NOT EXISTS samples (    -- health samples (sensors.Sensors.sample)
    node TEXT NOT NULL, t REAL NOT NULL, data TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS netbench (   -- main node -> node: latency (us) and bandwidth (MB/s)
    node TEXT NOT NULL, peer_rank INTEGER, kind TEXT NOT NULL, size INTEGER NOT NULL,
    p50 REAL, p90 REAL, p99 REAL, min REAL, mean REAL, mbps REAL, iterations INTEGER,
    seconds REAL, nic TEXT, link_mbit INTEGER
);
CREATE TABLE IF NOT EXISTS pairs (      -- small-message latency between node pairs (us)
    a TEXT NOT NULL, b TEXT NOT NULL, p50 REAL, p99 REAL
);
"""
INSERT_RESULTS = ("INSERT INTO results(task, attempt, params, status, value, result, error, "
                  "worker, node, t_start, t_end) VALUES (?,?,?,?,?,?,?,?,?,?,?)")
ROW_STATUS = 3  # positions in a results row, as rows_for() makes them
ROW_VALUE = 4

STATUS_OK = "ok"
STATUS_FAILED = "failed"
STATUS_TIMEOUT = "timeout"


class StoreError(RuntimeError):
    """The run directory or its store cannot be used; the message names the path."""


def _json_default(obj: Any) -> Any:
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if isinstance(obj, (set, frozenset)):
        return sorted(obj, key=repr)
    return repr(obj)


def encode(value: Any) -> Any:
    """A value for an SQLite column: int and float natively, the rest as JSON."""
    kind = type(value)
    if kind is int or kind is float:
        return value
    if value is None:
        return None
    return json.dumps(value, default=_json_default, allow_nan=True)


def decode(value: Any) -> Any:
    if isinstance(value, str):
        return json.loads(value)
    return value


def numeric(value: Any) -> Optional[float]:
    """The result as a finite or infinite float when it is a real number, else None."""
    kind = type(value)
    if kind is float or kind is int:
        return float(value)
    if isinstance(value, bool) or value is None:
        return None
    try:
        import numpy as np  # numpy scalars are common results
        if isinstance(value, (np.integer, np.floating)):
            return float(value)
    except ImportError:  # pragma: no cover
        pass
    return None


def make_run_dir(base: str, name: str) -> str:
    """Create ``base/<name>-<timestamp>`` (a suffix keeps it unique)."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name) or "job"
    try:
        os.makedirs(base, exist_ok=True)
    except OSError as exc:
        raise StoreError(f"{base}: cannot create the runs folder: {exc.strerror}") from None
    for i in range(1000):
        path = os.path.join(base, f"{safe}-{stamp}" + (f"-{i}" if i else ""))
        try:
            os.mkdir(path)
            return path
        except FileExistsError:
            continue
        except OSError as exc:
            raise StoreError(f"{path}: cannot create the run directory: {exc.strerror}") from None
    raise StoreError(f"{base}: too many runs named {safe}-{stamp}")


class Store:
    """The run's SQLite journal: rank 0 writes results, the monitor (its own
    connection) writes health samples and network results."""

    def __init__(self, run_dir: str, sync: str = "normal"):
        self.run_dir = run_dir
        self.path = os.path.join(run_dir, "run.sqlite")
        try:
            self.db = sqlite3.connect(self.path, timeout=30, isolation_level=None,
                                      check_same_thread=False)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute(f"PRAGMA synchronous={'FULL' if sync == 'full' else 'NORMAL'}")
            self.db.executescript(SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path}: cannot open the run store: {exc}") from None
        self._uncommitted = 0  # rows inserted in the open transaction

    # -- metadata -----------------------------------------------------------
    def set_meta(self, **items: Any) -> None:
        self.flush()
        with self._transaction():
            self.db.executemany(
                "INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)",
                [(k, json.dumps(v, default=_json_default)) for k, v in items.items()])

    def meta(self) -> Dict[str, Any]:
        return {k: json.loads(v) for k, v in self.db.execute("SELECT key, value FROM meta")}

    # -- results ------------------------------------------------------------
    def add_rows(self, rows: List[Tuple]) -> None:
        """Insert rows made by :func:`rows_for` into the open transaction; they are
        durable (and may be counted) after the next :meth:`flush` commits them.
        Inserting as batches arrive keeps the work off the end of the run."""
        if not rows:
            return
        try:
            if not self._uncommitted:
                self.db.execute("BEGIN")
            self.db.executemany(INSERT_RESULTS, rows)
        except sqlite3.OperationalError as exc:
            raise StoreError(f"{self.path}: cannot write: {exc}") from None
        self._uncommitted += len(rows)

    def add_ask(self, after: int, n: int, tasks: List[Tuple[int, Any]]) -> None:
        """Log a take of an adaptive source (committed with the next flush)."""
        try:
            if not self._uncommitted:
                self.db.execute("BEGIN")
            self.db.execute("INSERT INTO asks(after, n, tasks) VALUES (?, ?, ?)",
                            (after, n, json.dumps([[t, encode(a)] for t, a in tasks])))
        except sqlite3.OperationalError as exc:
            raise StoreError(f"{self.path}: cannot write: {exc}") from None
        self._uncommitted += 1

    @property
    def pending_rows(self) -> int:
        return self._uncommitted

    def flush(self) -> int:
        """Commit the inserted rows; return how many."""
        n, self._uncommitted = self._uncommitted, 0
        if n:
            try:
                self.db.execute("COMMIT")
            except sqlite3.OperationalError as exc:
                raise StoreError(f"{self.path}: cannot write: {exc}") from None
        return n

    def _transaction(self):
        store = self

        class _Tx:
            def __enter__(self):
                store.db.execute("BEGIN")

            def __exit__(self, kind, exc, tb):
                if kind is None:
                    try:
                        store.db.execute("COMMIT")
                    except sqlite3.OperationalError as err:
                        store.db.execute("ROLLBACK")
                        raise StoreError(f"{store.path}: cannot write: {err}") from None
                else:
                    store.db.execute("ROLLBACK")
                    if isinstance(exc, sqlite3.OperationalError):
                        raise StoreError(f"{store.path}: cannot write: {exc}") from None
                return False

        return _Tx()

    def results(self, status: Optional[str] = None) -> List[Dict[str, Any]]:
        sql = ("SELECT seq, task, attempt, status, params, value, result, error, worker, node, "
               "t_start, t_end FROM results")
        args: Sequence = ()
        if status:
            sql += " WHERE status = ?"
            args = (status,)
        cols = ["seq", "task", "attempt", "status", "params", "value", "result", "error",
                "worker", "node", "t_start", "t_end"]
        out = []
        for row in self.db.execute(sql + " ORDER BY seq", args):
            rec = dict(zip(cols, row))
            rec["params"] = decode(rec["params"])
            rec["result"] = decode(rec["result"])
            out.append(rec)
        return out

    def iter_ok_results(self) -> Iterator[Tuple[Any, Any]]:
        """(item, result) of the successful tasks in task order, one at a time."""
        for params, result in self.db.execute(
                "SELECT params, result FROM results WHERE status = 'ok' ORDER BY task"):
            yield decode(params), decode(result)

    def counts(self) -> Dict[str, int]:
        return dict(self.db.execute("SELECT status, COUNT(*) FROM results GROUP BY status"))

    # -- end-of-run files ---------------------------------------------------
    def write_results_csv(self, param_names: Optional[List[str]] = None) -> str:
        """``results.csv``: the final attempt of every task, in task order."""
        path = os.path.join(self.run_dir, "results.csv")
        tmp = path + ".tmp"
        query = ("SELECT task, attempt, status, params, result, worker, node, t_start, t_end, "
                 "error FROM results WHERE seq IN (SELECT MAX(seq) FROM results GROUP BY task) "
                 "ORDER BY task")
        with open(tmp, "w", newline="", encoding="utf-8") as fh:
            out = csv.writer(fh)
            head = ["task", "status", "attempts"]
            head += param_names if param_names else ["item"]
            head += ["result", "worker", "node", "seconds", "error"]
            out.writerow(head)
            for task, attempt, status, params, result, worker, node, t0, t1, err in \
                    self.db.execute(query):
                row = [task, status, attempt + 1]
                p = decode(params)
                if param_names:
                    row += [p.get(n) if isinstance(p, dict) else None for n in param_names]
                else:
                    row.append(params if not isinstance(params, str) else
                               (p if isinstance(p, str) else params))
                r = decode(result)
                row.append(r if isinstance(r, (int, float, str)) or r is None else result)
                row += [worker, node, None if t0 is None else round(t1 - t0, 6),
                        (err or "").strip().splitlines()[-1] if err else ""]
                out.writerow(row)
        os.replace(tmp, path)
        return path

    def write_json(self, name: str, data: Any) -> str:
        path = os.path.join(self.run_dir, name)
        tmp = path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=2, default=_json_default, allow_nan=False)
            fh.write("\n")
        os.replace(tmp, path)
        return path

    def close(self) -> None:
        try:
            self.flush()
        finally:
            self.db.close()
            lock = getattr(self, "lock", None)
            if lock is not None:
                lock.close()
                self.lock = None


def rows_for(batch: Sequence[Tuple[int, int, Any]], outcomes: Sequence[Tuple],
             worker: int, node: str) -> List[Tuple]:
    """Store rows for a batch's outcomes, made where the tasks ran (the workers
    share the encoding work, so rank 0 only inserts)."""
    rows = []
    for (_task, _attempt, arg), (task, attempt, ok, result, t0, t1) in zip(batch, outcomes):
        if ok:
            rows.append((task, attempt, encode(arg), STATUS_OK, numeric(result), encode(result),
                         None, worker, node, t0, t1))
        else:
            status = STATUS_TIMEOUT if "parc_mpi.execute.TaskTimeout" in result else STATUS_FAILED
            rows.append((task, attempt, encode(arg), status, None, None, result, worker, node,
                         t0, t1))
    return rows


def open_existing(run_dir: str) -> Store:
    """Open a run directory's store for reading (the report, resume)."""
    path = os.path.join(run_dir, "run.sqlite")
    if not os.path.exists(path):
        raise StoreError(f"{run_dir}: no run.sqlite here; is it a parc_mpi run directory?")
    return Store(run_dir)
