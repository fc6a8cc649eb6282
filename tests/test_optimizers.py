"""The ask/tell optimizers: convergence, determinism, asynchrony, failures, bad input."""
import json
import math
import subprocess
import sys

import numpy as np
import pytest

import parc_mpi
from parc_mpi import Choice, Integer, Real
from parc_mpi.optimizers import ADAPTERS, OPTIMIZERS, make_optimizer
from parc_mpi.optimizers.cmaes import CMAES

CORE = sorted(OPTIMIZERS)
MODEL_FREE_BUDGET = {"random": None, "sobol": None, "lhs": None}


def quadratic(p):
    return sum((v - 0.3) ** 2 for v in p.values())


def run(opt, f, budget, pending=1, rng=None, order="fifo"):
    """Drive an optimizer with ``pending`` trials in flight, told FIFO or shuffled."""
    rng = rng or np.random.default_rng(0)
    flight = []
    while opt.n_told < budget:
        if len(opt.trials) < budget:
            flight += opt.ask(1)
        if len(flight) >= pending or len(opt.trials) >= budget:
            k = 0 if order == "fifo" else int(rng.integers(len(flight)))
            t = flight.pop(k)
            opt.tell(t, f(t.params))
    return opt


@pytest.mark.parametrize("name", ["cmaes", "de", "gp", "turbo", "auto"])
def test_converges_on_a_convex_quadratic(name):
    space = {f"x{i}": Real(-1, 1) for i in range(3)}
    budget = 80 if name in ("gp", "turbo", "auto") else 400
    opt = run(make_optimizer(name, space, seed=3, budget=budget), quadratic, budget)
    assert opt.best.value < 1e-3, f"{name}: {opt.best.value}"


@pytest.mark.parametrize("name", ["random", "sobol", "lhs"])
def test_space_filling_methods_beat_nothing_but_cover_the_box(name):
    space = {"x": Real(-1, 1), "y": Real(-1, 1)}
    opt = run(make_optimizer(name, space, seed=0, budget=64), quadratic, 64)
    xs = np.array([t.u for t in opt.trials])
    assert xs.min() >= 0 and xs.max() <= 1
    # every quarter of the square gets points
    quarters = {(int(u[0] > 0.5), int(u[1] > 0.5)) for u in xs}
    assert len(quarters) == 4
    assert opt.best.value < 0.2


@pytest.mark.parametrize("name", CORE)
def test_same_seed_same_asks_and_tells_same_points(name):
    space = {"x": Real(-2, 2), "n": Integer(1, 9), "c": Choice(["a", "b", "c"])}
    f = lambda p: (p["x"] - 1) ** 2 + abs(p["n"] - 4) + (p["c"] != "b")  # noqa: E731
    a = run(make_optimizer(name, space, seed=11, budget=40), f, 40, pending=3, order="shuffle")
    b = run(make_optimizer(name, space, seed=11, budget=40), f, 40, pending=3, order="shuffle")
    assert [t.params for t in a.trials] == [t.params for t in b.trials]
    c = run(make_optimizer(name, space, seed=12, budget=40), f, 40, pending=3, order="shuffle")
    assert [t.params for t in a.trials] != [t.params for t in c.trials]


