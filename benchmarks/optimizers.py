"""Optimizer quality at equal budget, side by side with the usual tools, in one run.

    python benchmarks/optimizers.py                 # the whole suite (hours here)
    python benchmarks/optimizers.py --quick         # 3 seeds, budget 50 x d, 2-5 D
    python benchmarks/optimizers.py --seeds 10 --dims 2 5 10 --budgets 50 200 --jobs 2
    python benchmarks/optimizers.py --beyond        # several objectives, constraints,
                                                    # pruning, ask cost (beyond.py)
    python benchmarks/optimizers.py --suite bbob --no-ask-cost   # the broad suite:
        # 24 BBOB families x 2, 5, 10 D = 72 problems, 10 seeds (about 35 min on
        # 2 cores; needs pip install coco-experiment, the 'bench' extra)

Runs are spread over ``--jobs`` processes and kept in ``--cache`` (a JSON-lines
file): a peer's run is keyed by the peer's version, one of ours by a hash of the
optimizer code (comments and docstrings left out), so after a change to ours only
ours run again.

Suite: Rastrigin, Rosenbrock, Ackley, Levy, Styblinski-Tang in each dimension,
Branin, Hartmann 3 and 6; minimising; budget = factor x dimension. Methods: ours
(auto, random, sobol, cmaes, de, gp) and peers: Optuna's TPE and CMA-ES samplers,
pycma, scipy's differential_evolution capped at the budget. "seq" tells each point
before the next ask; "async8" keeps 8 trials pending and tells them out of order, as
a cluster does (scipy's DE is synchronous: seq only). Printed: median [quartiles] of
the regret (best found - known optimum) per problem, the share of the suite where
each method has the best median, auto against the best peer and against random,
the async slow-down in evaluations-to-target, and ask() cost at 1,000 observations
in 10 D.

The broad suite (``--suite bbob``, see ``bbob_problem``): auto beside random and the
peers, sequential, 50 x d; per problem the median [quartiles] of the regret as a
Markdown table, per dimension each method's share of the problems where its median
is at or below the best median of all the others, how far the seeds move auto's
count against the best peer (resampled), what picking the best of ours per problem
after the fact would reach, each method held to auto's test, auto against the best
peer by class, the same at 10/25/50/100% of the budget (anytime), and every loss by
name.
"""
import argparse
import ast
import hashlib
import importlib.util
import json
import math
import multiprocessing
import os
import sys
import time
import warnings

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")   # --jobs processes share the cores
import numpy as np  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
from parc_mpi import Real  # noqa: E402
from parc_mpi.optimizers import make_optimizer  # noqa: E402

warnings.filterwarnings("ignore")


# -- test functions (x in the function's own box) -----------------------------------
def rastrigin(x):
    return 10 * len(x) + float(np.sum(x * x - 10 * np.cos(2 * np.pi * x)))


def rosenbrock(x):
    return float(np.sum(100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2))


def ackley(x):
    d = len(x)
    return float(-20 * np.exp(-0.2 * np.sqrt(np.sum(x * x) / d))
                 - np.exp(np.sum(np.cos(2 * np.pi * x)) / d) + 20 + math.e)


def levy(x):
    w = 1 + (x - 1) / 4
    return float(np.sin(np.pi * w[0]) ** 2
                 + np.sum((w[:-1] - 1) ** 2 * (1 + 10 * np.sin(np.pi * w[:-1] + 1) ** 2))
                 + (w[-1] - 1) ** 2 * (1 + np.sin(2 * np.pi * w[-1]) ** 2))


def styblinski_tang(x):
    return float(0.5 * np.sum(x ** 4 - 16 * x * x + 5 * x))


def branin(x):
    a, b, c, r, s, t = 1, 5.1 / (4 * np.pi ** 2), 5 / np.pi, 6, 10, 1 / (8 * np.pi)
    return float(a * (x[1] - b * x[0] ** 2 + c * x[0] - r) ** 2 + s * (1 - t) * np.cos(x[0]) + s)


