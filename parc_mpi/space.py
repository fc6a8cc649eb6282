"""Search spaces: named parameters of type Real, Integer or Choice.

Every parameter maps to one coordinate of the unit cube, so that optimizers work
on ``[0, 1]^d`` and never see the user's units: :meth:`Space.to_unit` and
:meth:`Space.from_unit` convert both ways.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Sequence, Tuple

import numpy as np


class _Param:
    """A parameter: ``decode(u)`` maps u in [0, 1] to a value, ``encode`` back."""

    kind = "param"

    def check(self, name: str) -> None:
        raise NotImplementedError

    def decode(self, u: float) -> Any:
        raise NotImplementedError

    def encode(self, value: Any) -> float:
        raise NotImplementedError

    def describe(self) -> Dict[str, Any]:
        raise NotImplementedError


def _finite_number(value: Any) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(
        value, bool) and math.isfinite(float(value))


@dataclass(frozen=True)
class Real(_Param):
    """A real number in ``[low, high]``; ``log=True`` samples it on a log scale."""

    low: float
    high: float
    log: bool = False
    kind = "real"

    def check(self, name: str) -> None:
        for label, value in (("low", self.low), ("high", self.high)):
            if not _finite_number(value):
                raise ValueError(f"space[{name!r}]: Real {label} must be a finite number, "
                                 f"got {value!r}")
        if not self.low < self.high:
            raise ValueError(f"space[{name!r}]: Real low={self.low!r} must be below "
                             f"high={self.high!r}")
        if self.log and self.low <= 0:
            raise ValueError(f"space[{name!r}]: Real with log=True needs low > 0, "
                             f"got low={self.low!r}")

    def decode(self, u: float) -> float:
        u = min(max(float(u), 0.0), 1.0)
        if self.log:
            lo, hi = math.log(self.low), math.log(self.high)
            return float(min(max(math.exp(lo + u * (hi - lo)), self.low), self.high))
        return float(self.low + u * (self.high - self.low))

    def encode(self, value: Any) -> float:
        if self.log:
            lo, hi = math.log(self.low), math.log(self.high)
            return (math.log(float(value)) - lo) / (hi - lo)
        return (float(value) - self.low) / (self.high - self.low)

    def describe(self) -> Dict[str, Any]:
        return {"type": "Real", "low": float(self.low), "high": float(self.high),
                "log": bool(self.log)}


@dataclass(frozen=True)
class Integer(_Param):
    """An integer in ``[low, high]`` (both included); ``log=True`` for a log scale."""

    low: int
    high: int
    log: bool = False
    kind = "integer"

    def check(self, name: str) -> None:
        for label, value in (("low", self.low), ("high", self.high)):
            if not _finite_number(value) or float(value) != int(value):
                raise ValueError(f"space[{name!r}]: Integer {label} must be an integer, "
                                 f"got {value!r}")
        if not self.low < self.high:
            raise ValueError(f"space[{name!r}]: Integer low={self.low!r} must be below "
                             f"high={self.high!r}")
        if self.log and self.low <= 0:
            raise ValueError(f"space[{name!r}]: Integer with log=True needs low > 0, "
                             f"got low={self.low!r}")

    def decode(self, u: float) -> int:
        u = min(max(float(u), 0.0), 1.0)
        lo, hi = int(self.low), int(self.high)
        if self.log:
            a, b = math.log(lo - 0.5 if lo > 0.5 else lo), math.log(hi + 0.5)
            value = int(round(math.exp(a + u * (b - a))))
        else:
            value = int(math.floor(lo + u * (hi - lo + 1)))
        return min(max(value, lo), hi)

    def encode(self, value: Any) -> float:
        lo, hi = int(self.low), int(self.high)
        if self.log:
            a, b = math.log(lo - 0.5 if lo > 0.5 else lo), math.log(hi + 0.5)
            return (math.log(float(value)) - a) / (b - a)
        return (int(value) - lo + 0.5) / (hi - lo + 1)

    def describe(self) -> Dict[str, Any]:
        return {"type": "Integer", "low": int(self.low), "high": int(self.high),
                "log": bool(self.log)}


@dataclass(frozen=True)
class Choice(_Param):
    """One of a list of options (numbers, strings, anything picklable)."""

    options: Tuple[Any, ...]
    kind = "choice"

    def __init__(self, options: Sequence[Any]):
        object.__setattr__(self, "options", tuple(options) if options is not None else ())

    def check(self, name: str) -> None:
        if len(self.options) == 0:
            raise ValueError(f"space[{name!r}]: Choice needs at least one option")

    def decode(self, u: float) -> Any:
        k = len(self.options)
        return self.options[min(int(min(max(float(u), 0.0), 1.0) * k), k - 1)]

    def encode(self, value: Any) -> float:
        return (self.options.index(value) + 0.5) / len(self.options)

    def describe(self) -> Dict[str, Any]:
        return {"type": "Choice", "options": [repr(o) for o in self.options]}


class Space:
    """Named parameters; the objective receives them as keyword arguments.

    Parameters
    ----------
    params : mapping of str to Real, Integer or Choice

    Raises
    ------
    ValueError
        If the mapping is empty, a name is not a string, a parameter is of an
        unknown type, or its bounds make no sense; the message names it.

    Examples
    --------
    >>> space = Space({"x": Real(-5, 5), "n": Integer(1, 8), "kind": Choice(["a", "b"])})
    >>> space.dim
    3
    """

    def __init__(self, params: Mapping[str, _Param]):
        if isinstance(params, Space):
            params = params.params
        if not isinstance(params, Mapping):
            raise ValueError(f"space must be a dict of named parameters, got "
                             f"{type(params).__name__}")
        if not params:
            raise ValueError("space is empty: give at least one parameter")
        for name, param in params.items():
            if not isinstance(name, str) or not name:
                raise ValueError(f"space: parameter names must be non-empty strings, "
                                 f"got {name!r}")
            if not isinstance(param, _Param):
                raise ValueError(
                    f"space[{name!r}]: unknown parameter type {type(param).__name__}; "
                    "use parc_mpi.Real, parc_mpi.Integer or parc_mpi.Choice")
            param.check(name)
        self.params: Dict[str, _Param] = dict(params)
        self.names: List[str] = list(self.params)

    @property
    def dim(self) -> int:
        return len(self.names)

    def from_unit(self, u: Sequence[float]) -> Dict[str, Any]:
        """Map a point of the unit cube to named parameter values."""
        return {name: self.params[name].decode(ui) for name, ui in zip(self.names, u)}

    def to_unit(self, values: Mapping[str, Any]) -> np.ndarray:
        """Map named parameter values to the unit cube."""
        return np.array([self.params[n].encode(values[n]) for n in self.names], dtype=float)

    def check_point(self, point: Any, label: str) -> Dict[str, Any]:
        """A known point as named values, or ValueError naming the key and the bound."""
        if not isinstance(point, Mapping):
            raise ValueError(f"{label}: a point must be a dict of parameter values, got "
                             f"{type(point).__name__}")
        extra = [k for k in point if k not in self.params]
        if extra:
            raise ValueError(f"{label}: {extra[0]!r} is not a parameter of the space "
                             f"({', '.join(self.names)})")
        out = {}
        for name, param in self.params.items():
            if name not in point:
                raise ValueError(f"{label}: no value for {name!r}")
            v = point[name]
            if isinstance(param, Choice):
                if v not in param.options:
                    raise ValueError(f"{label}: {name}={v!r} is not one of the options")
            elif not _finite_number(v) or not param.low <= v <= param.high or (
                    isinstance(param, Integer) and float(v) != int(v)):
                kind = "an integer" if isinstance(param, Integer) else "a number"
                raise ValueError(f"{label}: {name}={v!r} must be {kind} in "
                                 f"[{param.low}, {param.high}]")
            out[name] = v
        return out

    def describe(self) -> Dict[str, Dict[str, Any]]:
        """A JSON-able description, used to refuse a resume with a changed space."""
        return {name: self.params[name].describe() for name in self.names}

    def __repr__(self) -> str:
        return f"Space({self.params!r})"
