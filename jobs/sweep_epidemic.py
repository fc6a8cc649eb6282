"""A parameter sweep of an SIR epidemic model over infection and recovery rates.

    mpiexec -n 4 python -m parc_mpi.run jobs/sweep_epidemic.py

Each task simulates 300 days for one (beta, gamma) pair and returns the peak share of
the population infected at once and the day it happens. The summary draws a heat map
of the peak to plots/sweep.png in the run directory.
"""
import itertools
import os

import numpy as np

import parc_mpi

BETAS = np.round(np.linspace(0.1, 0.6, 11), 3)    # infections per contact-day
GAMMAS = np.round(np.linspace(0.05, 0.3, 11), 3)  # recoveries per day


def simulate(params, days=300, dt=0.1):
    beta, gamma = params["beta"], params["gamma"]
    s, i, r = 0.999, 0.001, 0.0
    peak, peak_day = i, 0.0
    for step in range(int(days / dt)):
        new_inf = beta * s * i * dt
        new_rec = gamma * i * dt
        s, i, r = s - new_inf, i + new_inf - new_rec, r + new_rec
        if i > peak:
            peak, peak_day = i, step * dt
    return {"peak": peak, "peak_day": peak_day, "ever_infected": 1.0 - s}


def heat_map(pairs, run_dir):
    from matplotlib.figure import Figure  # the object API: no pyplot state on rank 0
    grid = np.full((len(GAMMAS), len(BETAS)), np.nan)
    for params, res in pairs:
        col = int(np.argmin(abs(BETAS - params["beta"])))
        row = int(np.argmin(abs(GAMMAS - params["gamma"])))
        grid[row, col] = res["peak"]
    fig = Figure(figsize=(6, 4.5))
    ax = fig.add_subplot()
    im = ax.imshow(grid, origin="lower", aspect="auto",
                   extent=(BETAS[0], BETAS[-1], GAMMAS[0], GAMMAS[-1]))
    ax.set_xlabel("beta (infection rate)")
    ax.set_ylabel("gamma (recovery rate)")
    ax.set_title("peak share infected")
    fig.colorbar(im, ax=ax)
    os.makedirs(os.path.join(run_dir, "plots"), exist_ok=True)
    path = os.path.join(run_dir, "plots", "sweep.png")
    fig.savefig(path, dpi=100)
    return f"highest peak {np.nanmax(grid):.1%} of the population; heat map: {path}"


items = [{"beta": float(b), "gamma": float(g)} for b, g in itertools.product(BETAS, GAMMAS)]
job = parc_mpi.map(simulate, items, summary=heat_map)
