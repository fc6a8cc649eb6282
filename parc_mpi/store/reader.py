"""Typed, read-only reads of a run store.

Every reader (the report, ``--resume``, ``minimize()``'s result, the loader, the
dashboard, the tests) goes through :class:`RunReader`. It opens ``run.sqlite``
read-only and each method runs its queries in one short read transaction that ends
before it returns, so a reader never holds back the writer's WAL checkpoints.
"""
from __future__ import annotations

import json
import os
import sqlite3
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

from .records import Ask, NetFigure, NodeInfo, Pair, Result, Sample
from .schema import NETBENCH_COLUMNS, STATUS_FAILED, STATUS_KILLED, STATUS_OK, STATUS_TIMEOUT
from .values import decode_lenient as decode

_RESULT_SQL = ("SELECT seq, task, attempt, status, params, value, result, error, worker, "
               "node, t_start, t_end FROM results")
# the final attempt of every task
_FINAL = "seq IN (SELECT MAX(seq) FROM results GROUP BY task)"
_SORT_SQL = {"task": "task", "status": "status", "value": "value", "seconds": "t_end - t_start",
          "node": "node", "worker": "worker", "attempt": "attempt"}
SORTS = tuple(_SORT_SQL)  # what final_page sorts by
_PLAIN = ("seq", "task", "attempt", "status", "value", "error", "worker", "node", "t_start",
          "t_end")


class StoreError(RuntimeError):
    """The run directory or its store cannot be used; the message names the path."""


def _result(row) -> Result:
    seq, task, attempt, status, params, value, result, error, worker, node, t0, t1 = row
    return Result(seq, task, attempt, status, decode(params), value, decode(result), error,
                  worker, node, t0, t1)


