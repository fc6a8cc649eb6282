"""Beyond one objective, side by side with Optuna in one run: several objectives,
constraints, early stopping, and the cost of an ask under default BLAS threads.

    python benchmarks/beyond.py                      # all four parts, 10 seeds
    python benchmarks/beyond.py --parts multi --seeds 3 --jobs 2
    python benchmarks/optimizers.py --beyond ...     # the same

* ``multi``: hypervolume at 100 and 300 evaluations on ZDT1, ZDT2, ZDT3 (2 objectives,
  6 variables) and DTLZ2 (3 objectives, 6 variables), against fixed reference points
  ((1.1, 11) for ZDT, (2.2, 2.2, 2.2) for DTLZ2). Ours: auto, parego, nsga2, random;
  peers: Optuna's NSGA-II and its multi-objective TPE. (Optuna's GPSampler also takes
  several objectives but needs PyTorch, which this project does not install.)
* ``constraints``: Gardner et al.'s 2-D toy (a disconnected feasible region) and the
  pressure vessel design (4 variables, 3 active constraints), 60 and 150 evaluations:
  best feasible value and the evaluation of the first feasible point. Peers: Optuna's
  TPE and NSGA-II with ``constraints_func``.
* ``pruning``: a synthetic learning-curve problem (curves that cross: a fast starter
  may end worse) and scikit-learn's digits data set (an averaged-SGD classifier
  trained epoch by epoch with ``partial_fit``; 3 hyperparameters), 30 evaluations of
  up to 27 epochs: the best final score of completed evaluations and the epochs
  spent, against the same search without pruning; then the pruned searches with half
  the epochs of 30 unpruned evaluations, spent on as many evaluations as fit, beside
  the unpruned searches given the same half (the control: does pruning beat simply
  running fewer evaluations?), and all of them again with 4 evaluations in flight
  (epochs interleaved at random, as on a cluster). Ours: auto with the median, the
  ASHA and the learning-curve model pruner; peers: Optuna's TPE with its
  MedianPruner and SuccessiveHalvingPruner (and without).
* ``ask-cost``: one ask of ``auto`` (its trust-region GP) at 250 points in 5-D and 1,000 in 10-D, in a fresh process
  with numpy's default threads, idle and with two busy processes beside it, with the
  optimizer's one-thread limit and without it.

Printed: per problem and method the median and the quartiles over seeds, and the
verdicts the issue asks for.
"""
import argparse
import math
import multiprocessing
import os
import subprocess
import sys
import time
import warnings

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
warnings.filterwarnings("ignore")


# -- several objectives ---------------------------------------------------------------
def zdt(kind):
    def f(x):
        g = 1 + 9 * float(np.mean(x[1:]))
        f1 = float(x[0])
        if kind == 1:
            f2 = g * (1 - math.sqrt(f1 / g))
        elif kind == 2:
            f2 = g * (1 - (f1 / g) ** 2)
        else:
            f2 = g * (1 - math.sqrt(f1 / g) - f1 / g * math.sin(10 * math.pi * f1))
        return (f1, f2)
    return f


def dtlz2(x):
    g = float(np.sum((x[2:] - 0.5) ** 2))
    a, b = x[0] * math.pi / 2, x[1] * math.pi / 2
    return ((1 + g) * math.cos(a) * math.cos(b), (1 + g) * math.cos(a) * math.sin(b),
            (1 + g) * math.sin(a))


MULTI = {"ZDT1": (zdt(1), 6, (1.1, 11.0)), "ZDT2": (zdt(2), 6, (1.1, 11.0)),
         "ZDT3": (zdt(3), 6, (1.1, 11.0)), "DTLZ2": (dtlz2, 6, (2.2, 2.2, 2.2))}
MULTI_OURS = ["auto", "parego", "nsga2", "random"]
MULTI_PEERS = ["optuna-nsga2", "optuna-tpe"]