HART_A = {3: np.array([[3, 10, 30], [0.1, 10, 35], [3, 10, 30], [0.1, 10, 35]]),
          6: np.array([[10, 3, 17, 3.5, 1.7, 8], [0.05, 10, 17, 0.1, 8, 14],
                       [3, 3.5, 1.7, 10, 17, 8], [17, 8, 0.05, 10, 0.1, 14]])}
HART_P = {3: 1e-4 * np.array([[3689, 1170, 2673], [4699, 4387, 7470], [1091, 8732, 5547],
                              [381, 5743, 8828]]),
          6: 1e-4 * np.array([[1312, 1696, 5569, 124, 8283, 5886],
                              [2329, 4135, 8307, 3736, 1004, 9991],
                              [2348, 1451, 3522, 2883, 3047, 6650],
                              [4047, 8828, 8732, 5743, 1091, 381]])}
HART_ALPHA = np.array([1.0, 1.2, 3.0, 3.2])


def hartmann(x):
    d = len(x)
    return float(-np.sum(HART_ALPHA * np.exp(-np.sum(HART_A[d] * (x - HART_P[d]) ** 2, axis=1))))


def suite(dims):
    """(name, f, low, high, dim, known minimum)."""
    out = []
    for d in dims:
        out += [(f"rastrigin{d}", rastrigin, -5.12, 5.12, d, 0.0),
                (f"rosenbrock{d}", rosenbrock, -5.0, 10.0, d, 0.0),
                (f"ackley{d}", ackley, -32.768, 32.768, d, 0.0),
                (f"levy{d}", levy, -10.0, 10.0, d, 0.0),
                (f"styblinski{d}", styblinski_tang, -5.0, 5.0, d, -39.16616570377142 * d)]
    out += [("branin", branin, None, None, 2, 0.397887),
            ("hartmann3", hartmann, 0.0, 1.0, 3, -3.86278),
            ("hartmann6", hartmann, 0.0, 1.0, 6, -3.32237)]
    return out


PROBLEMS = {p[0]: p for p in suite([2, 5, 10, 20])}


# -- the broader suite: BBOB (Hansen et al., "Real-parameter black-box optimization
# benchmarking 2009: noiseless functions definitions", INRIA RR-6829), through COCO's
# own implementation (pip install coco-experiment). 24 families in five classes:
# separable (1-5), low or moderate conditioning (6-9), high conditioning and unimodal
# (10-14), multi-modal with adequate global structure (15-19), multi-modal with weak
# global structure (20-24); every one but 1-5 rotated, most with an irregular
# (oscillating, asymmetric) transformation. The domain is [-5, 5]^d, the optimum
# inside it. Seed s runs on instance s + 2 (each instance shifts and rotates the
# function anew): instance 1 is left out, kept aside for checking.
BBOB_NAMES = ["sphere", "ellipsoid", "rastrigin", "bueche-rastrigin", "linear-slope",
              "attractive-sector", "step-ellipsoid", "rosenbrock", "rosenbrock-rot",
              "ellipsoid-rot", "discus", "bent-cigar", "sharp-ridge", "different-powers",
              "rastrigin-rot", "weierstrass", "schaffer-f7", "schaffer-f7-illcond",
              "griewank-rosenbrock", "schwefel", "gallagher-101", "gallagher-21",
              "katsuura", "lunacek-bi-rastrigin"]
BBOB_CLASSES = [("separable", 1, 5), ("moderate conditioning", 6, 9),
                ("ill-conditioned", 10, 14), ("multi-modal, global structure", 15, 19),
                ("multi-modal, weak structure", 20, 24)]
BBOB = {}   # name -> (function number, dimension)
for _d in (2, 5, 10, 20):
    for _i, _n in enumerate(BBOB_NAMES, 1):
        _name = f"f{_i:02d}-{_n}-{_d}d"
        BBOB[_name] = (_i, _d)
        PROBLEMS[_name] = (_name, None, -5.0, 5.0, _d, None)


