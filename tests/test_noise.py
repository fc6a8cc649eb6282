"""Noisy objectives (``noise=``, ``repeats=``): the reported best is the point a model
with a noise term (or the mean of repeated evaluations) thinks best, not the luckiest
draw; repeats run as tasks after the budget, counted apart, journalled for --resume,
and shown as such in results.csv, best.json, load() and the dashboard."""
import csv
import json
import math
import re

import numpy as np
import pytest

from conftest import mpi_cmd, python_cmd, run_cmd
from faults import kill_rank_when, ok_points, start
from parc_mpi import JobError, Real, load, minimize, optimize
from parc_mpi.optimizers import make_optimizer


def bowl_with_a_lucky_draw(noise):
    """40 points of (x - 0.7)^2 with noise sd 0.05; the point nearest x = 0.1 (true
    value about 0.36) drew 0.6 less: the lowest value told."""
    opt = make_optimizer("random", {"x": Real(0, 1)}, seed=0, noise=noise)
    rng = np.random.default_rng(3)
    trials = opt.ask(40)
    lucky = min(trials, key=lambda t: abs(t.params["x"] - 0.1))
    for t in trials:
        x = t.params["x"]
        opt.tell(t, (x - 0.7) ** 2 + 0.05 * rng.standard_normal() - (0.6 if t is lucky else 0))
    return opt


def test_the_best_of_noisy_values_is_the_model_mean_not_the_luckiest_draw():
    exact, noisy = bowl_with_a_lucky_draw(None), bowl_with_a_lucky_draw(True)
    luckiest = min(exact.trials, key=lambda t: t.value)
    assert exact.best is luckiest and abs(luckiest.params["x"] - 0.7) > 0.3
    est = noisy.estimate()
    assert est["method"] == "model mean"
    assert abs(noisy.best.params["x"] - 0.7) < 0.1        # near the true minimum
    assert abs(est["value"]) < 0.05 and 0 < est["sd"] < 0.1
    assert 0.02 < est["noise_sd"] < 0.12                   # the 0.05 it was told with
    assert est["sample"] == noisy.best.value


