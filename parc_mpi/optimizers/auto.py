"""``"auto"``: a model where evaluations are few, evolution where they are many.

One objective: it runs trust-region GP-BO (TuRBO-1: Thompson sampling inside a box
around the best point, kriging believer for pending points, restarts) for the first
``min(budget, GP_LIMIT)`` evaluations, where a model pays for itself, then hands
over to asynchronous lq-CMA-ES (CMA-ES whose samples a quadratic model of the
evaluated points ranks, so that only the ones it cannot rank are evaluated; the
model starts from every point the GP phase saw), started at the best point found
with a small step, which scales to large budgets and many workers. It hands over
early, at the trust region's first collapse, on two kinds of landscape: where the GP
had to read the landscape as noisy (fitted noise variance above ``RUGGED_NOISE``:
ripples the model cannot follow; a fresh trust region would only land in another
ripple, while CMA-ES's wide samples average over them), and where a quadratic ranks
every point so far well (Kendall's tau at least ``QUADRATIC_TAU``: a bowl, which
lq-CMA-ES descends in a few evaluations per generation however it is rotated or
conditioned). With no budget given, or high dimension (where a GP needs too many
points), CMA-ES from the start.

Why: on benchmarks/optimizers.py at 50 x d (18 problems, 10 seeds) this has the best
median on most problems against Optuna's TPE and CMA-ES, pycma and scipy's DE
(docs/optimizers.md has the figures, and those with 8 trials in flight). On the 72
BBOB problems of ``--suite bbob``, which it was not tuned on, it is at or below the
best peer on 71%, 67% and 67% in 2, 5 and 10 D (75%, 67%, 54% before lq-CMA-ES); it
loses mostly on Schaffer-type and Rastrigin-type functions and on the attractive
sector and step ellipsoid, where Optuna's CMA-ES or ``"lq-cmaes"`` with the whole
budget do better. A GP ask costs tens of milliseconds at a few hundred points (about
0.4 s at 1,000 in 10-d), nothing beside an objective worth a cluster.

With ``pruner="model"`` the model phase is curves.py's CurveBO instead: expected
improvement on the pruner's learning-curve model, which evaluations cut short
inform too.

Noisy values (``set_noise``): ``best`` is the told point with the lowest posterior
mean of a GP with a noise term, and the trust region's GP fits the noise too (up to
the signal's variance), centres its box on the best posterior mean, not on the
luckiest draw, and halves it after twice the failures; a noisy fit hands over to
CMA-ES at the first collapse as above. On benchmarks/noisy.py (4 problems x 2 noise
levels x 2 budgets, 30 seeds) this reported a better point than the lowest value on
all 8 pairs at 150 evaluations and 4 of 8 at 60, and one at or below Optuna's TPE
median on all 16 (60 seeds at 60 evaluations: 6 of 8, and above TPE's median on
Hartmann-6 with the high noise); reporting by the model's mean alone (the search
unchanged) was better on 11 of 16 (10 seeds), global GP-BO with plug-in expected
improvement on 1 of the 8 at 60 evaluations.

Several objectives: ParEGO (random Chebyshev scalarisations on the GP) for the first
``min(budget, 250)`` evaluations, then steady-state NSGA-II breeding from every
point told so far; NSGA-II from the start without a budget or in high dimension.
"""
from __future__ import annotations

from typing import List, Optional

import numpy as np

from .base import Optimizer, Trial, minimised
from .cmaes import CMAES
from .curves import CurveBO, ModelPruner
from .gp import TrustRegionBO
from .lq import QuadraticModel
from .multi import NSGA2, ParEGO

