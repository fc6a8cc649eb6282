"""Benchmark job: BENCH_KIND = square | busy | sleep, BENCH_N tasks, BENCH_SECONDS each."""
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


FN = {"square": square, "busy": busy, "sleep": nap}[KIND]
# a generator: rank 0 must not materialise the items
job = parc_mpi.map(FN, (i for i in range(N))) if os.environ.get("BENCH_LAZY") else \
    parc_mpi.map(FN, range(N))
