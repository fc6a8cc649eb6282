"""The linear-quadratic global surrogate of lq-CMA-ES (Hansen 2019, "A Global
Surrogate Assisted CMA-ES", GECCO; the reference code is pycma's
``cma.fitness_models.LQModel``).

A polynomial fitted by weighted least squares to the archive of evaluated points: linear
at first, then with a diagonal quadratic term once there are 1.1 x its coefficients
in the best 75% of the archive, then a full quadratic. Only the best 75% of the
archive enter the fit, weighted by rank from 20 (best) down to 1, so a bowl with a
plateau or a cliff still fits where it matters. The archive keeps the newest
``max(2 x full-model coefficients, min_size)`` points. Above 20 dimensions the model
stays diagonal (a full one would cost seconds per fit).

CMA-ES uses it to rank its samples and evaluate only the promising ones, as long as
the model ranks the latest evaluations right (Kendall's tau >= 0.85).
"""
from __future__ import annotations

import math
from typing import Optional

import numpy as np
from ._lazy import lazy_function

kendalltau = lazy_function("scipy.stats", "kendalltau")

TRUNCATION = 0.75      # share of the archive (the best) that enters the fit
MIN_RELATIVE = 1.1     # data per coefficient before a richer model is used
MAX_WEIGHT = 20.0      # the best point's weight; the worst used has 1
TAU_TRUTH = 0.85       # the model is trusted when it ranks the latest points this well
FULL_MAX_DIM = 20      # above, a diagonal quadratic at most: a full one has d(d+3)/2 + 1
#                        coefficients, and its fit would cost seconds per evaluation


def n_for_tau(lam: int, evaluated: int) -> int:
    """How many of the newest points the rank agreement is measured on."""
    return int(max(15, min(1.2 * evaluated, 0.75 * lam)))


class QuadraticModel:
    """A linear, diagonal-quadratic or full quadratic model of a function on the
    unit cube, fitted to the newest points of an archive."""

    def __init__(self, dim: int, min_size: int = 0):
        self.dim = dim
        self.min_size = min_size
        self.X = np.empty((0, dim))    # oldest first
        self.Y = np.empty(0)
        self._coef: Optional[np.ndarray] = None

    # -- sizes -----------------------------------------------------------
    @property
    def full_df(self) -> int:
        return self.dim * (self.dim + 3) // 2 + 1

    @property
    def kind(self) -> str:
        n, d = len(self.Y) * TRUNCATION, self.dim
        if n >= MIN_RELATIVE * self.full_df and d <= FULL_MAX_DIM:
            return "full"
        if n >= MIN_RELATIVE * (2 * d + 1):
            return "diagonal"
        return "linear"

    @property
    def max_size(self) -> int:
        df = self.full_df if self.dim <= FULL_MAX_DIM else 2 * self.dim + 1
        return int(max(2 * df, self.min_size, math.ceil(df * MIN_RELATIVE / TRUNCATION)))

    def __len__(self) -> int:
        return len(self.Y)

    # -- data ------------------------------------------------------------
    def add(self, x: np.ndarray, y: float) -> None:
        """Add one evaluated point (non-finite values are left out)."""
        self.extend([x], [y])

    def extend(self, X, y) -> None:
        """Add evaluated points, oldest first (non-finite values are left out); the
        archive keeps the newest ``max_size``."""
        X = np.asarray(X, float).reshape(-1, self.dim)
        y = np.asarray(y, float).reshape(-1)
        ok = np.isfinite(y)
        if not ok.any():
            return
        self.X = np.vstack([self.X, X[ok]])[-self.max_size:]
        self.Y = np.concatenate([self.Y, y[ok]])[-self.max_size:]
        self._coef = None

    def features(self, X: np.ndarray, kind: Optional[str] = None) -> np.ndarray:
        X = np.atleast_2d(X) - 0.5
        kind = kind or self.kind
        cols = [np.ones((len(X), 1)), X]
        if kind in ("diagonal", "full"):
            cols.append(X * X)
        if kind == "full":
            i, j = np.triu_indices(self.dim, k=1)
            cols.append(X[:, i] * X[:, j])
        return np.hstack(cols)

    @property
    def coef(self) -> np.ndarray:
        if self._coef is None:
            kind = self.kind
            k = self.features(np.zeros((1, self.dim)), kind).shape[1]
            n = min(len(self.Y), max(k + 2, int(TRUNCATION * (len(self.Y) + 1))))
            idx = np.argsort(self.Y, kind="stable")[:n]
            w = np.linspace(MAX_WEIGHT, 1.0, n)
            Z = self.features(self.X[idx], kind)
            self._coef = np.linalg.lstsq(w[:, None] * Z, w * self.Y[idx], rcond=None)[0]
        return self._coef

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Model values of the rows of X (zeros while the archive is empty)."""
        X = np.atleast_2d(X)
        if not len(self.Y):
            return np.zeros(len(X))
        return self.features(X) @ self.coef

    def tau(self, number: int) -> float:
        """Kendall's tau between the newest ``number`` values and the model's."""
        number = min(number, len(self.Y))
        if number < 3:
            return 0.0
        t = kendalltau(self.Y[-number:], self.predict(self.X[-number:]))[0]
        return float(t) if math.isfinite(t) else 0.0