GP_LIMIT = 2000    # evaluations handled by the GP at most (its cost grows with n)
GP_MAX_DIM = 20
MULTI_GP_LIMIT = 250  # several objectives: ParEGO this long, then NSGA-II
# the GP's fitted noise variance (on standardised values) above which the trust
# region's first collapse hands over to CMA-ES: smooth functions fit at the 1e-6
# floor, rugged ones at 3e-3 to 0.1 (BBOB, 5-D and 10-D, measured at the first
# collapse), Ackley at 2e-3 to 2e-2. Deciding at the first collapse with 5e-3
# measured better over both suites than at every collapse with 1e-3
RUGGED_NOISE = 5e-3
# at that collapse, also hand over when a quadratic fitted to every point so far ranks
# them this well (Kendall's tau): a bowl, however ill-conditioned or rotated, that
# lq-CMA-ES's model descends in one or two evaluations a generation. Measured at the
# first collapse (BBOB, 3 seeds): ellipsoids, discus, bent cigar, sphere 0.91-1.0,
# step ellipsoid and different powers 0.87-0.94, Gallagher's peaks 0.59-0.96,
# rugged ones 0.04-0.84
QUADRATIC_TAU = 0.9


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
        self._decided = False   # at the GP's first collapse: restart it or hand over
        if self.gp is None:
            self.cma = self._late(None)

    def set_pruner(self, spec) -> None:
        """With the ``"model"`` pruner the model phase searches on the pruner's
        learning-curve model (:class:`~parc_mpi.optimizers.curves.CurveBO`), so
        evaluations cut short inform the search, not only their estimated final
        value."""
        super().set_pruner(spec)
        if isinstance(self.pruner, ModelPruner) and isinstance(self.gp, TrustRegionBO) \
                and not self.gp.trials:
            self.gp = CurveBO(self.space, self.child_goal, self.child_seed - 1,
                              model=self.pruner)

    def set_noise(self, noise) -> None:
        """Noisy values: :attr:`best` by the model's mean (the base class's rule), and
        the model phase's trust region fits the noise and centres on the best model
        mean rather than on the luckiest draw (docs/optimizers.md has the measure)."""
        super().set_noise(noise)
        if self.gp is not None:
            self.gp.set_noise(self.noise)

    def _late(self, x0) -> Optimizer:
        if self.objectives.multi:
            late = NSGA2(self.space, self.child_goal, self.child_seed)
            late.adopt([t for t in self.trials if not t.pending])
            return late
        if x0 is None:
            return CMAES(self.space, "min", self.child_seed)
        # lq-CMA-ES, its model trained on every point the GP phase evaluated
        cma = CMAES(self.space, "min", self.child_seed, sigma0=0.1, x0=x0,
                    restart_sigma=0.3, surrogate=not self.constrained)
        cma.remember(*self._told())
        return cma

    def _told(self):
        """Told points and their values to minimise (failures left out)."""
        y = np.array(self._Y, dtype=float)
        ok = np.isfinite(y)
        return np.array(self._X)[ok] if ok.any() else np.empty((0, self.space.dim)), y[ok]

    def _rugged(self) -> bool:
        """Has the trust region just collapsed for the first time on a landscape that
        CMA-ES will do better on than a fresh trust region?

        TuRBO restarts from scratch when its box shrinks to nothing. Two landscapes
        hand over instead:

        - Rugged: the GP had to explain the values with noise (deterministic ripples:
          BBOB's Rastrigin, Schaffer, Griewank-Rosenbrock). A restart lands in another
          ripple; CMA-ES averages over them.
        - A bowl: a quadratic ranks every point so far well (ellipsoids, however
          ill-conditioned or rotated, where the GP's axis-aligned length scales
          cannot follow). lq-CMA-ES's quadratic model descends it in a few
          evaluations per generation.

        Where the fit was smooth but no bowl (Gallagher's peaks) TuRBO's restart is the
        better move, so it keeps it. Only the first collapse decides: a later one,
        after restarts, has found the landscape's large shape already (Ackley,
        symmetric Rastrigin), and CMA-ES from there did worse."""
        gp = self.gp
        if self.objectives.multi or gp.restarts == 0 or self._decided:
            return False
        self._decided = True
        if gp.fitted_noise > RUGGED_NOISE:
            return True
        X, y = self._told()
        if self.constrained or len(y) < 3:
            return False
        bowl = QuadraticModel(self.space.dim, min_size=len(y))
        bowl.extend(X, y)
        return bowl.tau(len(y)) >= QUADRATIC_TAU

    def _child(self) -> Optimizer:
        if self.gp is not None and self.cma is None and self._rugged():
            self.gp_budget = len(self.trials)  # hand over now, from the best point
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
        if child is self.gp and isinstance(self.cma, CMAES):
            # asked by the GP, back after the hand-over: lq-CMA-ES's model learns it too
            self.cma.remember([trial.u], [y])

    def state(self):
        out = super().state()
        out.update(phase=self.phase, gp_budget=self.gp_budget)
        return out
