"""benchmarks/optimizers.py's broad-suite tables: the arithmetic behind the shares,
the anytime rows and the list of losses (the BBOB functions themselves come from
COCO and are not needed here)."""
import importlib.util
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def bench():
    # the benchmark sets BLAS threads to 1, silences warnings and puts the checkout
    # first on sys.path for its own pool: keep all three from leaking into the tests
    # that run after this one
    env, path = dict(os.environ), list(sys.path)
    with warnings.catch_warnings():
        spec = importlib.util.spec_from_file_location(
            "bench_optimizers", os.path.join(ROOT, "benchmarks", "optimizers.py"))
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
    os.environ.clear()
    os.environ.update(env)
    sys.path[:] = path
    return mod


def test_the_suite_has_every_family_in_every_dimension_once(bench):
    problems = bench.bbob_suite([2, 5, 10])
    assert len(problems) == 72
    assert len({p[0] for p in problems}) == 72
    for d in (2, 5, 10):
        fids = sorted(bench.BBOB[p[0]][0] for p in problems if p[4] == d)
        assert fids == list(range(1, 25))
    # the classes cover 1..24 without a gap or an overlap
    covered = [f for _, lo, hi in bench.BBOB_CLASSES for f in range(lo, hi + 1)]
    assert covered == list(range(1, 25))


def test_ties_below_cocos_final_target_count_for_both(bench):
    assert bench.at_or_below(5e-9, [1e-12])          # both solved
    assert not bench.at_or_below(1e-3, [1e-4])
    assert bench.at_or_below(2.0, [2.0])
    assert not bench.at_or_below(1.0, [])            # nothing to compare with


def test_report_suite_counts_shares_losses_and_anytime_rows(bench, capsys):
    a, b = "f01-sphere-2d", "f03-rastrigin-2d"
    problems = [bench.PROBLEMS[a], bench.PROBLEMS[b]]
    budget = 100

    def runs(early, final, n=3):
        # best-so-far traces: `early` until 40% of the budget, then `final`
        t = np.full(budget, float(early))
        t[int(0.4 * budget):] = final
        return [t.copy() for _ in range(n)]

    methods = ["auto", "random", "pycma", "optuna-tpe"]
    results = {
        # sphere: auto best at the end, pycma ahead early on
        (a, "auto", "seq"): runs(5.0, 1e-6), (a, "pycma", "seq"): runs(1.0, 1e-3),
        (a, "optuna-tpe", "seq"): runs(2.0, 1e-2), (a, "random", "seq"): runs(9.0, 3.0),
        # rastrigin: pycma best throughout, auto second, random last
        (b, "auto", "seq"): runs(8.0, 4.0), (b, "pycma", "seq"): runs(6.0, 2.0),
        (b, "optuna-tpe", "seq"): runs(9.0, 5.0), (b, "random", "seq"): runs(20.0, 9.0),
    }
    bench.report_suite(results, problems, methods)
    out = capsys.readouterr().out
    # each method's share: auto wins sphere, pycma rastrigin
    assert "| 2 | 2 | 50% | 0% | 50% | 0% | 1/2 = 50% | 2/2 |" in out
    assert "separable                        2-D 1/2" in out
    # every seed alike: resampling cannot move the count (1 of 2); auto is the only one
    # of ours (random is no candidate), so the best of ours is auto's 1/2; held to
    # auto's test (against the best of the peers other than itself) pycma wins both,
    # TPE neither
    assert "| 2 | 1-1 of 2 | 1/2 | 1/2 | 0/2 | 2/2 | 0/2 |" in out
    # anytime: at 10% and 25% pycma leads on both (log10 ratios 0.70 and 0.12,
    # median 0.41); from 50% auto wins sphere (-3.0) and loses rastrigin (+0.30)
    assert "| 2 | 0/2 (+0.41) | 0/2 (+0.41) | 1/2 (-1.35) | 1/2 (-1.35) |" in out
    # the per-problem curves: auto's and the best peer's medians at each share
    assert "| f01-sphere-2d | 5 / 5 / 1e-06 / 1e-06 | pycma | 1 / 1 / 0.001 / 0.001 |" in out
    assert "| f03-rastrigin-2d | 8 / 8 / 4 / 4 | pycma | 6 / 6 / 2 / 2 |" in out
    loss = [line for line in out.splitlines() if line.strip().startswith(b)]
    assert len(loss) == 1 and "pycma 2" in loss[0] and "(2x)" in loss[0]
    assert not any(line.strip().startswith(a) for line in out.splitlines())


def test_the_suite_without_coco_installed_says_so_in_one_line(tmp_path):
    # cocoex made unimportable (find_spec answers None), whatever this machine has
    code = ("import runpy, sys; sys.modules['cocoex'] = None; "
            "sys.argv = ['optimizers.py', '--suite', 'bbob', '--methods', 'auto', "
            f"'--cache', {str(tmp_path / 'c.jsonl')!r}]; "
            f"runpy.run_path({os.path.join(ROOT, 'benchmarks', 'optimizers.py')!r}, "
            "run_name='__main__')")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "cocoex not installed" in lines[0] and "parc_mpi[bench]" in lines[0]
    assert not (tmp_path / "c.jsonl").exists()     # nothing ran


def test_async_slowdown_is_the_ert_ratio_and_its_interval_brackets_it(bench):
    budget = 20

    def trace(hit):
        # best-so-far: 1.0 until evaluation `hit` (1-based), 0.0 from there on
        t = np.ones(budget)
        t[hit - 1:] = 0.0
        return list(t)
    # sequential runs reach 0 at evaluations 4, 6 and 8: the median best at half the
    # budget (index 9) is 0, ERT = (4 + 6 + 8) / 3 = 6; the runs with 8 pending need
    # twice as many: ERT 12, a slow-down of exactly 2
    seq = [trace(4), trace(6), trace(8)]
    asy = [trace(8), trace(12), trace(16)]
    assert bench.async_slowdowns([(seq, asy)], 0.5) == [2.0]
    # one asynchronous run that never gets there: ERT = (8 + 12 + 20) / 2 = 20
    miss = [trace(8), trace(12), [1.0] * budget]
    assert bench.async_slowdowns([(seq, miss)], 0.5) == [20 / 6]
    # the interval over resampled seeds contains the point estimate, and collapses to
    # it when every seed behaves alike
    lo, hi = bench.slowdown_interval([(seq, asy), (seq, miss)], 0.5, rounds=50)
    point = float(np.median(bench.async_slowdowns([(seq, asy), (seq, miss)], 0.5)))
    assert lo <= point <= hi and lo < hi
    same = [trace(5)] * 3
    assert bench.slowdown_interval([(same, [trace(10)] * 3)], 0.5, rounds=20) == (2.0, 2.0)


def test_share_interval_spans_what_the_seeds_allow(bench):
    names = ["p"]
    # auto's seeds straddle the peer's: some resamples put its median below, some above
    finals = {("p", "auto"): np.array([1.0, 1.0, 3.0, 3.0, 3.0]),
              ("p", "pycma"): np.array([2.0] * 5)}
    assert bench.share_interval(finals, names, ["auto", "pycma"], rounds=100) == (0, 1)
    # clearly ahead on every seed: 1 in every resample
    finals[("p", "auto")] = np.array([0.5] * 5)
    assert bench.share_interval(finals, names, ["auto", "pycma"], rounds=20) == (1, 1)