def run_multi(method, problem, budget, seed):
    from parc_mpi import Real
    from parc_mpi.optimizers import hypervolume
    f, d, ref = MULTI[problem]
    k = len(ref)
    F = []
    if method.startswith("optuna"):
        import optuna
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        sampler = (optuna.samplers.NSGAIISampler(seed=seed) if method == "optuna-nsga2"
                   else optuna.samplers.TPESampler(seed=seed, multivariate=True))
        study = optuna.create_study(directions=["minimize"] * k, sampler=sampler)

        def obj(t):
            x = np.array([t.suggest_float(f"x{i}", 0, 1) for i in range(d)])
            return f(x)
        study.optimize(obj, n_trials=budget)
        F = [t.values for t in study.trials if t.values]
    else:
        from parc_mpi.optimizers import make_optimizer
        goal = {f"f{j}": "min" for j in range(k)}
        opt = make_optimizer(method, {f"x{i}": Real(0, 1) for i in range(d)}, goal, seed=seed,
                             budget=budget)
        for _ in range(budget):
            t = opt.ask()[0]
            v = f(np.array([t.params[f"x{i}"] for i in range(d)]))
            opt.tell(t, v)
            F.append(v)
    return hypervolume(np.array(F, dtype=float), ref)[0]


# -- constraints ------------------------------------------------------------------------
def gardner(x):
    """Gardner et al. 2014: minimise cos(2 x1) cos(x2) + sin(x1) subject to
    cos(x1) cos(x2) - sin(x1) sin(x2) <= 0.5 on [0, 6]^2 (a disconnected region)."""
    f = math.cos(2 * x[0]) * math.cos(x[1]) + math.sin(x[0])
    return f, [math.cos(x[0]) * math.cos(x[1]) - math.sin(x[0]) * math.sin(x[1]) - 0.5]


def pressure_vessel(x):
    """Shell and head thickness, inner radius, length (continuous version; best known
    about 5885.3)."""
    ts, th, r, length = x
    f = (0.6224 * ts * r * length + 1.7781 * th * r * r + 3.1661 * ts * ts * length
         + 19.84 * ts * ts * r)
    c = [-ts + 0.0193 * r, -th + 0.00954 * r,
         (-math.pi * r * r * length - 4.0 / 3.0 * math.pi * r ** 3 + 1296000) / 1296000]
    return f, c


CONSTRAINED = {
    "gardner-2d": (gardner, [(0, 6), (0, 6)]),
    "pressure-vessel": (pressure_vessel, [(0.0625, 6.1875), (0.0625, 6.1875), (10, 200),
                                          (10, 200)]),
}
CON_OURS = ["auto", "gp", "random"]
CON_PEERS = ["optuna-tpe", "optuna-nsga2"]


def run_constrained(method, problem, budget, seed):
    """(best feasible value or nan, first feasible evaluation or nan)."""
    from parc_mpi import Real
    fn, bounds = CONSTRAINED[problem]
    names = [f"x{i}" for i in range(len(bounds))]
    vals, feas = [], []
    if method.startswith("optuna"):
        import optuna
        optuna.logging.set_verbosity(optuna.logging.WARNING)

        def cons(t):
            return t.user_attrs["c"]
        sampler = (optuna.samplers.NSGAIISampler(seed=seed, constraints_func=cons)
                   if method == "optuna-nsga2" else
                   optuna.samplers.TPESampler(seed=seed, constraints_func=cons))
        study = optuna.create_study(direction="minimize", sampler=sampler)

        def obj(t):
            x = [t.suggest_float(n, lo, hi) for n, (lo, hi) in zip(names, bounds)]
            f, c = fn(x)
            t.set_user_attr("c", c)
            vals.append(f)
            feas.append(all(v <= 0 for v in c))
            return f
        study.optimize(obj, n_trials=budget)
    else:
        from parc_mpi.optimizers import make_optimizer
        opt = make_optimizer(method, {n: Real(lo, hi) for n, (lo, hi) in zip(names, bounds)},
                             "min", seed=seed, budget=budget)
        for _ in range(budget):
            t = opt.ask()[0]
            f, c = fn([t.params[n] for n in names])
            opt.tell(t, {"value": f, "constraints": c})
            vals.append(f)
            feas.append(all(v <= 0 for v in c))
    ok = [v for v, q in zip(vals, feas) if q]
    first = next((i + 1 for i, q in enumerate(feas) if q), math.nan)
    return (min(ok) if ok else math.nan), first


# -- early stopping ---------------------------------------------------------------------
EPOCHS = 27


