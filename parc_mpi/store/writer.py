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

import fcntl
import json
import logging
import os
import sqlite3
import time
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

from .reader import RunReader, StoreError
from .schema import NETBENCH_COLUMNS, RESULT_COLUMNS, SCHEMA, STATUS_FAILED, STATUS_OK
from .values import ValueNotStorable, _json_default, encode, journal, numeric

log = logging.getLogger(__name__)

INSERT_RESULTS = (f"INSERT INTO results({', '.join(RESULT_COLUMNS)}) "
                  f"VALUES ({','.join('?' * len(RESULT_COLUMNS))})")


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
        self._uncommitted = 0  # rows queued for the next flush
        # the rows themselves, (sql, rows) in order: written in one short transaction at
        # the flush. A transaction left open between flushes held the database's write
        # lock all the time, and the monitor's health commits starved behind it (no
        # sample of a run's nodes stored for seconds, --thermal blind)
        self._queued: List[Tuple[str, List[Tuple]]] = []

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
        """Queue rows made by :func:`rows_for`; they are durable (and may be counted)
        after the next :meth:`flush` commits them."""
        self._insert(INSERT_RESULTS, rows)

    def add_trials(self, records: List[Tuple]) -> None:
        """Optimizer records ``(task, objectives, constraints, violation, pruned)``
        (lists as JSON text), committed with the next flush."""
        self._insert("INSERT OR REPLACE INTO trials(task, objectives, constraints, violation, "
                     "pruned) VALUES (?, ?, ?, ?, ?)", records)

    def add_curves(self, rows: List[Tuple[int, float, float]]) -> None:
        """Progress values ``(task, step, value)``, committed with the next flush."""
        self._insert("INSERT INTO curves(task, step, value) VALUES (?, ?, ?)", rows)

    def add_usage(self, rows: List[Tuple[int, int, float]]) -> None:
        """Peak memory ``(task, attempt, peak_mb)`` of task processes, with the next
        flush."""
        self._insert("INSERT INTO usage(task, attempt, peak_mb) VALUES (?, ?, ?)", rows)

    def _insert(self, sql: str, rows: List[Tuple]) -> None:
        if not rows:
            return
        if self._queued and self._queued[-1][0] == sql:
            self._queued[-1][1].extend(rows)
        else:
            self._queued.append((sql, list(rows)))
        self._uncommitted += len(rows)

    def add_ask(self, after: int, n: int, tasks: List[Tuple[int, Any]]) -> None:
        """Log a take of an adaptive source (committed with the next flush)."""
        self._insert("INSERT INTO asks(after, n, tasks) VALUES (?, ?, ?)",
                     [(after, n, json.dumps([[t, journal(a)] for t, a in tasks]))])

    @property
    def pending_rows(self) -> int:
        return self._uncommitted

    def flush(self) -> int:
        """Write and commit the queued rows, in one transaction; return how many."""
        n, self._uncommitted = self._uncommitted, 0
        queued, self._queued = self._queued, []
        if n:
            try:
                self.db.execute("BEGIN IMMEDIATE")
                for sql, rows in queued:
                    self.db.executemany(sql, rows)
                self.db.execute("COMMIT")
            except sqlite3.DatabaseError as exc:   # a full disk, a lock held too long
                try:
                    if self.db.in_transaction:
                        self.db.execute("ROLLBACK")
                except sqlite3.Error:
                    pass
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

    def reader(self) -> RunReader:
        """A read-only reader of this store (its own connection)."""
        return RunReader(self.run_dir)

    # -- end-of-run files ---------------------------------------------------
    def write_results_csv(self, param_names: Optional[List[str]] = None) -> str:
        """``results.csv``: the final attempt of every task, in task order, with a
        column per input and output field (:mod:`.export`)."""
        from .export import write_csv
        self.flush()
        path = os.path.join(self.run_dir, "results.csv")
        try:   # what a stream left behind (a run that died, a stream that gave up)
            os.remove(path + ".part")
        except OSError:
            pass
        with self.reader() as reader:
            return write_csv(path, reader, param_names)

    def write_json(self, name: str, data: Any) -> str:
        path = os.path.join(self.run_dir, name)
        tmp = path + ".tmp"
        try:
            with open(tmp, "w", encoding="utf-8") as fh:
                json.dump(data, fh, indent=2, default=_json_default, allow_nan=False)
                fh.write("\n")
            os.replace(tmp, path)
        except OSError:   # a full disk: no half file left behind
            _remove(tmp)
            raise
        return path

    def close(self) -> None:
        try:
            self.flush()
            try:  # an ended run is one self-contained file (no -wal, no -shm beside it)
                self.db.execute("PRAGMA busy_timeout = 200")
                self.db.execute("PRAGMA journal_mode = DELETE")
            except sqlite3.Error:  # a reader still has it open: it stays in WAL mode
                pass
        finally:
            self.db.close()
            lock = getattr(self, "lock", None)
            if lock is not None:
                try:  # a clean end: the file no longer names a holder
                    lock.seek(0)
                    lock.truncate()
                    lock.write("free (the run that held it has ended)\n")
                except OSError:
                    pass
                lock.close()
                self.lock = None


def _remove(path: str) -> None:
    try:
        os.remove(path)
    except OSError:
        pass