def bbob_suite(dims):
    return [PROBLEMS[n] for n in BBOB if BBOB[n][1] in dims]


def bbob_problem(name, seed):
    """(f, f at the optimum) of BBOB function ``name`` on instance seed + 2."""
    import tempfile
    import cocoex
    fid, d = BBOB[name]
    problem = cocoex.Suite("bbob", f"instances: {seed + 2}",
                           f"dimensions: {d} function_indices: {fid}")[0]
    here = os.getcwd()
    with tempfile.TemporaryDirectory() as tmp:
        os.chdir(tmp)   # COCO writes the optimum's location to a file in the cwd
        try:
            problem._best_parameter("print")
            xopt = np.loadtxt("._bbob_problem_best_parameter.txt", ndmin=1)
        finally:
            os.chdir(here)
    return (lambda x: float(problem(x))), float(problem(xopt))


def space_for(name, low, high, d):
    if name == "branin":
        return {"x0": Real(-5, 10), "x1": Real(0, 15)}
    return {f"x{i}": Real(low, high) for i in range(d)}


# -- running one method --------------------------------------------------------------
def run_ours(method, f, space, budget, seed, pending):
    opt = make_optimizer(method, space, goal="min", seed=seed, budget=budget, workers=pending)
    names = list(space)
    rng = np.random.default_rng(seed + 1000)
    flight, trace = [], []
    best = math.inf
    while opt.n_told < budget:
        while len(opt.trials) < budget and len(flight) < pending:
            flight += opt.ask(1)
        t = flight.pop(0 if pending == 1 else int(rng.integers(len(flight))))
        v = f(np.array([t.params[n] for n in names]))
        opt.tell(t, v)
        best = min(best, v)
        trace.append(best)
    return trace