def synthetic_curve(p):
    """Loss after each epoch: a floor set by the hyperparameters, approached at a
    rate set by them too, so fast starters can end worse (the curves cross)."""
    lr, width = p["lr"], p["width"]
    floor = 0.1 + (math.log10(lr) + 2) ** 2 * 0.05 + (width - 0.6) ** 2
    speed = 0.15 + 0.8 * lr ** 0.25
    start = 1.5
    return [floor + (start - floor) * math.exp(-speed * e) for e in range(1, EPOCHS + 1)]


SYN_SPACE = {"lr": ("log", 1e-4, 1.0), "width": ("lin", 0.0, 1.0)}

_DIGITS = None


def digits_curve(p):
    """Validation log-loss of a logistic-regression SGD classifier on scikit-learn's
    digits after each epoch (partial_fit), its hyperparameters from ``p``. Log-loss,
    not the error rate: 597 validation images make the error rate move in steps of
    0.17%, coarser than the 2% the comparison asks about.

    Averaged SGD (``average=True``, Polyak-Ruppert), as one trains with a large
    step: with plain SGD the best settings (step near 1, hardly decaying) swing
    between 0.13 and 0.37 from one epoch to the next in the last epochs, so which
    settings ended lowest at epoch 27 was the phase of that swing, found only by
    running every epoch; the averaged curves fall smoothly."""
    global _DIGITS
    from sklearn.linear_model import SGDClassifier
    if _DIGITS is None:
        from sklearn.datasets import load_digits
        X, y = load_digits(return_X_y=True)
        X = X / 16.0
        rng = np.random.default_rng(0)
        idx = rng.permutation(len(X))
        _DIGITS = (X[idx[:1200]], y[idx[:1200]], X[idx[1200:]], y[idx[1200:]])
    Xtr, ytr, Xva, yva = _DIGITS
    from sklearn.metrics import log_loss
    clf = SGDClassifier(loss="log_loss", alpha=p["alpha"], eta0=p["eta0"],
                        learning_rate="invscaling", power_t=p["power_t"], random_state=0,
                        average=True)
    classes = np.unique(ytr)
    out = []
    rng = np.random.default_rng(1)
    for _ in range(EPOCHS):
        order = rng.permutation(len(Xtr))
        clf.partial_fit(Xtr[order], ytr[order], classes=classes)
        out.append(float(log_loss(yva, clf.predict_proba(Xva), labels=classes)))
    return out


DIG_SPACE = {"alpha": ("log", 1e-6, 1e-1), "eta0": ("log", 1e-4, 1.0),
             "power_t": ("lin", 0.05, 0.9)}
PRUNE = {"synthetic": (synthetic_curve, SYN_SPACE), "digits": (digits_curve, DIG_SPACE)}
PRUNE_METHODS = ["auto", "auto+median", "auto+asha", "auto+model", "optuna-tpe",
                 "optuna-tpe+median",
                 "optuna-tpe+sha"]


def _tpe_study(pruner, seed):
    """Optuna's TPE with its pruner named by ``pruner`` ("", "median" or "sha")."""
    import optuna
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    pr = {"": optuna.pruners.NopPruner(), "median": optuna.pruners.MedianPruner(),
          "sha": optuna.pruners.SuccessiveHalvingPruner()}[pruner]
    return optuna.create_study(direction="minimize", pruner=pr,
                               sampler=optuna.samplers.TPESampler(seed=seed))


def run_pruning(method, problem, budget, seed, epoch_budget=None):
    """(best final loss of a completed evaluation, epochs spent): ``budget``
    evaluations, or with ``epoch_budget`` as many as fit in that many epochs (the
    last one cut short there does not count as completed)."""
    curve_fn, spec = PRUNE[problem]
    base, _, pruner = method.partition("+")
    cache = {}

    def curve(p):
        key = tuple(sorted(p.items()))
        if key not in cache:
            cache[key] = curve_fn(p)
        return cache[key]
    epochs, finals = 0, []
    if epoch_budget is not None:
        budget = 10_000

    def out_of_epochs():
        return epoch_budget is not None and epochs >= epoch_budget
    if base == "optuna-tpe":
        import optuna
        study = _tpe_study(pruner, seed)

        def obj(t):
            nonlocal epochs
            p = {n: t.suggest_float(n, lo, hi, log=kind == "log")
                 for n, (kind, lo, hi) in spec.items()}
            c = curve(p)
            for e, v in enumerate(c, 1):
                epochs += 1
                t.report(v, e)
                if t.should_prune() or (out_of_epochs() and e < len(c)):
                    raise optuna.TrialPruned()
            finals.append(c[-1])
            return c[-1]
        while not out_of_epochs() and len(study.trials) < budget:
            study.optimize(obj, n_trials=1)
    else:
        from parc_mpi import Real
        from parc_mpi.optimizers import make_optimizer
        space = {n: Real(lo, hi, log=kind == "log") for n, (kind, lo, hi) in spec.items()}
        opt = make_optimizer(base, space, "min", seed=seed, budget=budget,
                             pruner=pruner or None)
        for _ in range(budget):
            if out_of_epochs():
                break
            t = opt.ask()[0]
            c = curve(t.params)
            for e, v in enumerate(c, 1):
                epochs += 1
                if t.report(e, v) or (out_of_epochs() and e < len(c)):
                    break
            opt.tell(t, t.curve[-1][1], pruned=len(t.curve) < len(c))
            if len(t.curve) == len(c):
                finals.append(c[-1])
    return (min(finals) if finals else math.nan), epochs