def rows_for(batch: Sequence[Tuple[int, int, Any]], outcomes: Sequence[Any],
             worker: int, node: str) -> List[Tuple]:
    """Store rows (plain tuples in :class:`~parc_mpi.store.records.ResultRow` order)
    for a batch's outcomes (``execute.Outcome``), made where the tasks ran: the
    workers share the encoding work, so rank 0 only inserts."""
    rows = []
    append = rows.append
    for (_task, _attempt, arg), o in zip(batch, outcomes):
        task, attempt, status, value, error, t0, t1 = o  # unpacked: the hot path
        if status == STATUS_OK:
            try:
                result = encode(value)
            except ValueNotStorable as exc:  # the task fails; nothing is put in its place
                append((task, attempt, encode(arg, None), STATUS_FAILED, None, None,
                        f"task {task}: result {exc}", worker, node, t0, t1))
                continue
            append((task, attempt, encode(arg, None), STATUS_OK, numeric(value), result, None,
                    worker, node, t0, t1))
        else:
            append((task, attempt, encode(arg, None), status, None, None, error, worker, node,
                    t0, t1))
    return rows


def lock_run(run_dir: str):
    """Hold ``run.lock`` for as long as the returned file stays open: a second
    process cannot resume (or write into) a run that is still going. The file
    names its holder while held and says ``free`` once the run has let it go."""
    path = os.path.join(run_dir, "run.lock")
    try:
        fh = open(path, "a+")
    except OSError as exc:
        raise StoreError(f"{run_dir}: cannot create run.lock: {exc.strerror}") from None
    try:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        fh.seek(0)
        who = fh.read().strip() or "another process"
        fh.close()
        raise StoreError(f"{run_dir}: the run is still going ({who} holds run.lock); "
                         "stop it first (touch STOP in the run directory)") from None
    fh.seek(0)
    fh.truncate()
    fh.write(f"pid {os.getpid()} on {os.uname().nodename}\n")
    fh.flush()
    return fh


class HealthWriter:
    """Samples, node facts and netbench rows for one run directory, on a connection
    of its own (the monitor rank's, or a thread of rank 0 with no monitor), committed
    in batches every ``commit_seconds``. A failure to write is logged, never raised:
    health data must never stop the job."""

    def __init__(self, db_path: str, commit_seconds: float = 10.0):
        self.db = sqlite3.connect(db_path, timeout=60, isolation_level=None,
                                  check_same_thread=False)
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.commit_seconds = commit_seconds
        self._samples: List[Tuple[str, float, str]] = []
        self._nodes: Dict[str, Dict[str, Any]] = {}
        self.last_commit = time.monotonic()

    def node_hello(self, node: str, ranks: List[int], facts: Dict[str, Any],
                   first: Dict[str, Any]) -> None:
        """A node's facts and its throttle state at job start (the alert baseline)."""
        self._nodes[node] = {"ranks": ranks, "facts": facts,
                             "baseline": first.get("throttled"), "first": first["t"],
                             "last": first["t"]}
        self.add_sample(node, first)

    def add_sample(self, node: str, sample: Dict[str, Any]) -> None:
        self._samples.append((node, sample["t"], json.dumps(sample)))
        if node in self._nodes:
            self._nodes[node]["last"] = sample["t"]

    def add_netbench(self, rows: Iterable[Dict[str, Any]]) -> None:
        self._write("INSERT INTO netbench(%s) VALUES (%s)" % (
            ",".join(NETBENCH_COLUMNS), ",".join("?" * len(NETBENCH_COLUMNS))),
            [tuple(r.get(c) for c in NETBENCH_COLUMNS) for r in rows])

    def add_pairs(self, rows: Iterable[Tuple[str, str, float, float]]) -> None:
        self._write("INSERT INTO pairs(a, b, p50, p99) VALUES (?,?,?,?)", list(rows))

    def commit_due(self) -> bool:
        return time.monotonic() - self.last_commit >= self.commit_seconds

    def set_meta(self, **items: Any) -> None:
        """Run metadata written by the monitor (its own cost, say)."""
        self._write("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)",
                    [(k, json.dumps(v, default=_json_default)) for k, v in items.items()])

    def commit(self) -> None:
        samples, self._samples = self._samples, []
        nodes = [(n, json.dumps(v["ranks"]), json.dumps(v["facts"]), v["baseline"],
                  v["first"], v["last"]) for n, v in self._nodes.items()]
        self._write("INSERT INTO samples(node, t, data) VALUES (?,?,?)", samples,
                    "INSERT OR REPLACE INTO nodes(node, ranks, facts, baseline_throttled, "
                    "first_seen, last_seen) VALUES (?,?,?,?,?,?)", nodes)
        self.last_commit = time.monotonic()

    def _write(self, sql: str, rows: list, sql2: Optional[str] = None,
               rows2: Optional[list] = None) -> None:
        if not rows and not rows2:
            return
        try:
            self.db.execute("BEGIN IMMEDIATE")
            if rows:
                self.db.executemany(sql, rows)
            if rows2:
                self.db.executemany(sql2, rows2)
            self.db.execute("COMMIT")
        except sqlite3.Error as exc:
            log.warning("could not store health data: %s", exc)
            try:
                self.db.execute("ROLLBACK")
            except sqlite3.Error:
                pass

    def close(self) -> None:
        self.commit()
        self.db.close()