class RunReader:
    """Read-only access to ``RUN_DIR/run.sqlite``.

    Parameters
    ----------
    run_dir : str
        A run directory.

    Raises
    ------
    StoreError
        When the folder does not exist or holds no run store.
    """

    def __init__(self, run_dir: str):
        self.run_dir = run_dir
        self.path = os.path.join(run_dir, "run.sqlite")
        if not os.path.isdir(run_dir):
            raise StoreError(f"{run_dir}: no such run directory")
        if not os.path.isfile(self.path):
            raise StoreError(f"{run_dir}: no run.sqlite here; is it a parc_mpi run directory?")
        try:
            self.db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=30,
                                      isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: cannot open the run store: {exc}") from None
        self._retried: Optional[bool] = None

    def _where_final(self, *more: str) -> str:
        """A WHERE clause keeping each task's final attempt (and ``more``). When no task
        was ever tried twice every row is final, and the costly grouping is skipped (a
        million-task run: 0.05 s instead of 1.2 s)."""
        if self._retried is None:
            self._retried = bool(self._all(
                "SELECT EXISTS (SELECT 1 FROM results WHERE attempt > 0)")[0][0])
        conds = ([_FINAL] if self._retried else []) + list(more)
        return (" WHERE " + " AND ".join(conds)) if conds else ""

    def __enter__(self) -> "RunReader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self.db.close()

    def _all(self, sql: str, args=()) -> list:
        try:
            return self.db.execute(sql, args).fetchall()
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path}: cannot read the run store: {exc}") from None

    # -- the run --------------------------------------------------------------
    def meta(self) -> Dict[str, Any]:
        """Run metadata: job, status, started, finished, summary, world, ..."""
        return {k: json.loads(v) for k, v in self._all("SELECT key, value FROM meta")}

    def check_intact(self) -> None:
        """Raise StoreError with SQLite's own words when the file is damaged."""
        try:
            verdict = self.db.execute("PRAGMA quick_check").fetchone()[0]
            self.db.execute("SELECT COUNT(*) FROM meta").fetchone()
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path}: the run store is damaged ({exc})") from None
        if verdict != "ok":
            raise StoreError(f"{self.path}: the run store is damaged ({verdict})")

    # -- results --------------------------------------------------------------
    def results(self, after: int = 0, status: Optional[str] = None,
                limit: Optional[int] = None) -> List[Result]:
        """Every attempt in commit order, those with ``seq > after`` (for readers
        that follow a running store), optionally of one status."""
        sql, args = _RESULT_SQL + " WHERE seq > ?", [after]
        if status:
            sql += " AND status = ?"
            args.append(status)
        sql += " ORDER BY seq"
        if limit is not None:
            sql += " LIMIT ?"
            args.append(int(limit))
        return [_result(r) for r in self._all(sql, args)]

    def final_results(self, limit: Optional[int] = None) -> List[Result]:
        """The final attempt of every task (or of the first ``limit``), in task order."""
        sql, args = _RESULT_SQL + self._where_final() + " ORDER BY task", ()
        if limit is not None:
            sql, args = sql + " LIMIT ?", (int(limit),)
        return [_result(r) for r in self._all(sql, args)]

    def sample_final(self, max_rows: int) -> List[Result]:
        """The final attempts of at most about ``max_rows`` tasks, taken evenly by task
        number (what a report can show of a run of any size)."""
        where = self._where_final()
        n = self._all("SELECT COUNT(*) FROM results" + where)[0][0]
        every = max(1, -(-n // max(1, max_rows)))
        return [_result(r) for r in self._all(
            _RESULT_SQL + self._where_final("task % ? = 0") + " ORDER BY task", (every,))]

    def final_page(self, offset: int = 0, limit: int = 50, sort: str = "task",
                   descending: bool = False, status: Optional[str] = None
                   ) -> Tuple[int, List[Result]]:
        """(how many final attempts match, one page of them) sorted by ``sort``: task,
        status, value, seconds, node, worker or attempt (a paged table of any size;
        ties by task). ``status``: ok, failed or timeout only."""
        key = _SORT_SQL.get(sort)
        if key is None:
            raise ValueError(f"cannot sort by {sort!r}; one of {', '.join(SORTS)}")
        more, args = ((["status = ?"], [status]) if status else ([], []))
        where = self._where_final(*more)
        n = self._all("SELECT COUNT(*) FROM results" + where, args)[0][0]
        order = "DESC" if descending else "ASC"
        # NULLs (a failed task's value) last in either direction
        rows = self._all(_RESULT_SQL + where + f" ORDER BY ({key}) IS NULL, {key} {order}, "
                         "task LIMIT ? OFFSET ?", args + [int(limit), max(0, int(offset))])
        return n, [_result(r) for r in rows]

    def tail(self, after: int, limit: int = 100_000) -> List[tuple]:
        """(seq, task, attempt, status, value, node, worker, t_start, t_end) of the
        attempts with
        ``seq > after``, in commit order, nothing decoded: what a follower of a live
        run (the dashboard) folds into its counts, a rowid range at a time."""
        return self._all("SELECT seq, task, attempt, status, value, node, worker, t_start, "
                         "t_end FROM results WHERE seq > ? ORDER BY seq LIMIT ?",
                         (after, int(limit)))

    def samples_after(self, row: int, limit: int = 100_000) -> List[Tuple[int, Sample]]:
        """(row, sample) of the health samples committed after ``row``, in commit
        order (unlike time order, this never misses a batch that arrives late)."""
        return [(r, Sample(n, t, json.loads(d))) for r, n, t, d in self._all(
            "SELECT rowid, node, t, data FROM samples WHERE rowid > ? ORDER BY rowid LIMIT ?",
            (row, int(limit)))]

    def last_seq(self) -> int:
        """The newest attempt's sequence number (0 when none): cheap, the rowid."""
        return self._all("SELECT MAX(seq) FROM results")[0][0] or 0

    def iter_final_raw(self) -> Iterator[tuple]:
        """The final attempts in task order as the SQL rows are (columns of ``Result``,
        values still encoded), one at a time: for streaming a million rows to a file."""
        try:
            yield from self.db.execute(_RESULT_SQL + self._where_final() + " ORDER BY task")
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path}: cannot read the run store: {exc}") from None

    def plain_final_rows(self) -> Optional[Iterator[tuple]]:
        """When every final attempt has a plain-number (or NULL) item and result and no
        error, the CSV rows as SQLite makes them (task, status, attempts, item, result,
        worker, node, seconds, error): a million rows reach the file without a line of
        Python per row. None otherwise."""
        where = self._where_final()
        mixed = self._all(
            "SELECT EXISTS (SELECT 1 FROM results" + (where + " AND" if where else " WHERE")
            + " (typeof(params) NOT IN ('integer', 'real', 'null') OR typeof(result) NOT IN"
            " ('integer', 'real', 'null') OR error IS NOT NULL))")[0][0]
        if mixed:
            return None
        try:
            return self.db.execute(
                "SELECT task, status, attempt + 1, params, result, worker, node, "
                "ROUND(t_end - t_start, 6), '' FROM results" + where + " ORDER BY task")
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path}: cannot read the run store: {exc}") from None

    def iter_ok(self) -> Iterator[tuple]:
        """(item, result) of the successful tasks in task order, one at a time."""
        for params, result in self.db.execute(
                "SELECT params, result FROM results WHERE status = ? ORDER BY task",
                (STATUS_OK,)):
            yield decode(params), decode(result)

    def usage(self) -> List[tuple]:
        """(task, attempt, peak MB) of the attempts whose task process's peak memory
        was measured (tasks that ran in batches of up to 64)."""
        try:
            return self._all("SELECT task, attempt, peak_mb FROM usage ORDER BY task, attempt")
        except StoreError:   # a store from before task processes
            return []

    def attempts(self) -> int:
        """How many attempts (result rows) are committed."""
        return self._all("SELECT COUNT(*) FROM results")[0][0]

    def counts(self) -> Dict[str, int]:
        """Attempts by status."""
        return dict(self._all("SELECT status, COUNT(*) FROM results GROUP BY status"))

    def task_counts(self) -> Dict[str, int]:
        """Tasks by the status of their final attempt."""
        return dict(self._all("SELECT status, COUNT(*) FROM results" + self._where_final() +
                              " GROUP BY status"))

    def columns(self, names: Sequence[str]) -> Dict[str, list]:
        """Some plain columns of every attempt, in commit order, as lists (cheap:
        nothing is decoded). Allowed: the result columns but params and result."""
        bad = [n for n in names if n not in _PLAIN]
        if bad:
            raise ValueError(f"not a plain result column: {bad[0]!r}")
        rows = self._all(f"SELECT {', '.join(names)} FROM results ORDER BY seq")
        cols = list(zip(*rows)) if rows else [() for _ in names]
        return {n: list(c) for n, c in zip(names, cols)}

    def results_by_seq(self, seqs: Sequence[int]) -> List[Result]:
        """The attempts with these row numbers (a digest's picks), in task order."""
        out: List[Result] = []
        seqs = list(seqs)
        for i in range(0, len(seqs), 900):   # SQLite's bound-parameter limit
            part = seqs[i:i + 900]
            out.extend(_result(r) for r in self._all(
                _RESULT_SQL + f" WHERE seq IN ({','.join('?' * len(part))})", part))
        return sorted(out, key=lambda r: (r.task, r.seq))

    # -- aggregates: what a report needs, without a row per task in Python ------
    def digest(self, meta: Optional[Dict[str, Any]] = None) -> Optional[Dict[str, Any]]:
        """The aggregates rank 0 kept while the run went (``store.digest``), when
        they still cover every stored row; else None (aggregate in SQL)."""
        d = (self.meta() if meta is None else meta).get("digest")
        if not isinstance(d, dict) or d.get("rows") != self._all(
                "SELECT MAX(seq) FROM results")[0][0]:   # the rowid: no scan
            return None
        self._retried = bool(d.get("retried"))
        return d

    def tally(self) -> Dict[str, Any]:
        """One pass over the results for what a summary shows: attempts by node and by
        status, the first start and last end, and tasks by final status."""
        # one scan without a sort (a GROUP BY over two columns sorts a million rows)
        n, ok, failed, timeout, killed, t0, t1 = self._all(
            "SELECT COUNT(*), TOTAL(status = ?), TOTAL(status = ?), TOTAL(status = ?), "
            "TOTAL(status = ?), MIN(t_start), MAX(t_end) FROM results",
            (STATUS_OK, STATUS_FAILED, STATUS_TIMEOUT, STATUS_KILLED))[0]
        by_status = {k: int(v) for k, v in ((STATUS_OK, ok), (STATUS_FAILED, failed),
                                            (STATUS_TIMEOUT, timeout),
                                            (STATUS_KILLED, killed)) if v}
        self._where_final()  # learns whether any task was retried
        finals = by_status if not self._retried else self.task_counts()
        return {"attempts": n, "by_node": self.attempts_by_node(), "by_status": by_status,
                "final_by_status": finals, "first_start": t0, "last_end": t1}

    def attempts_by_node(self) -> Dict[Optional[str], int]:
        return dict(self._all("SELECT node, COUNT(*) FROM results GROUP BY node"))

    def lanes(self) -> List[tuple]:
        """(worker rank, node) of every worker that stored a result."""
        return self._all("SELECT DISTINCT worker, node FROM results WHERE worker IS NOT NULL")

    def timeline(self, max_rows: int) -> List[tuple]:
        """(worker, t_start, t_end, ok) of at most about ``max_rows`` attempts, taken
        evenly in commit order (a million tasks are drawn as a sample, not one by one)."""
        n = self._all("SELECT MAX(seq) FROM results")[0][0] or 0  # the rowid: no scan
        every = max(1, -(-n // max(1, max_rows)))
        return self._all("SELECT worker, t_start, t_end, status = ? FROM results "
                         "WHERE t_start IS NOT NULL AND worker IS NOT NULL AND seq % ? = 0 "
                         "ORDER BY seq", (STATUS_OK, every))

    def timing(self, sample: int = 20_000) -> Dict[str, Any]:
        """What analysis.py reads, aggregated in SQL (a second for 200,000 rows read
        one by one; a fraction of it this way): ``groups`` (worker, node, ok, attempts,
        seconds, first start, last start, last end, longest) per worker and outcome; ``sample``
        (worker, node, seconds) of at most about ``sample`` successful attempts, taken
        evenly, for the medians; ``tail`` (task, worker, t_start, t_end) of the six
        attempts that ended last; ``before_last`` the end of the attempt before the
        last one's."""
        timed = "t_start IS NOT NULL AND t_end IS NOT NULL AND worker IS NOT NULL"
        groups = self._all(
            f"SELECT worker, node, status = ?, COUNT(*), SUM(t_end - t_start), MIN(t_start), "
            f"MAX(t_start), MAX(t_end), MAX(t_end - t_start) FROM results WHERE {timed} "
            f"GROUP BY worker, node, status = ?", (STATUS_OK, STATUS_OK))
        n = sum(g[3] for g in groups if g[2])
        every = max(1, -(-n // max(1, sample)))
        picked = self._all(
            f"SELECT worker, node, t_end - t_start FROM results WHERE {timed} AND status = ? "
            f"AND seq % ? = 0", (STATUS_OK, every))
        tail = self._all(f"SELECT task, worker, t_start, t_end FROM results WHERE {timed} "
                         f"ORDER BY t_end DESC LIMIT 6")
        return {"groups": groups, "sample": picked, "tail": tail,
                "before_last": tail[1][3] if len(tail) > 1 else None}

    def span(self) -> Tuple[Optional[float], Optional[float], int]:
        """(first start, last end, attempts) of the attempts with both times."""
        return tuple(self._all("SELECT MIN(t_start), MAX(t_end), COUNT(*) FROM results "
                               "WHERE t_start IS NOT NULL AND t_end IS NOT NULL")[0])

    def stream(self, bars: bool) -> List[tuple]:
        """The task stream: with ``bars`` (worker, task, t_start, t_end, ok) of every
        timed attempt in commit order, else only (worker, t_start, t_end), unordered."""
        timed = "t_start IS NOT NULL AND t_end IS NOT NULL AND worker IS NOT NULL"
        if bars:
            return self._all("SELECT worker, task, t_start, t_end, status = ? FROM results "
                             f"WHERE {timed} ORDER BY seq", (STATUS_OK,))
        return self._all(f"SELECT worker, t_start, t_end FROM results WHERE {timed}")

    def first_start(self) -> Optional[float]:
        """When the first attempt began (None before any)."""
        return self._all("SELECT MIN(t_start) FROM results")[0][0]

    def attempts_of(self, task: int) -> List[Result]:
        """Every attempt of one task, in commit order."""
        return [_result(r) for r in self._all(_RESULT_SQL + " WHERE task = ? ORDER BY seq",
                                              (int(task),))]

    def end_histogram(self, t0: float, width: float) -> List[tuple]:
        """(bin, attempts ended in it) with bins of ``width`` seconds from ``t0``."""
        return self._all("SELECT CAST((t_end - ?) / ? AS INTEGER) AS b, COUNT(*) FROM results "
                         "WHERE t_end IS NOT NULL GROUP BY b ORDER BY b", (t0, width))

    def values(self) -> Dict[str, list]:
        """status, value and t_end of every attempt in commit order (optimize runs)."""
        return self.columns(("status", "value", "t_end"))

    def best(self, n: int, goal: str = "min") -> List[Result]:
        """The ``n`` successful attempts with the best numeric value."""
        order = "DESC" if goal == "max" else "ASC"
        return [_result(r) for r in self._all(
            _RESULT_SQL + f" WHERE status = ? AND value IS NOT NULL ORDER BY value {order}, "
            "seq LIMIT ?", (STATUS_OK, int(n)))]

    # -- optimization records ---------------------------------------------------
    def _optional(self, sql: str, args=()) -> list:
        """Rows of a table a store from an older parc_mpi may not have (none then)."""
        try:
            return self.db.execute(sql, args).fetchall()
        except sqlite3.OperationalError as exc:
            if "no such table" in str(exc):
                return []
            raise StoreError(f"{self.path}: cannot read the run store: {exc}") from None
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path}: cannot read the run store: {exc}") from None

    def evaluations(self) -> List[tuple]:
        """Every successful optimize evaluation in commit order, as ``(seq, task,
        objectives, constraints, violation, pruned, t_end)``: objectives a list in
        the goal's order (signs as returned), constraints a list (empty: none). From
        the trials table where the run wrote one (several objectives, constraints,
        progress), else from the value column (one objective)."""
        rows = self._optional(
            "SELECT r.seq, r.task, t.objectives, t.constraints, t.violation, t.pruned, "
            "r.value, r.t_end FROM results r LEFT JOIN trials t ON t.task = r.task "
            "WHERE r.status = ? ORDER BY r.seq", (STATUS_OK,))
        if not rows:   # no trials table (an older store) or no success yet
            rows = [(seq, task, None, None, None, None, value, t_end) for seq, task, value, t_end
                    in self._all("SELECT seq, task, value, t_end FROM results WHERE status = ? "
                                 "ORDER BY seq", (STATUS_OK,))]
        out = []
        for seq, task, objs, cons, violation, pruned, value, t_end in rows:
            if objs is None:
                if value is None:
                    continue   # not a number (a store written before trials existed)
                out.append((seq, task, [value], [], 0.0, False, t_end))
            else:
                out.append((seq, task, json.loads(objs), json.loads(cons) if cons else [],
                            violation, bool(pruned), t_end))
        return out

    def has_trials(self) -> bool:
        """Whether the run wrote optimizer records (several objectives, constraints or
        progress); a plain one-objective run has none."""
        return bool(self._optional("SELECT 1 FROM trials LIMIT 1"))

    def plain_evaluations(self) -> Tuple[int, Optional[int]]:
        """A one-objective run without optimizer records: (successful evaluations with
        a value, the commit position (1-based) of the first), in SQL, no row in Python."""
        n = self._all("SELECT COUNT(*) FROM results WHERE status = ? AND value IS NOT NULL",
                      (STATUS_OK,))[0][0]
        return n, (1 if n else None)

    def curves(self, tasks: Optional[Sequence[int]] = None,
               limit: Optional[int] = None) -> Dict[int, List[Tuple[float, float]]]:
        """Progress values by task, in step order: every task's, or those of
        ``tasks``; at most the first ``limit`` tasks."""
        sql, args = "SELECT task, step, value FROM curves", []
        if tasks is not None:
            sql += f" WHERE task IN ({','.join('?' * len(tasks))})"
            args = list(tasks)
        out: Dict[int, List[Tuple[float, float]]] = {}
        for task, step, value in self._optional(sql + " ORDER BY task, rowid", args):
            if task not in out and limit is not None and len(out) >= limit:
                break
            out.setdefault(task, []).append((step, value))
        return out

    def failed_attempts(self, limit: Optional[int] = None) -> List[Result]:
        """Attempts that did not succeed (retried ones too), in commit order."""
        sql = _RESULT_SQL + " WHERE status != ? ORDER BY seq"
        args: list = [STATUS_OK]
        if limit is not None:
            sql += " LIMIT ?"
            args.append(int(limit))
        return [_result(r) for r in self._all(sql, args)]

    def failures(self, limit: Optional[int] = None) -> List[Result]:
        """Tasks whose final attempt failed, lowest task first."""
        sql = _RESULT_SQL + self._where_final("status != ?") + " ORDER BY task"
        args: list = [STATUS_OK]
        if limit is not None:
            sql += " LIMIT ?"
            args.append(int(limit))
        return [_result(r) for r in self._all(sql, args)]

    def asks(self) -> List[Ask]:
        """The adaptive source's takes, in order (the journal ``--resume`` replays)."""
        return [Ask(seq, after, n, json.loads(tasks)) for seq, after, n, tasks in
                self._all("SELECT seq, after, n, tasks FROM asks ORDER BY seq")]

    # -- health and network ---------------------------------------------------
    def nodes(self) -> Dict[str, NodeInfo]:
        """The nodes the monitor saw, by name."""
        return {n: NodeInfo(n, json.loads(r) if r else [], json.loads(f) if f else {},
                            b, t0, t1)
                for n, r, f, b, t0, t1 in self._all(
                    "SELECT node, ranks, facts, baseline_throttled, first_seen, last_seen "
                    "FROM nodes ORDER BY node")}

    def samples(self, node: Optional[str] = None, since: Optional[float] = None,
                until: Optional[float] = None) -> List[Sample]:
        """Health samples in time order, optionally of one node, after a time or up
        to one."""
        sql, args, where = "SELECT node, t, data FROM samples", [], []
        if node is not None:
            where.append("node = ?")
            args.append(node)
        if since is not None:
            where.append("t > ?")
            args.append(since)
        if until is not None:
            where.append("t <= ?")
            args.append(until)
        if where:
            sql += " WHERE " + " AND ".join(where)
        return [Sample(n, t, json.loads(d)) for n, t, d in self._all(sql + " ORDER BY t", args)]

    def samples_by_node(self) -> Dict[str, List[Dict[str, Any]]]:
        out: Dict[str, List[Dict[str, Any]]] = {}
        for s in self.samples():
            out.setdefault(s.node, []).append(s.data)
        return out

    def netbench(self) -> List[NetFigure]:
        return [NetFigure(*r) for r in self._all(
            f"SELECT {', '.join(NETBENCH_COLUMNS)} FROM netbench")]

    def pairs(self) -> List[Pair]:
        return [Pair(*r) for r in self._all("SELECT a, b, p50, p99 FROM pairs")]


def open_reader(run_dir: str) -> RunReader:
    """A :class:`RunReader` for ``run_dir`` (raises StoreError naming the path)."""
    return RunReader(run_dir)
