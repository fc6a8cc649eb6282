"""A custom generator: sample a function on a coarse grid, then refine where the
results change fastest (here: a smoothed step at x = 0.3 with a wiggle).

    mpiexec -n 4 python -m parc_mpi.run jobs/refine_grid.py

After each stored result, rank 0 looks at the neighbouring samples and adds the
midpoint of any interval whose values differ by more than TOLERANCE, until intervals
are narrower than MIN_WIDTH. The samples crowd around the step.
"""
import bisect
import math

import parc_mpi

TOLERANCE = 0.05
MIN_WIDTH = 1e-3


def f(x):
    return math.tanh((x - 0.3) * 60) + 0.05 * math.sin(8 * x)


class Refiner:
    """Keeps the sampled points in order and proposes midpoints of steep intervals."""

    def __init__(self):
        self.xs, self.ys = [], []
        self.proposed = set()

    def __call__(self, x, y):
        k = bisect.bisect(self.xs, x)
        self.xs.insert(k, x)
        self.ys.insert(k, y)
        new = []
        for a in (k - 1, k):  # the intervals left and right of the new point
            if 0 <= a and a + 1 < len(self.xs):
                x0, x1 = self.xs[a], self.xs[a + 1]
                if x1 - x0 > MIN_WIDTH and abs(self.ys[a + 1] - self.ys[a]) > TOLERANCE:
                    mid = round((x0 + x1) / 2, 12)
                    if mid not in self.proposed:
                        self.proposed.add(mid)
                        new.append(mid)
        return new


def where(pairs, run_dir):
    xs = sorted(x for x, _y in pairs)
    near = sum(1 for x in xs if abs(x - 0.3) < 0.05)
    return f"{len(xs)} samples, {near} of them within 0.05 of the step at x = 0.3"


coarse = [k / 20 for k in range(21)]
job = parc_mpi.generate(f, coarse, Refiner(), max_tasks=2000, summary=where)
