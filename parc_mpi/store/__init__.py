"""The run store: the only package that speaks SQL.

- :mod:`.schema`: tables, columns and status words;
- :mod:`.records`: named records (``ResultRow``, ``Result``, ``NodeInfo``, ...);
- :mod:`.values`: how task arguments and results are encoded for a column;
- :mod:`.writer`: the run directory, rank 0's :class:`Store` and the monitor's
  :class:`HealthWriter`;
- :mod:`.reader`: :class:`RunReader`, the typed read-only reads every other part
  (report, resume, ``minimize()``, tests, benchmarks) goes through.

No mpi4py here: a store can be read on a laptop with no MPI.
"""
from .reader import RunReader, StoreError, open_reader
from .records import Ask, NetFigure, NodeInfo, Pair, Result, ResultRow, Sample
from .schema import (NETBENCH_COLUMNS, RESULT_COLUMNS, STATUS_FAILED, STATUS_KILLED, STATUS_OK,
                     STATUS_TIMEOUT)
from .values import decode, encode, numeric
from .writer import HealthWriter, Store, lock_run, make_run_dir, rows_for

__all__ = ["Ask", "HealthWriter", "NETBENCH_COLUMNS", "NetFigure", "NodeInfo", "Pair", "RESULT_COLUMNS",
           "Result", "ResultRow", "RunReader", "STATUS_FAILED", "STATUS_KILLED", "STATUS_OK",
           "STATUS_TIMEOUT", "Sample", "Store", "StoreError", "decode", "encode",
           "lock_run", "make_run_dir", "numeric", "open_reader", "rows_for"]
