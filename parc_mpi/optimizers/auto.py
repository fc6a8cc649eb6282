"""``"auto"``: a model where evaluations are few, evolution where they are many.

One objective: it runs trust-region GP-BO (TuRBO-1: expected improvement inside a box around the
best point, kriging believer for pending points, restarts) for the first
``min(budget, GP_LIMIT)`` evaluations, where a model pays for itself, then hands
over to asynchronous CMA-ES with restarts, started at the best point found with a
small step, which scales to large budgets and many workers. With no budget given,
or high dimension (where a GP needs too many points), CMA-ES from the start.

Why: on benchmarks/optimizers.py at 50 x d (18 problems, 10 seeds) this has the best
median on 16 of 18 problems against Optuna's TPE and CMA-ES, pycma and scipy's DE
(Optuna's CMA-ES wins 5-d and 10-d Levy), and with 8 trials in flight it needs
0.96-1.28x the evaluations of a sequential run. On the 72 BBOB problems of
``--suite bbob``, which it was not tuned on, it is the best single method in 2, 5
and 10 D (at or below the best peer on 75%, 54%, 54%); it loses mostly on
multi-modal functions with global structure in 5-10 D, where ``cmaes`` does better
(docs/optimizers.md). A GP ask costs tens of milliseconds
at a few hundred points (about 0.4 s at 1,000 in 10-d), nothing beside an objective
worth a cluster.

Several objectives: ParEGO (random Chebyshev scalarisations on the GP) for the first
``min(budget, 250)`` evaluations, then steady-state NSGA-II breeding from every
point told so far; NSGA-II from the start without a budget or in high dimension.
"""
from __future__ import annotations

from typing import List, Optional

from .base import Optimizer, Trial, minimised
from .cmaes import CMAES
from .gp import TrustRegionBO
from .multi import NSGA2, ParEGO

GP_LIMIT = 2000    # evaluations handled by the GP at most (its cost grows with n)
GP_MAX_DIM = 20
MULTI_GP_LIMIT = 250  # several objectives: ParEGO this long, then NSGA-II


class Auto(Optimizer):
    name = "auto"
    multi_objective = True

    def __init__(self, space, goal="min", seed=None, budget: Optional[int] = None,
                 workers: int = 1):
        super().__init__(space, goal, seed, budget, workers)
        d = self.space.dim
        multi = self.objectives.multi
        limit = MULTI_GP_LIMIT if multi else GP_LIMIT
        self.gp_budget = 0
        if budget and d <= GP_MAX_DIM:
            self.gp_budget = int(min(budget, max(limit, 0)))
            if budget > self.gp_budget and not multi:
                # leave CMA-ES at least 30 x d evaluations to refine what the GP found
                self.gp_budget = int(max(min(self.gp_budget, budget - 30 * d),
                                         min(budget, 4 * d + 10)))
        child_seed = int(self.rng.integers(2**31))
        # children minimise every objective: they are told minimised values
        self.child_goal = {n: "min" for n in self.objectives.names} if multi else "min"
        model = ParEGO if multi else TrustRegionBO
        self.gp = model(self.space, self.child_goal, child_seed) if self.gp_budget else None
        self.cma: Optional[Optimizer] = None   # the second phase (NSGA-II with several)
        self.child_seed = child_seed + 1
        self.late_name = "nsga2" if multi else "cmaes"
        self.phase = "gp" if self.gp else self.late_name
        if self.gp is None:
            self.cma = self._late(None)

    def _late(self, x0) -> Optimizer:
        if self.objectives.multi:
            late = NSGA2(self.space, self.child_goal, self.child_seed)
            late.adopt([t for t in self.trials if not t.pending])
            return late
        if x0 is None:
            return CMAES(self.space, "min", self.child_seed)
        return CMAES(self.space, "min", self.child_seed, sigma0=0.1, x0=x0)

    def _child(self) -> Optimizer:
        if self.gp is not None and len(self.trials) < self.gp_budget:
            return self.gp
        if self.cma is None:
            self.cma = self._late(self._best.u if self._best is not None else None)
            self.phase = self.late_name
        return self.cma

    def _ask(self, n: int) -> List[Trial]:
        out = []
        for _ in range(n):
            child = self._child()
            if self._queued:  # a known point goes through the child, which learns from it
                child.enqueue(self._queued.pop(0))
            ct = child.ask(1)[0]
            out.append(self._new_trial(ct.params, ct.u, handle=(child, ct)))
        return out

    def _observe(self, trial: Trial, y: float) -> None:
        child, ct = self._handle(trial)
        # children minimise: hand them the minimised objective (nan stays nan), with
        # the constraints, so that a model can learn those too
        child.tell(ct, minimised(trial, self.objectives.names, y), pruned=trial.pruned)

    def state(self):
        out = super().state()
        out.update(phase=self.phase, gp_budget=self.gp_budget)
        return out
