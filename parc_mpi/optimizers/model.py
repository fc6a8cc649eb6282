"""The Gaussian-process model the optimizers share (no optimizer in it): a Matérn-5/2
ARD GP fitted by marginal likelihood, expected improvement, the robust warp of values,
and :func:`posterior_best`, the evaluated point a noisy objective's model thinks best.

``base.py`` uses :func:`posterior_best` for ``best`` when values are noisy; ``gp.py``,
``curves.py`` and ``multi.py`` build their searches on the rest.
"""
from __future__ import annotations

import math
from typing import NamedTuple, Optional, Tuple

import numpy as np

from ._lazy import lazy_function

cho_factor = lazy_function("scipy.linalg", "cho_factor")
cho_solve = lazy_function("scipy.linalg", "cho_solve")
solve_triangular = lazy_function("scipy.linalg", "solve_triangular")
minimize = lazy_function("scipy.optimize", "minimize")
erfc = lazy_function("scipy.special", "erfc")

SQRT5 = math.sqrt(5.0)
FIT_MAX = 250    # points the hyperparameters are fitted on at most


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


def neg_log_likelihood(theta: np.ndarray, X: np.ndarray, y: np.ndarray):
    """Negative log marginal likelihood and its gradient in theta = (log length
    scales, log signal variance, log noise variance)."""
    n, d = X.shape
    ls, s2, noise = np.exp(theta[:d]), math.exp(theta[d]), math.exp(theta[d + 1])
    a = X / ls
    d2 = (a * a).sum(1)[:, None] + (a * a).sum(1)[None, :] - 2.0 * a @ a.T
    r = np.sqrt(np.maximum(d2, 0.0))
    e = np.exp(-SQRT5 * r)
    Kf = s2 * (1 + SQRT5 * r + 5.0 / 3.0 * d2) * e
    K = Kf + (noise + 1e-9) * np.eye(n)
    try:
        c, low = cho_factor(K, lower=True, check_finite=False)
    except np.linalg.LinAlgError:
        return 1e10, np.zeros_like(theta)
    alpha = cho_solve((c, low), y, check_finite=False)
    nll = 0.5 * y @ alpha + np.log(np.diag(c)).sum() + 0.5 * n * math.log(2 * math.pi)
    W = cho_solve((c, low), np.eye(n), check_finite=False) - np.outer(alpha, alpha)
    # dK/dlog ls_k = s2 5/3 (1 + sqrt5 r) e^(-sqrt5 r) (a_ik - a_jk)^2
    M = W * (s2 * 5.0 / 3.0 * (1 + SQRT5 * r) * e)
    g_ls = 0.5 * (2.0 * (M.sum(1) @ (a * a)) - 2.0 * np.sum(a * (M @ a), axis=0))
    grad = np.concatenate([g_ls, [0.5 * np.sum(W * Kf), 0.5 * noise * np.trace(W)]])
    if not np.isfinite(nll) or not np.isfinite(grad).all():
        return 1e10, np.zeros_like(theta)
    return float(nll), grad


def expected_improvement(mu: np.ndarray, sd: np.ndarray, best: float,
                         xi: float = 0.01) -> np.ndarray:
    imp = best - mu - xi
    z = imp / sd
    cdf = 0.5 * erfc(-z / math.sqrt(2))
    pdf = np.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)
    return imp * cdf + sd * pdf


class Warp:
    """Robust standardisation fitted on values ``v``: centre on the median, scale by
    the MAD, squash tails with a signed log1p, standardise (order kept; one huge
    value cannot swamp the model). Callable on any values; ``back`` inverts it."""

    def __init__(self, v: np.ndarray):
        v = np.clip(v, -1e300, 1e300)  # differences of huge values must stay finite
        self.med = float(np.median(v))
        mad = float(np.median(np.abs(v - self.med))) * 1.4826
        self.scale = mad if 0 < mad < np.inf else (float(np.abs(v - self.med).max()) or 1.0)
        w = self._squash(v)
        self.mean, self.std = float(w.mean()), float(w.std()) or 1.0

    def _squash(self, v):
        z = (np.clip(np.asarray(v, dtype=float), -1e300, 1e300) - self.med) / self.scale
        return np.sign(z) * np.log1p(np.abs(z))

    def __call__(self, v):
        return (self._squash(v) - self.mean) / self.std

    def back(self, y: float) -> float:
        w = y * self.std + self.mean
        return self.med + self.scale * math.copysign(math.expm1(abs(w)), w)

    def state(self) -> tuple:
        return (self.med, self.scale, self.mean, self.std)

    @classmethod
    def from_state(cls, st: tuple) -> "Warp":
        out = cls.__new__(cls)
        out.med, out.scale, out.mean, out.std = st
        return out


def warp(y: np.ndarray) -> np.ndarray:
    """``y`` robustly standardised (see :class:`Warp`)."""
    return Warp(y)(y)


