"""Asynchronous ask/tell optimizers: plain Python and numpy, no MPI.

Every optimizer: ``ask(n) -> list[Trial]``, ``tell(trial, value)``, ``best``,
``state()``; results may come back in any order, failures as nan.
"""
from __future__ import annotations

from typing import Any, Mapping, Optional

from ..space import Space
from .auto import Auto
from .base import Optimizer, Trial, as_objective_value, check_goal, check_noise
from .cmaes import CMAES, LQCMAES
from .de import DifferentialEvolution
from .gp import GPBO, TrustRegionBO
from .multi import NSGA2, ParEGO
from .objectives import Goal, hypervolume, non_dominated, reference_point
from .curves import ModelPruner
from .pruners import ASHA, MedianPruner, Pruner
from .qmc import LatinHypercube, SobolSearch
from .random import RandomSearch

OPTIMIZERS = {
    "auto": Auto,
    "random": RandomSearch,
    "sobol": SobolSearch,
    "lhs": LatinHypercube,
    "cmaes": CMAES,
    "lq-cmaes": LQCMAES,
    "de": DifferentialEvolution,
    "gp": GPBO,
    "turbo": TrustRegionBO,
    "parego": ParEGO,
    "nsga2": NSGA2,
}
ADAPTERS = ("optuna-tpe", "optuna-cmaes", "pycma", "nevergrad")


def make_optimizer(name, space: Mapping | Space, goal: Any = "min",
                   seed: Optional[int] = None, budget: Optional[int] = None,
                   workers: int = 1, pruner: Any = None, noise: Any = None) -> Optimizer:
    """Build an optimizer by name.

    Parameters
    ----------
    name : str or Optimizer
        ``"auto"`` (default: trust-region GP-BO, then lq-CMA-ES),
        ``"random"``, ``"sobol"``, ``"lhs"``, ``"cmaes"``, ``"lq-cmaes"``, ``"de"``,
        ``"gp"``, ``"turbo"``, or an
        adapter: ``"optuna-tpe"``, ``"optuna-cmaes"``, ``"pycma"``, ``"nevergrad"``.
        ``"parego"`` and ``"nsga2"`` are for several objectives (``auto``,
        ``random``, ``sobol`` and ``lhs`` take those too).
        An Optimizer instance is used as it is.
    goal : "min", "max", or a dict naming each objective's sense
    pruner : "median", "asha", "model", a Pruner, or None (default: off)
    noise : True, a number (one evaluation's noise sd), or None (exact values)
        See :meth:`Optimizer.set_noise`.
    """
    opt = _make(name, space, goal, seed, budget, workers)
    if pruner is not None:
        opt.set_pruner(pruner)
    if noise is not None:
        opt.set_noise(noise)
    return opt


def _make(name, space, goal, seed, budget, workers) -> Optimizer:
    if isinstance(name, Optimizer):
        return name
    if not isinstance(name, str):
        raise ValueError(f"optimizer must be a name or an Optimizer, got {type(name).__name__}")
    key = name.lower()
    if key in OPTIMIZERS:
        return OPTIMIZERS[key](space, goal=goal, seed=seed, budget=budget, workers=workers)
    if key in ADAPTERS:
        from . import adapters
        if Goal(goal).multi:
            raise ValueError(f"optimizer {name!r} handles one objective; for several use "
                             f"one of auto, parego, nsga2, random, sobol, lhs")
        common = dict(goal=goal, seed=seed, budget=budget, workers=workers)
        if key.startswith("optuna-"):
            return adapters.OptunaSampler(space, sampler=key.split("-", 1)[1], **common)
        if key == "pycma":
            return adapters.PyCMA(space, **common)
        return adapters.Nevergrad(space, **common)
    raise ValueError(f"unknown optimizer {name!r}; choose one of "
                     f"{', '.join(sorted(OPTIMIZERS) + list(ADAPTERS))}")


__all__ = ["Optimizer", "Trial", "Auto", "RandomSearch", "SobolSearch", "LatinHypercube",
           "CMAES", "LQCMAES", "DifferentialEvolution", "GPBO", "TrustRegionBO", "make_optimizer", "OPTIMIZERS",
           "ADAPTERS", "as_objective_value", "check_goal", "check_noise", "ParEGO", "NSGA2", "Goal",
           "hypervolume", "non_dominated", "reference_point", "Pruner", "MedianPruner", "ASHA",
           "ModelPruner"]