@pytest.mark.parametrize("name", CORE)
def test_out_of_order_tells_and_failures_are_survived(name):
    space = {"x": Real(-1, 1), "y": Real(-1, 1)}
    opt = make_optimizer(name, space, seed=5, budget=60)
    rng = np.random.default_rng(1)
    bad = [math.nan, math.inf, -math.inf, None]  # failures; a string is refused (TypeError)
    flight = []
    for i in range(60):
        flight += opt.ask(2 if i % 3 == 0 else 1)
        while len(flight) > 6:
            t = flight.pop(int(rng.integers(len(flight))))
            opt.tell(t, bad[(t.id // 4) % 4] if t.id % 4 == 0 else quadratic(t.params))
    for t in flight:
        opt.tell(t, quadratic(t.params))
    assert opt.best is not None and math.isfinite(opt.best.value)
    assert all(not t.pending for t in opt.trials)
    json.dumps(opt.state())  # serialisable


@pytest.mark.parametrize("name", CORE)
def test_pending_points_are_not_proposed_again(name):
    space = {"x": Real(0, 1), "y": Real(0, 1)}
    opt = make_optimizer(name, space, seed=2, budget=40)
    run(opt, quadratic, 12)
    batch = opt.ask(8)
    pts = np.array([t.u for t in batch] + [t.u for t in opt.trials[:-8]])
    dist = np.sqrt(((pts[:, None, :] - pts[None, :, :]) ** 2).sum(-1))
    np.fill_diagonal(dist, np.inf)
    assert dist[:8].min() > 1e-6


def test_gp_likelihood_gradient_matches_finite_differences():
    from scipy.optimize import approx_fprime
    from parc_mpi.optimizers.model import neg_log_likelihood
    rng = np.random.default_rng(1)
    X, y = rng.random((40, 4)), rng.standard_normal(40)
    theta = np.log([0.2, 0.5, 1.0, 0.3, 1.5, 1e-3])
    analytic = neg_log_likelihood(theta, X, y)[1]
    numeric = approx_fprime(theta, lambda t: neg_log_likelihood(t, X, y)[0], 1e-6)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-4, atol=1e-4)


def test_trust_region_grows_on_success_shrinks_on_failure_and_restarts():
    space = {f"x{i}": Real(0, 1) for i in range(2)}
    opt = make_optimizer("turbo", space, seed=0)
    n_init, limit = opt.n_init, opt.fail_limit
    # successes: every value better than the last by far
    value = 100.0
    for _ in range(n_init + 3):
        value /= 2
        opt.tell(opt.ask(1)[0], value)
    assert opt.length == 2 * opt.L_INIT
    # failures from now on: the box halves every `limit` of them ...
    for _ in range(limit):
        opt.tell(opt.ask(1)[0], 1e6)
    assert opt.length == opt.L_INIT
    # ... until it is smaller than L_MIN, then the search restarts with a fresh design
    for _ in range(limit * 7):
        opt.tell(opt.ask(1)[0], 1e6)
    assert opt.restarts == 1 and opt.length == opt.L_INIT and not opt._rx
    assert opt.best.value == value                  # the best point survives a restart
    assert opt.state()["restarts"] == 1


@pytest.mark.parametrize("name", ["turbo", "auto"])
def test_with_noisy_values_the_trust_region_halves_after_twice_the_failures(name):
    """A noisy value seldom beats the luckiest draw so far: the box needs twice the
    failures before it halves (what benchmarks/noisy.py measured better)."""
    space = {f"x{i}": Real(0, 1) for i in range(2)}
    opt = make_optimizer(name, space, seed=0, budget=200, noise=True)
    box = opt if name == "turbo" else opt.gp
    exact = make_optimizer("turbo", space, seed=0).fail_limit
    assert box.fail_limit == 2 * exact
    for i in range(box.n_init):
        opt.tell(opt.ask(1)[0], 100.0 - i)
    for _ in range(2 * exact - 1):
        opt.tell(opt.ask(1)[0], 1e6)
    assert box.length == box.L_INIT                 # an exact search would have halved
    opt.tell(opt.ask(1)[0], 1e6)
    assert box.length == box.L_INIT / 2
    box.set_noise(None)
    assert box.fail_limit == exact


def test_trust_region_ignores_failures_of_points_asked_before_it_moved():
    """With trials in flight, points asked before the box moved to a new best are
    not the box's failures; only those asked from the box as it stands count."""
    space = {f"x{i}": Real(0, 1) for i in range(2)}
    opt = make_optimizer("turbo", space, seed=0)
    for i in range(opt.n_init):
        opt.tell(opt.ask(1)[0], 100.0 - i)
    stale = opt.ask(opt.fail_limit + 1)
    opt.tell(stale[0], 1.0)                 # a success: the box moves
    for t in stale[1:]:
        opt.tell(t, 1e6)                    # asked before the move: not counted
    assert opt.fail == 0 and opt.length == opt.L_INIT
    fresh = opt.ask(opt.fail_limit)
    for t in fresh:
        opt.tell(t, 1e6)                    # asked from the moved box: counted
    assert opt.length == opt.L_INIT / 2


def test_trust_region_keeps_proposals_near_the_best_point():
    space = {f"x{i}": Real(0, 1) for i in range(3)}
    opt = make_optimizer("turbo", space, seed=2)
    run(opt, quadratic, 60)
    opt.length = 0.05
    u = opt.ask(1)[0].u
    # the box is 0.05 of the range times length-scale weights (at most 10x apart)
    assert np.abs(u - opt.best.u).max() < 0.05 * 10


def test_gp_batch_points_spread_out():
    """Kriging believer: a batch of asks is not eight copies of the same best guess."""
    space = {"x": Real(0, 1), "y": Real(0, 1)}
    opt = run(make_optimizer("gp", space, seed=4), quadratic, 15)
    batch = np.array([t.u for t in opt.ask(8)])
    spread = np.sqrt(((batch[:, None] - batch[None]) ** 2).sum(-1))
    np.fill_diagonal(spread, np.inf)
    assert spread.min() > 1e-3


def rastrigin(p):
    return sum(10 + v * v - 10 * math.cos(2 * math.pi * v) for v in p.values())


def rotated_ellipsoid(p):
    x = np.array(list(p.values())) - 0.3
    z = np.array([[0.8, -0.6, 0.0], [0.6, 0.8, 0.0], [0.0, 0.0, 1.0]]) @ x
    return float(np.sum(10.0 ** (3 * np.arange(3) / 2) * z * z))


def test_auto_hands_a_rugged_landscape_to_cmaes_when_the_trust_region_collapses():
    """Rastrigin's ripples fit as GP noise: at TuRBO's first collapse ``auto`` goes
    on with CMA-ES from the best point (step 0.1), long before its GP budget ends."""
    space = {f"x{i}": Real(-5.12, 5.12) for i in range(5)}
    opt = make_optimizer("auto", space, seed=0, budget=400)
    assert opt.gp_budget == 400
    while opt.gp.restarts == 0 and opt.n_told < 400:
        t = opt.ask(1)[0]
        opt.tell(t, rastrigin(t.params))
    switched, best_u = opt.n_told, opt.best.u
    assert switched < 150, "the trust region never collapsed: the test proves nothing"
    assert opt.gp.fitted_noise > 5e-3          # the GP read ripples as noise
    t = opt.ask(1)[0]
    opt.tell(t, rastrigin(t.params))
    assert opt.phase == "cmaes" and opt.gp_budget == switched
    run(opt, rastrigin, 400)
    assert opt.gp.restarts == 1 and len(opt.gp.trials) == switched   # the GP got no more
    assert opt.cma.sigma0 == 0.1 and opt.cma.restart_sigma == 0.3 and opt.cma.surrogate
    assert len(opt.cma.trials) == 400 - switched
    first = np.array([t.u for t in opt.cma.trials[:opt.cma.lam0]])
    assert np.linalg.norm(first.mean(0) - best_u) < 0.2    # sampled around the best point


def peaks(p):
    """Twelve Gaussian peaks of different heights and widths in [-1, 1]^3: smooth, but
    no bowl (as BBOB's Gallagher functions)."""
    rng = np.random.default_rng(5)
    centres, heights, widths = rng.uniform(-1, 1, (12, 3)), np.linspace(1, 0.3, 12), \
        rng.uniform(3, 10, 12)
    x = np.array(list(p.values()))
    return float(10 - max(h * 10 * math.exp(-w * np.sum((x - c) ** 2))
                          for c, h, w in zip(centres, heights, widths)))


def test_auto_restarts_the_trust_region_on_smooth_peaks():
    """Smooth (no noise in the fit) and no bowl (a quadratic ranks the points badly):
    a collapse restarts TuRBO, which goes on to find the highest peak."""
    from parc_mpi.optimizers.auto import QUADRATIC_TAU
    from parc_mpi.optimizers.lq import QuadraticModel
    space = {f"x{i}": Real(-1, 1) for i in range(3)}
    opt = make_optimizer("auto", space, seed=1, budget=300)
    while opt.gp.restarts == 0:
        t = opt.ask(1)[0]
        opt.tell(t, peaks(t.params))
    X, y = opt._told()
    bowl = QuadraticModel(3, min_size=len(y))
    bowl.extend(X, y)
    assert bowl.tau(len(y)) < QUADRATIC_TAU and opt.gp.fitted_noise < 5e-3
    run(opt, peaks, 300)
    assert opt.gp.restarts >= 2, "the trust region never restarted: the test proves nothing"
    assert opt.phase == "gp" and opt.cma is None and opt.gp_budget == 300
    assert opt.best.value < 1e-3                 # the top of the highest peak is 0


def test_auto_hands_a_bowl_to_lq_cmaes_at_the_first_collapse():
    """A rotated ellipsoid fits with no noise, and a quadratic ranks every point: at the
    first collapse ``auto`` goes on with lq-CMA-ES from the best point, its model
    trained on the GP's points, and ends far below where TuRBO's restarts end."""
    space = {f"x{i}": Real(-1, 1) for i in range(3)}
    opt = make_optimizer("auto", space, seed=0, budget=300)
    while opt.gp.restarts == 0:
        t = opt.ask(1)[0]
        opt.tell(t, rotated_ellipsoid(t.params))
    switched = opt.n_told
    t = opt.ask(1)[0]
    assert opt.phase == "cmaes" and opt.cma.surrogate and opt.gp_budget == switched
    assert len(opt.cma.model) == min(switched, opt.cma.model.max_size)
    opt.tell(t, rotated_ellipsoid(t.params))
    run(opt, rotated_ellipsoid, 300)
    import parc_mpi.optimizers.auto as auto_module
    keep = auto_module.QUADRATIC_TAU
    auto_module.QUADRATIC_TAU = 2.0              # never: TuRBO restarts, as before
    try:
        before = run(make_optimizer("auto", space, seed=0, budget=300), rotated_ellipsoid, 300)
    finally:
        auto_module.QUADRATIC_TAU = keep
    assert before.phase == "gp" and before.gp.restarts >= 1
    assert opt.best.value < 1e-10 and opt.best.value < before.best.value / 1000


def test_cmaes_restarts_with_its_own_step():
    space = {"x": Real(-1, 1), "y": Real(-1, 1)}
    opt = CMAES(space, seed=0, sigma0=0.05, restart_sigma=0.4)
    for _ in range(500):
        t = opt.ask(1)[0]
        opt.tell(t, abs(t.params["x"]) // 0.5)   # a plateau: flat fitness ends the run
        if opt.restarts:
            break
    assert opt.restarts == 1 and opt.sigma == 0.4 and opt.lam == 2 * opt.lam0


def rotated_ellipsoid_5d(u):
    rot = np.linalg.qr(np.random.default_rng(1).standard_normal((5, 5)))[0]
    z = rot @ (np.asarray(u) - 0.3)
    return float(np.sum(10.0 ** (3 * np.arange(5) / 4) * z * z))


def test_quadratic_model_recovers_a_rotated_quadratic_exactly():
    from parc_mpi.optimizers.lq import QuadraticModel
    rng = np.random.default_rng(0)
    model = QuadraticModel(5)
    X = rng.random((40, 5))
    for x in X[:17]:
        model.add(x, rotated_ellipsoid_5d(x))
    assert model.kind == "diagonal"          # 17 x 0.75 >= 1.1 x 11 coefficients
    for x in X[17:]:
        model.add(x, rotated_ellipsoid_5d(x))
    assert model.kind == "full"              # 40 x 0.75 >= 1.1 x 21
    new = rng.random((20, 5))
    truth = [rotated_ellipsoid_5d(x) for x in new]
    assert np.allclose(model.predict(new), truth, rtol=1e-6, atol=1e-9)
    assert model.tau(30) > 0.999
    model.add(np.full(5, 0.5), math.nan)     # a failure is not data
    assert len(model) == 40


def test_lq_cmaes_needs_far_fewer_evaluations_on_a_smooth_function():
    """lq-CMA-ES evaluates one or two samples per generation once its quadratic model
    ranks them right: on a rotated ellipsoid it gets 7 orders of magnitude further than
    plain CMA-ES with the same 150 evaluations."""
    space = {f"x{i}": Real(0, 1) for i in range(5)}
    plain, lq = CMAES(space, seed=0), CMAES(space, seed=0, surrogate=True)
    for opt in (plain, lq):
        for _ in range(150):
            t = opt.ask(1)[0]
            opt.tell(t, rotated_ellipsoid_5d(t.u))
    assert plain.best.value > 0.1 and lq.best.value < 1e-6
    assert lq.state()["generations"] > 100 > plain.gen * 2 and lq.state()["model"] == "full"


def test_lq_cmaes_with_evaluations_in_flight_and_failures_keeps_going():
    """Four in flight, told out of order, one in ten failing: when a generation is all
    out, the next one opens (several at once), every generation closes (a hang would
    stop the count), and it still beats plain CMA-ES on the same stream of events."""
    space = {f"x{i}": Real(0, 1) for i in range(5)}
    found, most_open = {}, 0
    for opt in (CMAES(space, seed=0), CMAES(space, seed=0, surrogate=True)):
        rng = np.random.default_rng(0)
        flight = []
        for _ in range(300):
            while len(flight) < 4:
                flight += opt.ask(1)
            t = flight.pop(int(rng.integers(len(flight))))
            opt.tell(t, math.nan if rng.random() < 0.1 else rotated_ellipsoid_5d(t.u))
            if opt.surrogate:
                most_open = max(most_open, len(opt._open))
        found[opt.surrogate] = opt.best.value
    assert most_open >= 2 and opt._gens > 50
    assert found[True] < 0.01 and found[True] < found[False] / 5


def test_lq_cmaes_screens_its_first_generation_with_points_it_is_given():
    """remember(): points evaluated elsewhere (auto's GP phase) train the model, so
    the first generation is already ranked by a full quadratic, best sample first."""
    space = {f"x{i}": Real(0, 1) for i in range(5)}
    rng = np.random.default_rng(3)
    X = rng.random((60, 5))
    opt = CMAES(space, seed=0, surrogate=True, sigma0=0.2)
    opt.remember(X, [rotated_ellipsoid_5d(x) for x in X])
    assert opt.model.kind == "full"
    first = opt.ask(1)[0]
    cands = next(iter(opt._open.values())).X
    assert rotated_ellipsoid_5d(first.u) == min(rotated_ellipsoid_5d(x) for x in cands)


def test_goal_max_finds_the_top():
    space = {"x": Real(-3, 3)}
    opt = run(make_optimizer("auto", space, goal="max", seed=0, budget=40),
              lambda p: -(p["x"] - 2) ** 2 + 5, 40)
    assert opt.best.value > 4.99 and abs(opt.best.params["x"] - 2) < 0.1


def test_bad_calls_are_refused_with_names():
    opt = make_optimizer("cmaes", {"x": Real(0, 1)})
    with pytest.raises(ValueError, match="n must be at least 1"):
        opt.ask(0)
    t = opt.ask(1)[0]
    opt.tell(t, 1.0)
    with pytest.raises(ValueError, match="already told"):
        opt.tell(t, 2.0)
    with pytest.raises(ValueError, match="unknown optimizer 'bogus'; choose one of auto"):
        make_optimizer("bogus", {"x": Real(0, 1)})


def test_core_never_imports_the_adapters_libraries():
    code = ("import sys, parc_mpi, parc_mpi.optimizers; "
            "parc_mpi.minimize(lambda x: x * x, {'x': parc_mpi.Real(-1, 1)}, budget=5); "
            "print(sorted(m for m in ('optuna', 'cma', 'nevergrad') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={"PARC_MPI_SERIAL": "1", "PATH": "/usr/bin:/bin"})
    assert out.stdout.strip() == "[]", out.stderr


@pytest.mark.parametrize("name", ADAPTERS)
def test_adapters_speak_ask_tell(name):
    module = {"optuna-tpe": "optuna", "optuna-cmaes": "cmaes", "pycma": "cma",
              "nevergrad": "nevergrad"}[name]
    pytest.importorskip(module, reason=f"the {name} adapter needs {module} (an extra)")
    space = {"x": Real(-1, 1), "y": Real(-1, 1)}
    opt = run(make_optimizer(name, space, seed=1, budget=60, workers=2), quadratic, 60,
              pending=3, order="shuffle")
    assert opt.n_told == 60 and opt.best.value < 0.1


# -- minimize / maximize -------------------------------------------------------

def test_minimize_returns_result_with_history():
    def f(x, k):
        return (x - 0.5) ** 2 + (k != "b")
    res = parc_mpi.minimize(f, {"x": Real(-2, 2), "k": Choice(["a", "b"])}, budget=40, seed=1)
    assert res.success and res.nfev == 40 and res.nfail == 0
    assert res.x["k"] == "b" and abs(res.x["x"] - 0.5) < 0.05
    assert res.fun == pytest.approx(f(**res.x))
    h = res.history
    assert set(h) >= {"x", "k", "value", "ok", "seconds", "worker"}
    assert all(len(v) == 40 for v in h.values())
    assert np.nanmin(h["value"]) == res.fun
    assert res["fun"] == res.fun


def test_maximize_and_failures_in_the_history():
    def f(x):
        if x < 0:
            raise ValueError("negative")
        return -x * x + 1
    res = parc_mpi.maximize(f, {"x": Real(-1, 1)}, budget=30, optimizer="cmaes", seed=0)
    assert res.success and res.fun > 0.99 and res.nfail > 0
    assert np.isnan(res.history["value"][~res.history["ok"]]).all()


def test_minimize_with_every_evaluation_failing_says_so():
    res = parc_mpi.minimize(lambda x: 1 / 0, {"x": Real(0, 1)}, budget=5)
    assert not res.success and res.nfail == 5 and math.isnan(res.fun)
    assert "ZeroDivisionError" in res.message


@pytest.mark.parametrize("kwargs, message", [
    (dict(budget=0), "budget must be a positive integer"),
    (dict(budget=5, optimizer="nope"), "unknown optimizer 'nope'"),
])
def test_minimize_bad_input(kwargs, message):
    with pytest.raises(ValueError, match=message):
        parc_mpi.minimize(lambda x: x, {"x": Real(0, 1)}, **kwargs)


def test_minimize_without_a_launcher_keeps_run_dir_like_a_cluster_run(tmp_path):
    """The serial path goes through the scheduler and store: run_dir is honoured,
    the report rebuilds from it, and the columns are a cluster run's."""
    import csv
    import subprocess
    import sys
    from conftest import ROOT, cli_env
    from parc_mpi.store import RunReader

    calls = []

    def f(x):
        calls.append(x)
        if x > 0.9:
            raise ValueError("too far")
        return (x - 0.3) ** 2

    run_dir = tmp_path / "kept"
    res = parc_mpi.minimize(f, {"x": Real(0, 1)}, budget=25, seed=3, run_dir=str(run_dir))
    assert res.run_dir == str(run_dir) and res.nfev == 25 == len(calls)
    with RunReader(str(run_dir)) as reader:
        rows = reader.results()
        meta = reader.meta()
    assert meta["status"] == "finished" and meta["job"]["kind"] == "optimize"
    assert [r.params["x"] for r in rows] == calls          # one row per evaluation
    assert {r.worker for r in rows} == {0} and all(r.node for r in rows)
    assert [r.ok for r in rows] == list(res.history["ok"])
    # seconds: from the first evaluation's start, never negative, non-decreasing
    secs = res.history["seconds"]
    assert (secs >= 0).all() and (np.diff(secs) >= 0).all()
    with open(run_dir / "results.csv", newline="") as fh:
        head = next(csv.reader(fh))
    assert head == ["task", "status", "attempts", "x", "result", "worker", "node", "seconds",
                    "error"]
    done = subprocess.run([sys.executable, "-m", "parc_mpi.report", str(run_dir)], cwd=ROOT,
                          env=cli_env(), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "Optimization" in (run_dir / "report.html").read_text()


def test_minimize_without_run_dir_leaves_nothing_behind(tmp_path, monkeypatch):
    import tempfile
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    res = parc_mpi.minimize(lambda x: x * x, {"x": Real(-1, 1)}, budget=8, seed=0)
    assert res.run_dir is None and res.nfev == 8
    assert list(tmp_path.iterdir()) == []


def test_tell_refuses_a_value_that_is_not_a_number():
    opt = make_optimizer("random", {"x": Real(0, 1)}, seed=0)
    a, b, c = opt.ask(3)
    with pytest.raises(TypeError, match=r"trial 0: the value must be a number .* str 'abc'"):
        opt.tell(a, "abc")
    assert a.pending  # refused, not taken as a failure
    opt.tell(a, None)                 # a failure, as documented
    opt.tell(b, float("inf"))         # a failure too
    opt.tell(c, np.float32(0.5))
    assert math.isnan(a.value) and math.isnan(b.value) and opt.best is c
