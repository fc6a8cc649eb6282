"""Asynchronous ask/tell optimizers: plain Python and numpy, no MPI.

Every optimizer: ``ask(n) -> list[Trial]``, ``tell(trial, value)``, ``best``,
``state()``; results may come back in any order, failures as nan.
"""
from __future__ import annotations

from typing import Any, Mapping, Optional

from ..space import Space
from .base import Optimizer, Trial, as_objective_value, check_goal, check_noise
from .objectives import Goal, hypervolume, non_dominated, reference_point

# The optimizers load when first named: a map job's ranks and task processes import
# this package (through parc_mpi.job) and never build one, and the models, CMA-ES
# and the rest cost them about 0.1 CPU s each here, five times that on a Pi 4.
_WHERE = {"Auto": "auto", "RandomSearch": "random", "SobolSearch": "qmc",
          "LatinHypercube": "qmc", "CMAES": "cmaes", "LQCMAES": "cmaes",
          "DifferentialEvolution": "de", "GPBO": "gp", "TrustRegionBO": "gp",
          "ParEGO": "multi", "NSGA2": "multi", "ModelPruner": "curves", "Pruner": "pruners",
          "MedianPruner": "pruners", "ASHA": "pruners"}
_BY_NAME = {"auto": "Auto", "random": "RandomSearch", "sobol": "SobolSearch",
            "lhs": "LatinHypercube", "cmaes": "CMAES", "lq-cmaes": "LQCMAES",
            "de": "DifferentialEvolution", "gp": "GPBO", "turbo": "TrustRegionBO",
            "parego": "ParEGO", "nsga2": "NSGA2"}


def __getattr__(name: str) -> Any:
    """The optimizer classes and ``OPTIMIZERS`` (name -> class), loaded when asked."""
    if name in _WHERE:
        import importlib
        value = getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
    elif name == "OPTIMIZERS":
        value = {key: __getattr__(cls) for key, cls in _BY_NAME.items()}
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


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
    if key in _BY_NAME:
        return __getattr__(_BY_NAME[key])(space, goal=goal, seed=seed, budget=budget,
                                          workers=workers)
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
                     f"{', '.join(sorted(_BY_NAME) + list(ADAPTERS))}")


__all__ = ["Optimizer", "Trial", "Auto", "RandomSearch", "SobolSearch", "LatinHypercube",
           "CMAES", "LQCMAES", "DifferentialEvolution", "GPBO", "TrustRegionBO", "make_optimizer", "OPTIMIZERS",
           "ADAPTERS", "as_objective_value", "check_goal", "check_noise", "ParEGO", "NSGA2", "Goal",
           "hypervolume", "non_dominated", "reference_point", "Pruner", "MedianPruner", "ASHA",
           "ModelPruner"]
