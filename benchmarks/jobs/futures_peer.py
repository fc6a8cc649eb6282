"""The peer: mpi4py.futures' MPIPoolExecutor.map on the same tasks.

    mpiexec -n W+1 python -m mpi4py.futures benchmarks/jobs/futures_peer.py CHUNKSIZE
prints one JSON line with the tasks/s and seconds of the timed map (after a warm-up).
"""
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
os.environ.setdefault("BENCH_N", "20000")
import tasks  # noqa: E402  (same functions as our job)

from mpi4py.futures import MPIPoolExecutor  # noqa: E402

if __name__ == "__main__":
    chunksize = int(sys.argv[1])
    with MPIPoolExecutor() as ex:
        list(ex.map(tasks.square, range(200), chunksize=chunksize))  # warm-up: workers up
        t0 = time.perf_counter()
        list(ex.map(tasks.FN, range(tasks.N), chunksize=chunksize))
        dt = time.perf_counter() - t0
    print(json.dumps({"seconds": dt, "tasks_per_second": tasks.N / dt}))
