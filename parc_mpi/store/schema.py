"""The run store's schema: tables, columns and the status words (no I/O here)."""
from __future__ import annotations

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS results (
    seq INTEGER PRIMARY KEY,      -- order in which results were committed
    task INTEGER NOT NULL,        -- task id: item index (map), trial id (optimize)
    attempt INTEGER NOT NULL,     -- 0 for the first try
    status TEXT NOT NULL,         -- ok | failed | timeout | killed
    params,                       -- the item or parameters (number or JSON text)
    value REAL,                   -- the result as a number, when it is one (optimize jobs:
                                  -- the objective, when it is one, feasible and not pruned)
    result,                       -- the result (number or JSON text)
    error TEXT,                   -- traceback of a failed attempt
    worker INTEGER,               -- MPI rank
    node TEXT,                    -- host name of the worker
    t_start REAL,                 -- epoch seconds on the worker
    t_end REAL
);
CREATE TABLE IF NOT EXISTS trials (     -- optimize jobs with several objectives, constraints
    task INTEGER PRIMARY KEY,     -- or progress reports: what the optimizer was told
    objectives TEXT NOT NULL,     -- JSON list, in the goal's order, signs as returned
    constraints TEXT,             -- JSON list (feasible when every value <= 0), or NULL
    violation REAL NOT NULL,      -- sum of the positive constraint values (0: feasible)
    pruned INTEGER NOT NULL       -- 1: stopped early by the pruner
);
CREATE TABLE IF NOT EXISTS curves (     -- progress values evaluations reported (parc_mpi.report)
    task INTEGER NOT NULL, step REAL NOT NULL, value REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS usage (      -- a task process's peak resident memory (MB) while
    task INTEGER NOT NULL,        -- it ran this attempt (tasks run in batches of up to
    attempt INTEGER NOT NULL,     -- USAGE_BATCH: the batch's peak)
    peak_mb REAL NOT NULL
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

STOP_FILE = "STOP"   # in a run directory: a soft-stop request (the runner, the dashboard)
STATUS_OK = "ok"
STATUS_FAILED = "failed"
STATUS_TIMEOUT = "timeout"
STATUS_KILLED = "killed"   # the task's process died (a crash, the OOM killer, the guard)

# a result row's columns in insert order (records.ResultRow has the same fields)
RESULT_COLUMNS = ("task", "attempt", "params", "status", "value", "result", "error",
                  "worker", "node", "t_start", "t_end")
NETBENCH_COLUMNS = ("node", "peer_rank", "kind", "size", "p50", "p90", "p99", "min", "mean",
                    "mbps", "iterations", "seconds", "nic", "link_mbit")