IN_FLIGHT = 4


def run_pruning_async(method, problem, epoch_budget, seed, k=IN_FLIGHT):
    """As run_pruning with ``epoch_budget``, but ``k`` evaluations in flight, as on
    a cluster: each step trains one epoch of one of them, picked at random, so each
    is judged by what had finished by then and new points are asked while others
    run. Optuna through its ask/tell interface, the same way."""
    curve_fn, spec = PRUNE[problem]
    base, _, pruner = method.partition("+")
    rng = np.random.default_rng(seed + 7)
    if base == "optuna-tpe":
        import optuna
        study = _tpe_study(pruner, seed)

        def ask():
            t = study.ask()
            p = {n: t.suggest_float(n, lo, hi, log=kind == "log")
                 for n, (kind, lo, hi) in spec.items()}
            return t, curve_fn(p)

        def step(t, e, v):
            t.report(v, e)
            return t.should_prune()

        def tell(t, v, pruned):
            if pruned:
                study.tell(t, state=optuna.trial.TrialState.PRUNED)
            else:
                study.tell(t, v)
    else:
        from parc_mpi import Real
        from parc_mpi.optimizers import make_optimizer
        space = {n: Real(lo, hi, log=kind == "log") for n, (kind, lo, hi) in spec.items()}
        opt = make_optimizer(base, space, "min", seed=seed, budget=10_000, workers=k,
                             pruner=pruner or None)

        def ask():
            t = opt.ask()[0]
            return t, curve_fn(t.params)

        def step(t, e, v):
            return t.report(e, v)

        def tell(t, v, pruned):
            opt.tell(t, v, pruned=pruned)
    epochs, finals, flight = 0, [], []
    while epochs < epoch_budget:
        while len(flight) < k:
            flight.append([*ask(), 0])
        i = int(rng.integers(len(flight)))
        t, c, e = flight[i]
        epochs += 1
        flight[i][2] = e + 1
        if step(t, e + 1, c[e]) or e + 1 == len(c):
            flight.pop(i)
            tell(t, c[e], pruned=e + 1 < len(c))
            if e + 1 == len(c):
                finals.append(c[-1])
    return (min(finals) if finals else math.nan), epochs


# -- the cost of an ask ------------------------------------------------------------------
ASK_CHILD = r"""
import sys, time, numpy as np
sys.path.insert(0, ROOT)
import scipy.linalg
from parc_mpi import Real
from parc_mpi.optimizers import make_optimizer, threads
n, d, limit = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3] == "limit"
if not limit:
    threads._controller = lambda: None     # numpy's default threads during the ask
space = {f"x{i}": Real(0, 1) for i in range(d)}
rng = np.random.default_rng(0)
opt = make_optimizer("auto", space, "min", seed=0, budget=n + 50)
opt.gp.n_init = n      # the design stretched to n points: the timed asks fit them all
for _ in range(n):
    t = opt.ask(1)[0]
    opt.tell(t, float(np.sum((t.u - 0.3) ** 2) + 0.01 * rng.random()))
times = []
for _ in range(7):
    t0 = time.perf_counter()
    t = opt.ask(1)[0]
    times.append(time.perf_counter() - t0)
    opt.tell(t, float(np.sum((t.u - 0.3) ** 2)))
print(float(np.median(times)))
"""


