"""Asynchronous ask/tell optimizers: plain Python and numpy, no MPI.

Every optimizer: ``ask(n) -> list[Trial]``, ``tell(trial, value)``, ``best``,
``state()``; results may come back in any order, failures as nan.
"""
from __future__ import annotations

from typing import Mapping, Optional

from ..space import Space
from .auto import Auto
from .base import Optimizer, Trial, as_objective_value, check_goal
from .cmaes import CMAES
from .de import DifferentialEvolution
from .gp import GPBO, TrustRegionBO
from .qmc import LatinHypercube, SobolSearch
from .random import RandomSearch

OPTIMIZERS = {
    "auto": Auto,
    "random": RandomSearch,
    "sobol": SobolSearch,
    "lhs": LatinHypercube,
    "cmaes": CMAES,
    "de": DifferentialEvolution,
    "gp": GPBO,
    "turbo": TrustRegionBO,
}
ADAPTERS = ("optuna-tpe", "optuna-cmaes", "pycma", "nevergrad")


def make_optimizer(name, space: Mapping | Space, goal: str = "min",
                   seed: Optional[int] = None, budget: Optional[int] = None,
                   workers: int = 1) -> Optimizer:
    """Build an optimizer by name.

    Parameters
    ----------
    name : str or Optimizer
        ``"auto"`` (default: trust-region GP-BO, then CMA-ES for large budgets),
        ``"random"``, ``"sobol"``, ``"lhs"``, ``"cmaes"``, ``"de"``, ``"gp"``, ``"turbo"``, or an
        adapter: ``"optuna-tpe"``, ``"optuna-cmaes"``, ``"pycma"``, ``"nevergrad"``.
        An Optimizer instance is used as it is.
    """
    if isinstance(name, Optimizer):
        return name
    if not isinstance(name, str):
        raise ValueError(f"optimizer must be a name or an Optimizer, got {type(name).__name__}")
    key = name.lower()
    if key in OPTIMIZERS:
        return OPTIMIZERS[key](space, goal=goal, seed=seed, budget=budget, workers=workers)
    if key in ADAPTERS:
        from . import adapters
        common = dict(goal=goal, seed=seed, budget=budget, workers=workers)
        if key.startswith("optuna-"):
            return adapters.OptunaSampler(space, sampler=key.split("-", 1)[1], **common)
        if key == "pycma":
            return adapters.PyCMA(space, **common)
        return adapters.Nevergrad(space, **common)
    raise ValueError(f"unknown optimizer {name!r}; choose one of "
                     f"{', '.join(sorted(OPTIMIZERS) + list(ADAPTERS))}")


__all__ = ["Optimizer", "Trial", "Auto", "RandomSearch", "SobolSearch", "LatinHypercube",
           "CMAES", "DifferentialEvolution", "GPBO", "TrustRegionBO", "make_optimizer", "OPTIMIZERS",
           "ADAPTERS", "as_objective_value", "check_goal"]