def fit_theta(X: np.ndarray, y: np.ndarray, starts, bounds, maxiter: int) -> np.ndarray:
    """GP hyperparameters maximising the marginal likelihood: L-BFGS-B from each of
    ``starts`` (clipped into ``bounds``), the best end point."""
    best = None
    for t0 in starts:
        res = minimize(neg_log_likelihood, np.clip(t0, *np.array(bounds).T), args=(X, y),
                       jac=True, method="L-BFGS-B", bounds=bounds,
                       options={"maxiter": maxiter})
        if best is None or res.fun < best.fun:
            best = res
    return best.x


def _too_close(Z: np.ndarray, known: np.ndarray, tol: float = 1e-4) -> np.ndarray:
    """Rows of Z within ``tol`` (Euclidean, unit cube) of any known point."""
    d2 = (Z * Z).sum(1)[:, None] + (known * known).sum(1)[None, :] - 2.0 * Z @ known.T
    return d2.min(axis=1) < tol * tol


# noise variance (on warped, standardised values) a noisy objective's model may fit:
# up to the signal's own variance (a landscape mostly noise), from a smooth fit's floor
NOISY_BOUNDS = (math.log(1e-6), math.log(1.0))


class Estimate(NamedTuple):
    """The evaluated point a model of noisy values thinks best."""
    index: int        # its row in the data given
    mean: float       # the model's mean there (the values' units, minimised)
    sd: float         # the standard deviation of that mean
    noise_sd: float   # the fitted noise's standard deviation there, one evaluation's


def _slope(w: Warp, v: float) -> float:
    """d warp(v) / dv: how the warp stretches values near ``v``."""
    z = (min(max(v, -1e300), 1e300) - w.med) / w.scale
    return 1.0 / (w.scale * (1.0 + abs(z)) * w.std)


def noisy_theta(X: np.ndarray, ys: np.ndarray, theta: Optional[np.ndarray] = None,
                noise_var: Optional[float] = None, maxiter: int = 60) -> np.ndarray:
    """Hyperparameters for noisy values (warped ``ys``): the noise variance free up to
    the signal's, or held at ``noise_var`` (warped units) when it is known."""
    d = X.shape[1]
    lo, hi = NOISY_BOUNDS
    if noise_var is not None:
        lo = hi = math.log(min(max(noise_var, 1e-6), 1.0))
    bounds = [(math.log(0.03), math.log(5.0))] * d + [(math.log(0.05), math.log(20.0)), (lo, hi)]
    starts = [np.concatenate([np.log(np.full(d, 0.3)), [0.0, math.log(0.1)]]),
              np.concatenate([np.log(np.full(d, 0.1)), [0.0, math.log(1e-3)]])]
    if theta is not None and len(theta) == d + 2:
        starts.insert(0, theta)
    return fit_theta(X, ys, starts, bounds, maxiter=maxiter)


def posterior_means(X: np.ndarray, y: np.ndarray, noise_sd: Optional[float] = None,
                    rng: Optional[np.random.Generator] = None):
    """A GP with a noise term fitted to noisy values ``y`` (minimised, finite) at ``X``
    (unit cube): its mean and standard deviation at every row of ``X``, and one
    evaluation's noise standard deviation near the best (all in the values' units).
    ``noise_sd``: that noise when known (else fitted). Beyond ``FIT_MAX`` points the
    model is fitted on the best half of them and a random sample of the rest (``rng``;
    a fixed one by default, so that the same data give the same answer)."""
    n = len(y)
    order = np.argsort(y)
    if n > FIT_MAX:
        rng = rng if rng is not None else np.random.default_rng(0)
        keep = np.concatenate([order[:FIT_MAX // 2], rng.choice(
            order[FIT_MAX // 2:], FIT_MAX - FIT_MAX // 2, replace=False)])
    else:
        keep = np.arange(n)
    Xk, yk = X[keep], y[keep]
    w = Warp(yk)
    ys = w(yk)
    if n < 3 or np.ptp(ys) == 0:
        return y.astype(float), np.full(n, math.nan), math.nan
    noise_var = None
    if noise_sd is not None:
        noise_var = (float(noise_sd) * _slope(w, float(np.median(yk)))) ** 2
    gp = GP(Xk, ys, noisy_theta(Xk, ys, None, noise_var))
    mu, sd = gp.predict(X)
    back = np.vectorize(w.back)
    mean = back(mu)
    spread = np.abs(back(mu + sd) - back(mu - sd)) / 2.0
    j = int(np.argmin(mu))
    nsd = math.sqrt(gp.noise)
    noise = abs(w.back(mu[j] + nsd) - w.back(mu[j] - nsd)) / 2.0
    return mean, spread, float(noise)


def posterior_best(X: np.ndarray, y: np.ndarray, noise_sd: Optional[float] = None,
                   rng: Optional[np.random.Generator] = None) -> Estimate:
    """Of the evaluated points ``X`` with noisy values ``y``, the one where a GP
    fitted with a noise term has the lowest mean (:func:`posterior_means`): the "best
    by posterior mean" rule, which the single lowest value (the luckiest draw where
    values are noisy) is not. A point evaluated several times is one point with
    several values."""
    mean, spread, noise = posterior_means(X, y, noise_sd, rng)
    j = int(np.argmin(mean))
    return Estimate(j, float(mean[j]), float(spread[j]), noise)
