"""Benchmark job for benchmarks/task_faults.py: BENCH_N tasks of BENCH_SECONDS of busy
work; with BENCH_CRASH=1, one task in 1,000 is killed by SIGKILL (as by the OOM
killer), one segfaults, one calls os._exit(3); with BENCH_STUCK=1 task 2 spends about
30 s inside one LAPACK call (a 5000 x 5000 eigvals) under timeout=1."""
import ctypes
import os
import signal
import time

import parc_mpi

N = int(os.environ.get("BENCH_N", "1000"))
SECONDS = float(os.environ.get("BENCH_SECONDS", "0.005"))
CRASH = os.environ.get("BENCH_CRASH") == "1"
STUCK = os.environ.get("BENCH_STUCK")


def task(x):
    if CRASH and x % 1000 == 101:
        os.kill(os.getpid(), signal.SIGKILL)
    if CRASH and x % 1000 == 503:
        ctypes.string_at(0)
    if CRASH and x % 1000 == 907:
        os._exit(3)
    if STUCK == "1" and x == 2:
        import numpy as np
        np.linalg.eigvals(np.random.default_rng(0).random((5000, 5000)))
    end = time.perf_counter() + SECONDS
    while time.perf_counter() < end:
        pass
    return x


job = parc_mpi.map(task, range(N), timeout=1.0 if STUCK is not None else None)