def ask_cost(n, d, limit, load):
    env = {k: v for k, v in os.environ.items()
           if k not in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}
    busy = []
    if load:
        busy = [subprocess.Popen([sys.executable, "-c", "while True: pass"])
                for _ in range(load)]
    try:
        out = subprocess.run([sys.executable, "-c", ASK_CHILD.replace("ROOT", repr(ROOT)),
                              str(n), str(d), "limit" if limit else "free"], env=env,
                             capture_output=True, text=True, check=True)
    finally:
        for p in busy:
            p.kill()
    return float(out.stdout.strip().splitlines()[-1])


# -- running and printing ------------------------------------------------------------------
def _task(task):
    part, method, problem, budget, seed = task
    t0 = time.perf_counter()
    if part == "pruning-half":
        return task, run_pruning(method, problem, None, seed, budget), \
            time.perf_counter() - t0
    if part == "pruning-async":
        return task, run_pruning_async(method, problem, budget, seed), \
            time.perf_counter() - t0
    fn = {"multi": run_multi, "constraints": run_constrained, "pruning": run_pruning}[part]
    return task, fn(method, problem, budget, seed), time.perf_counter() - t0


def quartiles(xs):
    xs = np.array([x for x in xs if not (isinstance(x, float) and math.isnan(x))], float)
    if not len(xs):
        return "n/a"
    q1, m, q3 = np.percentile(xs, [25, 50, 75])
    return f"{m:.4g} [{q1:.4g}, {q3:.4g}]"


