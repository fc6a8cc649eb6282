"""Gaussian-process Bayesian optimization with expected improvement, batch-aware.

* Model: a GP with a Matérn-5/2 ARD kernel on robustly warped values; the length
  scales, signal and noise variance maximise the log marginal likelihood
  (scipy's L-BFGS-B, warm-started; refitted less often as data grows, on at most
  ``FIT_MAX`` points).
* Pending trials (asked, not told) enter as "kriging believer" observations: the
  model's own mean at that point, so the next point goes elsewhere.
* Acquisition: expected improvement, maximised over a cloud of random and local
  candidates, then polished with L-BFGS-B from the best one.
* Starts with a scrambled Sobol design of ``n_init`` points.
"""
from __future__ import annotations

import math
from typing import Optional, Tuple

import numpy as np

from ._lazy import LazyModule, lazy_function
from .base import Optimizer

cho_factor = lazy_function("scipy.linalg", "cho_factor")
cho_solve = lazy_function("scipy.linalg", "cho_solve")
solve_triangular = lazy_function("scipy.linalg", "solve_triangular")
minimize = lazy_function("scipy.optimize", "minimize")
erfc = lazy_function("scipy.special", "erfc")
qmc = LazyModule("scipy.stats.qmc")

SQRT5 = math.sqrt(5.0)
FIT_MAX = 250


def matern52(A: np.ndarray, B: np.ndarray, ls: np.ndarray, s2: float) -> np.ndarray:
    a, b = A / ls, B / ls
    d2 = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * a @ b.T
    d = np.sqrt(np.maximum(d2, 0.0))
    return s2 * (1 + SQRT5 * d + 5.0 / 3.0 * d * d) * np.exp(-SQRT5 * d)


class GP:
    """A fitted GP: predicts mean and standard deviation (standardised units)."""

    def __init__(self, X: np.ndarray, y: np.ndarray, theta: np.ndarray):
        d = X.shape[1]
        self.X = X
        self.ls = np.exp(theta[:d])
        self.s2 = float(np.exp(theta[d]))
        self.noise = float(np.exp(theta[d + 1]))
        K = matern52(X, X, self.ls, self.s2) + (self.noise + 1e-9) * np.eye(len(X))
        self.L = np.linalg.cholesky(K)
        self.alpha = cho_solve((self.L, True), y)

    def predict(self, Z: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        Ks = matern52(Z, self.X, self.ls, self.s2)
        mu = Ks @ self.alpha
        v = solve_triangular(self.L, Ks.T, lower=True)
        var = np.maximum(self.s2 - (v * v).sum(0), 1e-12)
        return mu, np.sqrt(var)


def neg_log_likelihood(theta: np.ndarray, X: np.ndarray, y: np.ndarray) -> float:
    d = X.shape[1]
    ls, s2, noise = np.exp(theta[:d]), math.exp(theta[d]), math.exp(theta[d + 1])
    K = matern52(X, X, ls, s2) + (noise + 1e-9) * np.eye(len(X))
    try:
        c, low = cho_factor(K, lower=True)
    except np.linalg.LinAlgError:
        return 1e10
    alpha = cho_solve((c, low), y)
    return float(0.5 * y @ alpha + np.log(np.diag(c)).sum() + 0.5 * len(y) * math.log(2 * math.pi))


def expected_improvement(mu: np.ndarray, sd: np.ndarray, best: float,
                         xi: float = 0.01) -> np.ndarray:
    imp = best - mu - xi
    z = imp / sd
    cdf = 0.5 * erfc(-z / math.sqrt(2))
    pdf = np.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)
    return imp * cdf + sd * pdf


def warp(y: np.ndarray) -> np.ndarray:
    """Robust standardisation: centre on the median, scale by the MAD, squash tails
    with a signed log1p (order kept; one huge value cannot swamp the model)."""
    y = np.clip(y, -1e300, 1e300)  # differences of huge values must stay finite
    med = float(np.median(y))
    mad = float(np.median(np.abs(y - med))) * 1.4826
    scale = mad if 0 < mad < np.inf else (float(np.abs(y - med).max()) or 1.0)
    z = (y - med) / scale
    z = np.sign(z) * np.log1p(np.abs(z))
    return (z - z.mean()) / (z.std() or 1.0)


def _too_close(Z: np.ndarray, known: np.ndarray, tol: float = 1e-4) -> np.ndarray:
    """Rows of Z within ``tol`` (Euclidean, unit cube) of any known point."""
    d2 = (Z * Z).sum(1)[:, None] + (known * known).sum(1)[None, :] - 2.0 * Z @ known.T
    return d2.min(axis=1) < tol * tol