def run_scipy_de(f, space, budget, seed):
    from scipy.optimize import differential_evolution
    bounds = [(p.low, p.high) for p in space.values()]
    trace = []
    best = [math.inf]

    class Done(Exception):
        pass

    def g(x):
        if len(trace) >= budget:
            raise Done
        v = f(np.asarray(x))
        best[0] = min(best[0], v)
        trace.append(best[0])
        return v
    try:
        differential_evolution(g, bounds, seed=seed, maxiter=10 ** 6, tol=0, polish=False,
                               popsize=max(5, min(15, budget // (10 * len(bounds)))))
    except Done:
        pass
    while len(trace) < budget:  # converged early: the best stays
        trace.append(best[0])
    return trace


METHODS_OURS = ["auto", "random", "sobol", "cmaes", "lq-cmaes", "de", "gp"]
PEERS = ["optuna-tpe", "optuna-cmaes", "pycma", "scipy-de"]


def run_method(method, f, space, budget, seed, pending):
    if method == "scipy-de":
        return run_scipy_de(f, space, budget, seed) if pending == 1 else None
    return run_ours(method, f, space, budget, seed, pending)


def evals_to_target(trace, target):
    for i, v in enumerate(trace):
        if v <= target:
            return i + 1
    return None


def ask_cost(method, n_obs=1000, d=10):
    """Seconds for one ask() after ``n_obs`` told observations. The first ``n_obs``
    asks go through the optimizer's own ask/tell; the model-based ones are made
    cheap by stretching their initial space-filling design to ``n_obs`` points, so
    the timed ask is the first that fits a model on all of them."""
    space = {f"x{i}": Real(0, 1) for i in range(d)}
    opt = make_optimizer(method, space, seed=0, budget=n_obs + 10)
    model = getattr(opt, "gp", opt)           # auto: its GP phase
    if hasattr(model, "n_init"):
        model.n_init = n_obs
    for _ in range(n_obs):
        t = opt.ask(1)[0]
        opt.tell(t, float(np.sum((t.u - 0.3) ** 2)))
    t0 = time.perf_counter()
    opt.ask(1)
    return time.perf_counter() - t0


SOURCES = [os.path.join(ROOT, "parc_mpi", "space.py")] + sorted(
    os.path.join(ROOT, "parc_mpi", "optimizers", f)
    for f in os.listdir(os.path.join(ROOT, "parc_mpi", "optimizers")) if f.endswith(".py"))


def version(method):
    """What a cached run depends on: our sources, or the peer library's version."""
    if method in PEERS:
        mod = {"optuna-tpe": "optuna", "optuna-cmaes": "optuna", "pycma": "cma",
               "scipy-de": "scipy"}[method]
        return f"{mod}-{__import__(mod).__version__}"
    h = hashlib.sha1()
    for path in SOURCES:   # the code, not its comments or docstrings
        with open(path) as fh:
            tree = ast.parse(fh.read())
        for node in ast.walk(tree):
            body = getattr(node, "body", None)
            if isinstance(body, list) and body and isinstance(body[0], ast.Expr) and \
                    isinstance(getattr(body[0], "value", None), ast.Constant) and \
                    isinstance(body[0].value.value, str):
                node.body = body[1:] or [ast.Pass()]
        h.update(ast.dump(tree).encode())
    return h.hexdigest()[:12]


def run_task(task):
    """One run: (method, problem, factor, mode, seed) -> (task, regret trace, seconds)."""
    method, name, factor, mode, seed = task
    _, f, low, high, d, fmin = PROBLEMS[name]
    if name in BBOB:
        f, fmin = bbob_problem(name, seed)
    t0 = time.perf_counter()
    tr = run_method(method, f, space_for(name, low, high, d), factor * d, seed,
                    {"seq": 1, "async8": 8}[mode])
    return task, (None if tr is None else [float(v - fmin) for v in tr]), \
        time.perf_counter() - t0


def load_cache(path):
    out = {}
    if path and os.path.exists(path):
        with open(path) as fh:
            for line in fh:
                try:
                    rec = json.loads(line)
                except ValueError:
                    continue   # a line cut short by an interrupted run
                out[tuple(rec["key"])] = rec
    return out


def main():
    if "--beyond" in sys.argv:   # several objectives, constraints, pruning, ask cost
        sys.argv.remove("--beyond")
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        import beyond
        return beyond.main()
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--dims", type=int, nargs="+", default=[2, 5, 10])
    ap.add_argument("--budgets", type=int, nargs="+", default=[50, 200])
    ap.add_argument("--suite", choices=["classic", "bbob"], default="classic",
                    help="classic: the 18 problems above; bbob: the 24 BBOB families "
                    "in each of --dims (72 problems at 2, 5, 10 D), seq only, budget "
                    "50 x d, auto beside random and the peers")
    ap.add_argument("--methods", nargs="+")
    ap.add_argument("--modes", nargs="+", choices=["seq", "async8"])
    ap.add_argument("--problems", nargs="+", help="only these problems (names as printed)")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--cache", default=os.path.join(ROOT, "benchmarks", "results",
                                                    "optimizers.jsonl"),
                    help="JSON-lines file of finished runs ('' for none)")
    ap.add_argument("--no-ask-cost", action="store_true")
    args = ap.parse_args()
    if args.quick:
        args.seeds, args.dims, args.budgets = 3, [2, 5], [50]
    bbob = args.suite == "bbob"
    if bbob:
        args.budgets = [50] if args.budgets == [50, 200] else args.budgets
    args.methods = args.methods or (["auto", "lq-cmaes", "random"] + PEERS if bbob
                                    else METHODS_OURS + PEERS)
    args.modes = args.modes or (["seq"] if bbob else ["seq", "async8"])
    needs = {"optuna-tpe": "optuna", "optuna-cmaes": "optuna", "pycma": "cma"}
    missing = sorted({needs[m] for m in args.methods if m in needs}
                     | ({"cocoex"} if bbob else set()))
    missing = [mod for mod in missing if importlib.util.find_spec(mod) is None]
    if missing:
        sys.exit(f"benchmarks/optimizers.py: {', '.join(missing)} not installed: "
                 "pip install 'parc_mpi[bench]' (or leave those methods out with --methods)")
    problems = [p for p in (bbob_suite if bbob else suite)(args.dims)
                if not args.problems or p[0] in args.problems]
    vers = {m: version(m) for m in args.methods}
    cache = load_cache(args.cache)
    tasks = [(m, p[0], factor, mode, seed) for factor in args.budgets for p in problems
             for m in args.methods for mode in args.modes for seed in range(args.seeds)
             if not (m == "scipy-de" and mode != "seq")]
    todo = [t for t in tasks if (vers[t[0]],) + t not in cache]
    print(f"# {len(problems)} problems, budgets {args.budgets} x d, {args.seeds} seeds, "
          f"{len(tasks)} runs ({len(tasks) - len(todo)} cached), {args.jobs} processes",
          flush=True)
    if todo:
        if args.cache:
            os.makedirs(os.path.dirname(os.path.abspath(args.cache)), exist_ok=True)
        out = open(args.cache, "a") if args.cache else None
        # the slowest runs first, so that the pool does not end on one long run
        todo.sort(key=lambda t: -(t[2] * PROBLEMS[t[1]][4] * (8 if t[0] in ("gp", "auto")
                                                              else 1)))
        t0 = time.time()
        with multiprocessing.Pool(args.jobs) as pool:
            for i, (task, trace, secs) in enumerate(pool.imap_unordered(run_task, todo), 1):
                rec = {"key": [vers[task[0]], *task], "trace": trace, "seconds": secs}
                cache[tuple(rec["key"])] = rec
                if out:
                    out.write(json.dumps(rec) + "\n")
                    out.flush()
                if i % max(1, len(todo) // 20) == 0 or i == len(todo):
                    el = time.time() - t0
                    print(f"  {i}/{len(todo)} runs, {el:.0f} s, about "
                          f"{el / i * (len(todo) - i):.0f} s to go", flush=True)
        if out:
            out.close()
    for factor in args.budgets:
        results, seconds = {}, {}
        print(f"\n# budget {factor} x d: median regret [quartiles], sequential "
              "| async8 median")
        if bbob:
            print("| problem | " + " | ".join(args.methods) + " |\n|---|"
                  + "---|" * len(args.methods))
        for name, f, low, high, d, fmin in problems:
            line = [f"{name:<13}"]
            for m in args.methods:
                for mode in args.modes:
                    recs = [cache.get((vers[m], m, name, factor, mode, s))
                            for s in range(args.seeds)]
                    if all(r and r["trace"] for r in recs):
                        results[(name, m, mode)] = [np.array(r["trace"]) for r in recs]
                        seconds.setdefault(m, []).extend(r["seconds"] for r in recs)
                finals = [t[-1] for t in results.get((name, m, "seq"), [])]
                if finals:
                    q1, q2, q3 = np.percentile(finals, [25, 50, 75])
                    cell = f"{m}={q2:.3g}[{q1:.2g},{q3:.2g}]"
                    if bbob:
                        cell = f"{q2:.3g} [{q1:.2g}, {q3:.2g}]"
                    if (name, m, "async8") in results:
                        cell += f"|{np.median([t[-1] for t in results[(name, m, 'async8')]]):.3g}"
                    line.append(cell)
            print(("| " + " | ".join(line) + " |") if bbob else " ".join(line), flush=True)
        if bbob:
            report_suite(results, problems, args.methods)
        else:
            report(results, problems, args.methods, factor)
        print("  median seconds per run: " + ", ".join(
            f"{m} {np.median(v):.2f}" for m, v in seconds.items()))
    if not args.no_ask_cost:
        print("\n# ask() cost at 1,000 observations in 10 D")
        for method in ("random", "sobol", "lhs", "cmaes", "lq-cmaes", "de", "gp", "turbo",
                       "auto"):
            print(f"{method:>8}: {ask_cost(method) * 1000:8.1f} ms", flush=True)


def report(results, problems, methods, factor):
    print(f"\n## budget {factor} x d, sequential: share of the suite where each method's "
          "median regret is best (ties shared)")
    wins = {m: 0.0 for m in methods}
    auto_ok = auto_vs_random = 0
    for name, *_ in problems:
        med = {m: np.median([t[-1] for t in results[(name, m, "seq")]])
               for m in methods if (name, m, "seq") in results}
        if not med:
            continue
        top = min(med.values())
        best_methods = [m for m, v in med.items() if v <= top * (1 + 1e-9) + 1e-12]
        for m in best_methods:
            wins[m] += 1 / len(best_methods)
        peers = [v for m, v in med.items() if m in PEERS]
        if "auto" in med and peers:
            auto_ok += med["auto"] <= min(peers) * (1 + 1e-9) + 1e-12
        if "auto" in med and "random" in med:
            auto_vs_random += med["auto"] <= med["random"]
    n = len({p for p, m, mode in results})
    if not n:
        return
    print("  " + "  ".join(f"{m} {w / n:.0%}" for m, w in sorted(wins.items(),
                                                                 key=lambda kv: -kv[1])))
    if not any(m == "auto" for _, m, _ in results):
        return
    print(f"  auto no worse than the best peer: {auto_ok}/{n} = {auto_ok / n:.0%} "
          "(target >= 80%)")
    print(f"  auto no worse than random: {auto_vs_random}/{n} (target: all)")
    # asynchronous slow-down, as COCO measures it: the expected running time (ERT)
    # to a target = evaluations spent by all runs until each reached the target (or
    # the whole budget if it never did) / the number of runs that reached it. The
    # same rule for both modes, so a run that misses the target counts the same
    # whether it was sequential or not. Targets: the sequential runs' median best at
    # half and at the full budget.
    pairs = [(results[(name, "auto", "seq")], results[(name, "auto", "async8")])
             for name, *_ in problems
             if results.get((name, "auto", "seq")) and results.get((name, "auto", "async8"))]
    for frac, label in ((0.5, "half"), (1.0, "full")):
        if not pairs:
            break
        slow = async_slowdowns(pairs, frac)
        lo, hi = slowdown_interval(pairs, frac)
        print(f"  auto with 8 pending: ERT to the sequential median at {label} budget "
              f"is {np.median(slow):.2f}x sequential's (median over the suite; target "
              f"<= 1.33x, i.e. at most 25% of the progress lost; 90% interval over "
              f"resampled seeds {lo:.2f}x-{hi:.2f}x); "
              f"{sum(x <= 4 / 3 for x in slow)}/{len(slow)} problems within 1.33x, "
              f"worst {max(slow):.2f}x")


def async_slowdowns(pairs, frac):
    """Per problem, ERT with 8 pending / ERT in sequence, to the sequential runs'
    median best at ``frac`` of the budget; ``pairs``: (seq runs, async runs)."""
    out = []
    for seq, asy in pairs:
        at = max(1, int(round(frac * len(seq[0])))) - 1
        target = float(np.median([t[at] for t in seq])) * (1 + 1e-9) + 1e-12
        ert = [expected_running_time(runs, target) for runs in (seq, asy)]
        out.append(ert[1] / ert[0] if ert[1] < math.inf else math.inf)
    return out


def slowdown_interval(pairs, frac, rounds=200, seed=0):
    """How much the suite's median slow-down moves with the seeds: the 5th and 95th
    percentiles of it over ``rounds`` resamplings (with replacement) of every
    problem's sequential and asynchronous runs."""
    rng = np.random.default_rng(seed)
    meds = []
    for _ in range(rounds):
        resampled = [([seq[i] for i in rng.integers(len(seq), size=len(seq))],
                      [asy[i] for i in rng.integers(len(asy), size=len(asy))])
                     for seq, asy in pairs]
        meds.append(float(np.median(async_slowdowns(resampled, frac))))
    # nearest, not interpolated: a resample that never reaches the target gives inf,
    # and interpolating next to it would give nan
    return tuple(float(v) for v in np.percentile(meds, [5, 95], method="nearest"))


SOLVED = 1e-8   # COCO's final target: regrets below it are ties


def at_or_below(v, others):
    """v is at or below the best of others (ties within 1e-9 relative or SOLVED)."""
    return bool(others) and v <= min(others) * (1 + 1e-9) + SOLVED


def report_suite(results, problems, methods):
    """The broad suite: per dimension and class, each method's share of the problems
    where its median is at or below the best of all the others; auto against the best
    peer and random; the same at 10%, 25%, 50% and 100% of the budget (anytime)."""
    fracs = (0.1, 0.25, 0.5, 1.0)
    meds = {}   # (problem, share of the budget) -> {method: median best-so-far}
    for p in problems:
        for frac in fracs:
            out = meds[(p[0], frac)] = {}
            for m in methods:
                runs = results.get((p[0], m, "seq"))
                if runs:
                    at = max(1, int(round(frac * len(runs[0])))) - 1
                    out[m] = float(np.median([t[at] for t in runs]))

    def best_peer(med):
        """The peer with the lowest median (None without auto or a peer), and whether
        auto is at or below it."""
        peers = [m for m in med if m in PEERS]
        if "auto" not in med or not peers:
            return None, False
        best = min(peers, key=med.get)
        return best, at_or_below(med["auto"], [med[best]])

    dims = sorted({p[4] for p in problems})
    print("\n## share of the problems where a method's median is at or below the best "
          "median of all the others (ties: within 1e-8), final budget")
    mine = "auto" in methods
    print("| D | problems | " + " | ".join(methods)
          + (" | auto <= best peer | auto <= random |" if mine else " |"))
    print("|---|---|" + "---|" * (len(methods) + 2 * mine))
    lost, won = [], {}   # won: problem -> auto at or below the best peer (all methods ran)
    for d in dims:
        share = {m: 0 for m in methods}
        vs_random = n = 0
        for name in [p[0] for p in problems if p[4] == d]:
            med = meds[(name, 1.0)]
            if len(med) < len(methods):
                continue
            n += 1
            for m in methods:
                share[m] += at_or_below(med[m], [v for k, v in med.items() if k != m])
            best, good = best_peer(med)
            if best is not None:
                won[name] = good
                vs_random += "random" in med and at_or_below(med["auto"], [med["random"]])
                if not good:
                    lost.append((name, med["auto"], best, med[best]))
        if n:
            ok = sum(won.get(p[0], False) for p in problems if p[4] == d)
            print(f"| {d} | {n} | " + " | ".join(f"{share[m] / n:.0%}" for m in methods)
                  + (f" | {ok}/{n} = {ok / n:.0%} | "
                     + (f"{vs_random}/{n} |" if "random" in methods else "- |") if mine
                     else " |"))
    if "auto" not in methods:
        return
    print("\n## how far the seeds move it, and the same test for each peer")
    ours = [m for m in methods if m in METHODS_OURS and m != "random"]
    print("auto <= best peer, 5th-95th percentile over 200 resamplings of every "
          "method's seeds; the best of ours (" + ", ".join(ours) + ") picked per problem "
          "after the fact, at or below the best peer; each method at or below the best "
          "of the peers other than itself (the test auto is held to)")
    print("| D | auto, resampled | best of ours | " + " | ".join(methods) + " |")
    print("|---|---|---|" + "---|" * len(methods))
    for d in dims:
        names = [p[0] for p in problems if p[4] == d and p[0] in won]
        if not names:
            continue
        finals = {(name, m): np.array([t[-1] for t in results[(name, m, "seq")]])
                  for name in names for m in methods}
        lo, hi = share_interval(finals, names, methods)
        final = [meds[(name, 1.0)] for name in names]   # medians at the full budget
        own = {m: sum(at_or_below(med[m], [med[k] for k in PEERS if k in med and k != m])
                      for med in final) for m in methods}
        picked = sum(at_or_below(min(med[m] for m in ours),
                                 [med[k] for k in PEERS if k in med]) for med in final)
        print(f"| {d} | {lo}-{hi} of {len(names)} | {picked}/{len(names)} | "
              + " | ".join(f"{own[m]}/{len(names)}" for m in methods) + " |")
    print("\n## auto <= best peer by class (final budget)")
    for label, lo, hi in BBOB_CLASSES:
        cells = []
        for d in dims:
            got = [won[p[0]] for p in problems
                   if p[4] == d and lo <= BBOB[p[0]][0] <= hi and p[0] in won]
            cells.append(f"{d}-D {sum(got)}/{len(got)}")
        print(f"  {label:<32} " + ", ".join(cells))
    print("\n## anytime: auto <= best peer's median at each share of the budget, and the "
          "median over the problems of log10(auto / best peer) (regrets + 1e-8)")
    print("| D | " + " | ".join(f"{f:.0%}" for f in fracs) + " |")
    print("|---|" + "---|" * len(fracs))
    for d in dims:
        cells = []
        for frac in fracs:
            ok, logs = 0, []
            for p in problems:
                med = meds[(p[0], frac)]
                best, good = best_peer(med)
                if p[4] != d or best is None:
                    continue
                ok += good
                logs.append(math.log10((med["auto"] + SOLVED) / (med[best] + SOLVED)))
            cells.append(f"{ok}/{len(logs)} ({np.median(logs):+.2f})" if logs else "-")
        print(f"| {d} | " + " | ".join(cells) + " |")
    print("\n## anytime per problem: median best-so-far regret at 10 / 25 / 50 / 100% of "
          "the budget, auto and the peer with the best final median")
    print("| problem | auto | best peer | its curve |\n|---|---|---|---|")
    for p in problems:
        best, _ = best_peer(meds[(p[0], 1.0)])
        if best is None:
            continue
        curve = [meds[(p[0], f)] for f in fracs]
        print(f"| {p[0]} | " + " / ".join(f"{c['auto']:.3g}" for c in curve)
              + f" | {best} | " + " / ".join(f"{c[best]:.3g}" for c in curve) + " |")
    if lost:
        print("\n## where auto's median is above the best peer's")
        for name, a, best, b in lost:
            print(f"  {name:<34} auto {a:.3g}  {best} {b:.3g}  ({a / max(b, SOLVED):.3g}x)")


def share_interval(finals, names, methods, rounds=200, seed=0):
    """How much the count of problems where auto's median is at or below the best
    peer's moves with the seeds: its 5th and 95th percentiles over ``rounds``
    resamplings (with replacement) of every method's final regrets on every problem."""
    rng = np.random.default_rng(seed)
    peers = [m for m in methods if m in PEERS]
    counts = []
    for _ in range(rounds):
        ok = 0
        for name in names:
            med = {m: float(np.median(rng.choice(finals[(name, m)], len(finals[(name, m)]))))
                   for m in ["auto"] + peers}
            ok += at_or_below(med["auto"], [med[m] for m in peers])
        counts.append(ok)
    return tuple(int(v) for v in np.percentile(counts, [5, 95], method="nearest"))


def expected_running_time(runs, target):
    """COCO's ERT: all evaluations spent until the target (or the budget) / successes."""
    spent, hits = 0, 0
    for trace in runs:
        n = evals_to_target(trace, target)
        spent += n if n else len(trace)
        hits += n is not None
    return spent / hits if hits else math.inf


if __name__ == "__main__":
    main()
