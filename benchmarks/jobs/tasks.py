"""Benchmark job: BENCH_KIND = square | busy | sleep | array, BENCH_N tasks,
BENCH_SECONDS each (array: each task returns a 1 MiB float64 numpy array)."""
import os
import time

import parc_mpi

KIND = os.environ.get("BENCH_KIND", "square")
N = int(os.environ.get("BENCH_N", "20000"))
SECONDS = float(os.environ.get("BENCH_SECONDS", "0.001"))


def square(x):
    return x * x


def busy(x):
    end = time.perf_counter() + SECONDS
    while time.perf_counter() < end:
        pass
    return x


def nap(x):
    time.sleep(SECONDS)
    return x


def array(x):
    import numpy as np
    return np.full(131072, float(x))  # 1 MiB


FN = {"square": square, "busy": busy, "sleep": nap, "array": array}[KIND]
# a generator: rank 0 must not materialise the items
job = parc_mpi.map(FN, (i for i in range(N))) if os.environ.get("BENCH_LAZY") else \
    parc_mpi.map(FN, range(N))