def test_repeats_choose_by_the_mean_of_each_points_evaluations():
    opt = make_optimizer("sobol", {"x": Real(0, 1)}, seed=1, noise=True)
    truth = {}
    for t in opt.ask(16):
        truth[t.id] = (t.params["x"] - 0.3) ** 2
        opt.tell(t, truth[t.id])
    top = opt.candidates(3)
    assert len({t.id for t in top}) == 3
    again = opt.repeat(4, top=3)
    assert len(again) == 12 and [t.params for t in again[:4]] == [top[0].params] * 4
    assert all(opt.repeat_of[t.id] == top[i // 4].id for i, t in enumerate(again))
    # the first candidate's repeats come back high: the second one wins on the mean
    for i, t in enumerate(again):
        base = truth[opt.repeat_of[t.id]]
        opt.tell(t, base + (1.0 if i < 4 else 0.01 * (i % 4)))
    est = opt.estimate()
    assert est["method"] == "mean of 5 evaluations" and est["n"] == 5
    mean = np.mean([truth[top[1].id]] + [truth[top[1].id] + 0.01 * k for k in range(4)])
    assert opt.best is top[1] and est["value"] == pytest.approx(mean)
    assert est["sd"] == pytest.approx(est["noise_sd"] / math.sqrt(5))


def test_maximizing_reports_the_estimate_in_the_goals_sense():
    opt = make_optimizer("random", {"x": Real(-1, 1)}, goal="max", seed=2, noise=0.1)
    rng = np.random.default_rng(0)
    for t in opt.ask(30):
        opt.tell(t, 5 - t.params["x"] ** 2 + 0.1 * rng.standard_normal())
    est = opt.estimate()
    assert abs(opt.best.params["x"]) < 0.35 and 4.8 < est["value"] < 5.1
    assert est["noise_sd"] == 0.1


@pytest.mark.parametrize("kwargs, words", [
    ({"noise": "yes"}, "noise must be True, False or the noise's standard deviation"),
    ({"noise": -1.0}, "noise must be True"),
    ({"repeats": -2}, "repeats must be an integer of at least 0"),
    ({"repeats": 2, "repeat_top": 0}, "repeat_top must be an integer of at least 1"),
    ({"noise": True, "goal": {"a": "min", "b": "min"}}, "noise and repeats handle one objective"),
])
def test_bad_noise_settings_are_one_line_errors(kwargs, words):
    goal = kwargs.pop("goal", "min")
    with pytest.raises(JobError, match=words) as info:
        optimize(lambda x: x, {"x": Real(0, 1)}, budget=5, goal=goal, **kwargs)
    assert "\n" not in str(info.value)


def test_minimize_with_repeats_counts_them_apart():
    rng = np.random.default_rng(0)
    res = minimize(lambda x, y: (x - 1) ** 2 + (y + 0.5) ** 2 + rng.normal(0, 0.3),
                   {"x": Real(-3, 3), "y": Real(-3, 3)}, budget=30, repeats=3)
    assert res.nfev == 30 and res.repeats == 9
    assert len(res.history["value"]) == 39
    rep = res.history["repeat_of"]
    assert (rep[:30] == -1).all() and len(set(rep[30:])) == 3
    assert res.estimate["method"] == "mean of 4 evaluations" and res.estimate["n"] == 4
    assert res.fun_sd > 0 and "the best is an estimate (mean of 4 evaluations)" in res.message
    assert abs(res.x["x"] - 1) < 1 and abs(res.x["y"] + 0.5) < 1


NOISY_JOB = """
import random
import parc_mpi
from parc_mpi import Real
from parc_mpi.programs import NOW

def f(x, y):
    noise = random.Random(NOW[0][0]).gauss(0, 0.5)   # the same draw for a task, always
    return (x - 1) ** 2 + (y + 2) ** 2 + noise

job = parc_mpi.optimize(f, {"x": Real(-5, 5), "y": Real(-5, 5)}, budget=BUDGET,
                        goal="min", optimizer="gp", seed=3, repeats=3, repeat_top=2)
"""


def test_a_run_with_repeats_stores_and_shows_them(tmp_path, write_job):
    job = write_job(NOISY_JOB.replace("BUDGET", "20"))
    run_dir = tmp_path / "run"
    done = run_cmd(python_cmd("-m", "parc_mpi.run", job, "--run-dir", run_dir, "--no-monitor"))
    assert done.returncode == 0, done
    line = [ln for ln in done.stdout.splitlines() if "finished:" in ln][0]
    assert "(estimated: mean of 4 evaluations; the value told there first" in line
    best = json.loads((run_dir / "best.json").read_text())
    assert best["evaluations"] == 20 and best["repeats"] == 6
    assert best["estimate"]["method"] == "mean of 4 evaluations"
    with open(run_dir / "results.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 26 and all(r["repeat_of"] == "" for r in rows[:20])
    of = {int(r["task"]): int(r["repeat_of"]) for r in rows[20:]}
    assert sorted(of) == list(range(20, 26)) and len(set(of.values())) == 2
    for task, first in of.items():   # the same point as the evaluation it repeats
        assert (rows[task]["x"], rows[task]["y"]) == (rows[first]["x"], rows[first]["y"])
    run = load(str(run_dir))
    assert run.repeat_of == of and run.best["method"] == "mean of 4 evaluations"
    values = [float(rows[best["estimate"]["task"]]["result"])] + [
        float(rows[t]["result"]) for t, f in of.items() if f == best["estimate"]["task"]]
    assert run.best["value"] == pytest.approx(np.mean(values))
    from parc_mpi.serve.api import status
    shown = status("run", str(run_dir))["best"]
    assert shown["method"] == "mean of 4 evaluations" and shown["sd"] > 0


@pytest.mark.e2e
def test_a_run_killed_during_its_repeats_resumes_to_the_same_points(tmp_path, write_job):
    job = write_job(NOISY_JOB.replace("BUDGET", "24"))
    cmd = ["-m", "parc_mpi.run", job, "-q", "--no-monitor", "--prefetch", "1"]
    whole = tmp_path / "whole"
    assert run_cmd(mpi_cmd(2, *cmd, "--run-dir", whole)).returncode == 0
    reference = ok_points(whole)
    assert len(reference) == 30
    run_dir = tmp_path / "killed"
    proc = start(mpi_cmd(2, *cmd, "--run-dir", run_dir))
    killed_at = kill_rank_when(proc, run_dir, 0, 27)
    proc.communicate(timeout=60)
    assert killed_at is not None and proc.returncode != 0
    resumed = run_cmd(mpi_cmd(2, *cmd, "--resume", run_dir))
    assert resumed.returncode == 0, resumed
    assert ok_points(run_dir) == reference
    assert json.loads((run_dir / "best.json").read_text()) == \
        json.loads((whole / "best.json").read_text())


def test_the_noisy_benchmark_runs_and_prints_its_table(tmp_path):
    from conftest import ROOT
    done = run_cmd(python_cmd(f"{ROOT}/benchmarks/noisy.py", "--seeds", "1", "--budgets", "12",
                              "--problems", "branin", "epidemic", "--methods", "auto", "noise",
                              "--jobs", "1", "--json", tmp_path / "runs.json"), timeout=300)
    assert done.returncode == 0, done
    assert "| epidemic | high (10 infected) | 12 |" in done.stdout
    assert "budget 12: noise better than auto on " in done.stdout
    # one seed: its resamples are that seed, so each call is sure, 0 or 1
    odds = re.search(r"P\(noise's median below auto's\), seeds resampled: (.*)", done.stdout)
    shares = re.findall(r"(?:branin|epidemic)/(?:low|high) ([0-9.]+)", odds.group(1))
    assert len(shares) == 4 and set(shares) <= {"0.00", "1.00"}
    runs = json.loads((tmp_path / "runs.json").read_text())
    assert len(runs) == 8 and all(len(v) == 1 and math.isfinite(v[0]) for _, v in runs)
