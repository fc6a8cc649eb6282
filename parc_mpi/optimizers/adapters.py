"""Drive the cluster with a sampler you already trust: Optuna, pycma, Nevergrad.

Each adapter speaks our ask/tell protocol over the other library's own ask/tell, and
imports that library only when it is built (install with the ``optuna``, ``cma`` or
``nevergrad`` extra). Use them by name, e.g. ``optimizer="optuna-tpe"``.
"""
from __future__ import annotations

from typing import List

import numpy as np

from ..space import Choice, Integer, Real
from .base import Optimizer, Trial


def _need(module: str, extra: str):
    try:
        return __import__(module)
    except ImportError:
        raise ValueError(f"this optimizer needs {module}: pip install 'parc_mpi[{extra}]'") \
            from None


class OptunaSampler(Optimizer):
    """Optuna's TPE (``optuna-tpe``) or CMA-ES (``optuna-cmaes``) sampler."""

    def __init__(self, space, goal="min", seed=None, budget=None, workers: int = 1,
                 sampler: str = "tpe"):
        super().__init__(space, goal, seed, budget, workers)
        optuna = _need("optuna", "optuna")
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        seed_ = None if seed is None else int(seed)
        make = {"tpe": lambda: optuna.samplers.TPESampler(seed=seed_),
                "cmaes": lambda: optuna.samplers.CmaEsSampler(seed=seed_)}[sampler]
        self.name = f"optuna-{sampler}"
        self.study = optuna.create_study(direction="minimize", sampler=make())
        self.dists = {}
        d = optuna.distributions
        for name, p in self.space.params.items():
            if isinstance(p, Real):
                self.dists[name] = d.FloatDistribution(p.low, p.high, log=p.log)
            elif isinstance(p, Integer):
                self.dists[name] = d.IntDistribution(int(p.low), int(p.high), log=p.log)
            else:
                self.dists[name] = d.CategoricalDistribution(list(range(len(p.options))))

    def ask(self, n: int = 1) -> List[Trial]:
        out = []
        for _ in range(int(n)):
            if self._queued:
                known = self._queued.pop(0)
                self.study.enqueue_trial({
                    k: (p.options.index(known[k]) if isinstance(p, Choice) else known[k])
                    for k, p in self.space.params.items()})
            ot = self.study.ask(self.dists)
            params = {}
            for name, p in self.space.params.items():
                v = ot.params[name]
                params[name] = p.options[v] if isinstance(p, Choice) else v
            out.append(self._new_trial(params, self.space.to_unit(params), handle=ot))
        return out

    def _observe(self, trial: Trial, y: float) -> None:
        ot = self._handle(trial)
        import optuna
        if np.isnan(y):
            self.study.tell(ot, state=optuna.trial.TrialState.FAIL)
        else:
            self.study.tell(ot, y)


class PyCMA(Optimizer):
    """pycma's CMAEvolutionStrategy on the unit cube (``pycma``), made asynchronous the
    way our own CMA-ES is: asks sample the current distribution, and pycma is told
    whenever a population's worth of results has come back (it takes one tell per
    iteration)."""

    name = "pycma"

    def __init__(self, space, goal="min", seed=None, budget=None, workers: int = 1,
                 sigma0: float = 0.3):
        super().__init__(space, goal, seed, budget, workers)
        cma = _need("cma", "cma")
        opts = {"bounds": [0, 1], "verbose": -9, "seed": int(seed or 0) + 1}
        self.es = cma.CMAEvolutionStrategy(np.full(self.space.dim, 0.5), sigma0, opts)
        self._queue: List[np.ndarray] = []
        self._buffer: List = []

    def _propose(self, n: int) -> np.ndarray:
        out = []
        for _ in range(n):
            if not self._queue:
                self._queue = list(self.es.ask())
            out.append(self._queue.pop(0))
        return np.array(out)

    def _observe(self, trial: Trial, y: float) -> None:
        self._buffer.append((trial.u, 1e300 if np.isnan(y) else y))
        if len(self._buffer) >= self.es.popsize:
            batch, self._buffer = self._buffer[:self.es.popsize], self._buffer[self.es.popsize:]
            xs, fs = zip(*batch)
            self.es.tell(list(xs), list(fs))
            self._queue = []  # the distribution moved: sample afresh


class Nevergrad(Optimizer):
    """A Nevergrad optimizer by name (``nevergrad`` uses TwoPointsDE, which is made for
    parallel workers; NGOpt 1.0.12's metamodel fails under numpy 2)."""

    name = "nevergrad"

    def __init__(self, space, goal="min", seed=None, budget=None, workers: int = 1,
                 method: str = "TwoPointsDE"):
        super().__init__(space, goal, seed, budget, workers)
        ng = _need("nevergrad", "nevergrad")
        param = ng.p.Array(shape=(self.space.dim,), lower=0.0, upper=1.0)
        if seed is not None:
            param.random_state.seed(int(seed))
        # Nevergrad blocks an ask beyond num_workers pending ones: leave room for
        # the runner's prefetch (2 per worker) and a few more
        self.opt = ng.optimizers.registry[method](parametrization=param, budget=budget,
                                                  num_workers=max(4, 2 * workers))

    def ask(self, n: int = 1) -> List[Trial]:
        out = []
        for _ in range(int(n)):
            if self._queued:
                self.opt.suggest(self.space.to_unit(self._queued.pop(0)))
            cand = self.opt.ask()
            u = np.clip(np.asarray(cand.value, float), 0, 1)
            out.append(self._new_trial(self.space.from_unit(u), u, handle=cand))
        return out

    def _observe(self, trial: Trial, y: float) -> None:
        self.opt.tell(self._handle(trial), 1e300 if np.isnan(y) else float(y))
