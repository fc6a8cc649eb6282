"""Asynchronous ask/tell optimizers: plain Python and numpy, no MPI."""
from __future__ import annotations

from typing import Mapping, Optional

from ..space import Space
from .base import Optimizer, Trial, as_objective_value, check_goal
from .random import RandomSearch

OPTIMIZERS = {
    "random": RandomSearch,
}


def make_optimizer(name: str | Optimizer, space: Mapping | Space, goal: str = "min",
                   seed: Optional[int] = None, budget: Optional[int] = None,
                   workers: int = 1) -> Optimizer:
    """Build an optimizer by name (``"auto"`` picks from budget, dimension, workers)."""
    if isinstance(name, Optimizer):
        return name
    if not isinstance(name, str):
        raise ValueError(f"optimizer must be a name or an Optimizer, got {type(name).__name__}")
    key = name.lower()
    if key == "auto":
        key = "random"
    if key not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {name!r}; choose one of "
                         f"{', '.join(['auto'] + sorted(OPTIMIZERS))}")
    return OPTIMIZERS[key](space, goal=goal, seed=seed)


__all__ = ["Optimizer", "Trial", "RandomSearch", "make_optimizer", "OPTIMIZERS",
           "as_objective_value", "check_goal"]