def median(xs):
    xs = [x for x in xs if not (isinstance(x, float) and math.isnan(x))]
    return float(np.median(xs)) if xs else math.nan


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--parts", nargs="+", default=["multi", "constraints", "pruning", "ask-cost"],
                    choices=["multi", "constraints", "pruning", "ask-cost"])
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    args = ap.parse_args()
    tasks = []
    if "multi" in args.parts:
        tasks += [("multi", m, p, b, s) for p in MULTI for b in (100, 300)
                  for m in MULTI_OURS + MULTI_PEERS for s in range(args.seeds)
                  if not (m == "parego" and b == 300)]
    if "constraints" in args.parts:
        tasks += [("constraints", m, p, b, s) for p in CONSTRAINED for b in (60, 150)
                  for m in CON_OURS + CON_PEERS for s in range(args.seeds)]
    if "pruning" in args.parts:
        tasks += [("pruning", m, p, 30, s) for p in PRUNE for m in PRUNE_METHODS
                  for s in range(args.seeds)]
        # unpruned too: the control that says whether pruning beats simply running
        # fewer evaluations in the same epochs
        tasks += [("pruning-half", m, p, 30 * EPOCHS // 2, s) for p in PRUNE
                  for m in PRUNE_METHODS for s in range(args.seeds)]
        # and with evaluations in flight, as on a cluster
        tasks += [("pruning-async", m, p, 30 * EPOCHS // 2, s) for p in PRUNE
                  for m in PRUNE_METHODS for s in range(args.seeds)]
    # the slow ones first, so the processes finish together
    tasks.sort(key=lambda t: (t[1] in ("auto", "parego", "gp", "auto+median", "auto+asha",
                                       "auto+model"),
                              t[3]), reverse=True)
    results = {}
    t0 = time.time()
    if tasks:
        with multiprocessing.Pool(args.jobs) as pool:
            for i, (task, value, secs) in enumerate(pool.imap_unordered(_task, tasks), 1):
                results[task] = (value, secs)
                if i % 20 == 0 or i == len(tasks):
                    print(f"  {i}/{len(tasks)} runs, {time.time() - t0:.0f} s", file=sys.stderr,
                          flush=True)
    if "multi" in args.parts:
        print_multi(results, args.seeds)
    if "constraints" in args.parts:
        print_constraints(results, args.seeds)
    if "pruning" in args.parts:
        print_pruning(results, args.seeds)
    if "ask-cost" in args.parts:
        print_ask_cost()


def print_multi(results, seeds):
    print(f"\nSeveral objectives: hypervolume, median [quartiles] over {seeds} seeds "
          "(higher is better)")
    wins = {}
    for b in (100, 300):
        methods = [m for m in MULTI_OURS + MULTI_PEERS if not (m == "parego" and b == 300)]
        print(f"\n{b} evaluations\n{'problem':<8} " + " ".join(f"{m:>26}" for m in methods))
        for p in MULTI:
            row = {m: [results[("multi", m, p, b, s)][0] for s in range(seeds)] for m in methods}
            print(f"{p:<8} " + " ".join(f"{quartiles(row[m]):>26}" for m in methods))
            best_peer = max(median(row[m]) for m in MULTI_PEERS)
            wins.setdefault(b, []).append(median(row["auto"]) >= best_peer)
    for b, w in wins.items():
        print(f"auto at or above the best peer's median at {b} evaluations: {sum(w)} of {len(w)}")


def print_constraints(results, seeds):
    print(f"\nConstraints: best feasible value (lower is better) and the first feasible "
          f"evaluation, median [quartiles] over {seeds} seeds")
    for b in (60, 150):
        for p in CONSTRAINED:
            print(f"\n{p}, {b} evaluations")
            for m in CON_OURS + CON_PEERS:
                runs = [results[("constraints", m, p, b, s)][0] for s in range(seeds)]
                none = sum(1 for v, _ in runs if math.isnan(v))
                print(f"  {m:<14} best {quartiles([v for v, _ in runs]):>30}   first feasible "
                      f"{quartiles([f for _, f in runs]):>22}"
                      + (f"   ({none} seed(s) found none)" if none else ""))


def print_pruning(results, seeds):
    print(f"\nEarly stopping: evaluations of up to {EPOCHS} epochs; best final loss of a "
          f"completed evaluation (lower is better) and epochs spent, median [quartiles] "
          f"over {seeds} seeds. First the same 30 evaluations for all; then the pruned "
          f"searches given half the epochs of 30 unpruned evaluations "
          f"({30 * EPOCHS // 2}), to spend on as many evaluations as fit; last the same "
          f"with {IN_FLIGHT} evaluations in flight (one epoch of a random one at a time).")
    for p in PRUNE:
        print(f"\n{p}")
        base = {}
        for m in PRUNE_METHODS:
            runs = [results[("pruning", m, p, 30, s)][0] for s in range(seeds)]
            base[m] = median([v for v, _ in runs]), median([e for _, e in runs])
            print(f"  {m:<18} 30 evaluations: best {quartiles([v for v, _ in runs]):>28}  "
                  f"epochs {quartiles([e for _, e in runs]):>24}")
        for m in PRUNE_METHODS:
            runs = [results[("pruning-half", m, p, 30 * EPOCHS // 2, s)][0] for s in range(seeds)]
            best = median([v for v, _ in runs])
            ref = base[m.partition("+")[0]][0]
            gap = 100 * (best / ref - 1)
            what = "its own 30" if "+" not in m else f"{m.partition('+')[0]} unpruned"
            print(f"  {m:<18} half the epochs: best {quartiles([v for v, _ in runs]):>28}  "
                  f"{gap:+.1f}% against {what}: "
                  f"{'within 2%' if gap <= 2 else 'not within 2%'}")
        for m in PRUNE_METHODS:
            runs = [results[("pruning-async", m, p, 30 * EPOCHS // 2, s)][0]
                    for s in range(seeds)]
            best = median([v for v, _ in runs])
            gap = 100 * (best / base[m.partition("+")[0]][0] - 1)
            print(f"  {m:<18} half, {IN_FLIGHT} in flight: best "
                  f"{quartiles([v for v, _ in runs]):>24}  {gap:+.1f}%: "
                  f"{'within 2%' if gap <= 2 else 'not within 2%'}")


def print_ask_cost():
    print("\nThe cost of one ask of auto (its trust-region GP) in a fresh process with numpy's default threads "
          f"({os.cpu_count()} cores here), median of 7, seconds")
    print(f"{'points, dims':<14} {'load':<6} {'one thread (ours)':>18} {'default threads':>16}")
    for n, d in ((250, 5), (1000, 10)):
        for load in (0, 2):
            lim = ask_cost(n, d, True, load)
            free = ask_cost(n, d, False, load)
            print(f"{f'{n}, {d}-D':<14} {('2 busy' if load else 'idle'):<6} {lim:>18.3f} "
                  f"{free:>16.3f}   ({free / lim:.1f}x)")


if __name__ == "__main__":
    main()