class GPBO(Optimizer):
    """Bayesian optimization with a GP and expected improvement.

    Parameters
    ----------
    n_init : int, optional
        Size of the initial Sobol design (default ``min(max(5, 2 d + 1), 20)``).
    """

    name = "gp"

    def __init__(self, space, goal="min", seed=None, n_init: Optional[int] = None):
        super().__init__(space, goal, seed)
        d = self.space.dim
        self.n_init = int(n_init or min(max(5, 2 * d + 1), 20))
        self.sobol = qmc.Sobol(d, scramble=True, seed=self.rng)
        self.theta = np.concatenate([np.log(np.full(d, 0.3)), [0.0, math.log(1e-3)]])
        self._fitted_at = -1

    def _propose(self, n: int) -> np.ndarray:
        out = []
        X, y = self.observations()
        pending = [t.u for t in self.trials if t.pending]
        for _ in range(n):
            if len(X) < self.n_init or len(X) < 2 or not np.isfinite(np.ptp(y)) or \
                    np.ptp(y) == 0:
                out.append(self.sobol.random(1)[0])
            else:
                out.append(self._next_point(X, y, pending + out))
        return np.array(out)

    def _fit(self, X: np.ndarray, y: np.ndarray) -> None:
        n = len(X)
        if self._fitted_at >= 0 and n < 100 and n == self._fitted_at:
            return
        if self._fitted_at >= 0 and n >= 100 and n - self._fitted_at < max(10, n // 20):
            return  # large data: refit now and then
        if n > FIT_MAX:  # fit on the best half and a random sample of the rest
            order = np.argsort(y)
            keep = np.concatenate([order[:FIT_MAX // 2], self.rng.choice(
                order[FIT_MAX // 2:], FIT_MAX - FIT_MAX // 2, replace=False)])
            X, y = X[keep], y[keep]
        d = X.shape[1]
        bounds = [(math.log(0.03), math.log(5.0))] * d + [(math.log(0.05), math.log(20.0)),
                                                            (math.log(1e-6), math.log(0.1))]
        starts = [self.theta]
        if self._fitted_at < 0:
            starts.append(np.concatenate([np.log(np.full(d, 0.1)), [0.0, math.log(1e-4)]]))
        best = None
        for t0 in starts:
            res = minimize(neg_log_likelihood, np.clip(t0, *np.array(bounds).T), args=(X, y),
                           method="L-BFGS-B", bounds=bounds, options={"maxiter": 60})
            if best is None or res.fun < best.fun:
                best = res
        self.theta = best.x
        self._fitted_at = n

    def _next_point(self, X: np.ndarray, y: np.ndarray, pending) -> np.ndarray:
        ys = warp(y)
        self._fit(X, ys)
        gp = GP(X, ys, self.theta)
        if pending:  # kriging believer: pending points at the model's own mean
            P = np.array(pending)
            mu_p, _ = gp.predict(P)
            gp = GP(np.vstack([X, P]), np.concatenate([ys, mu_p]), self.theta)
        best = ys.min()
        d = self.space.dim
        incumbents = X[np.argsort(ys)[:5]]
        cand = np.vstack([
            self.rng.random((1000, d)),
            np.clip(incumbents[self.rng.integers(len(incumbents), size=500)]
                    + self.rng.normal(0, 0.05, (500, d)), 0, 1),
            np.clip(incumbents[0] + self.rng.normal(0, 0.01, (200, d)), 0, 1)])
        known = np.vstack([X] + ([np.array(pending)] if pending else []))
        mu, sd = gp.predict(cand)
        ei = expected_improvement(mu, sd, best)
        ei[_too_close(cand, known)] = -np.inf  # never propose a point already asked
        if not np.isfinite(ei).any():
            return self.rng.random(d)
        x0 = cand[int(np.argmax(ei))]

        def neg_ei(x):
            m, s = gp.predict(x[None, :])
            return -float(expected_improvement(m, s, best)[0])

        res = minimize(neg_ei, x0, method="L-BFGS-B", bounds=[(0, 1)] * d,
                       options={"maxiter": 15})
        x = np.clip(res.x, 0, 1)
        if res.fun > -float(ei.max()) or _too_close(x[None, :], known)[0]:
            x = x0  # the polish went nowhere better, or onto a known point
        return np.clip(x, 0, 1)
