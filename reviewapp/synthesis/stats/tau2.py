"""Between-study variance (tau²) estimators and the Q-profile confidence interval.

Each estimator follows metafor ``rma.uni()`` (version 3.8/4.x source, R/rma.uni.r), including its
numerical conventions: estimates truncated at 0; Fisher scoring for ML/REML/EB started from the
Hedges estimate, step-halving at the boundary, stopping when the change is below 1e-5 (at most
100 iterations); Paule-Mandel and the Q-profile bounds found with Brent's method on
[0, tau2.max] with uniroot's tolerance ``.Machine$double.eps^0.25`` (``brent.py``, the same
method as R's uniroot and scipy's brentq, which agree with it to rounding).

All functions take a model matrix ``X`` (k x p) so that the same code serves meta-regression
and Egger's test; pass a column of ones for an ordinary meta-analysis.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from reviewapp.synthesis.stats.brent import brent_root
from reviewapp.synthesis.stats.distributions import chi2_isf, chi2_ppf, mad_normal

__all__ = [
    "TAU2_METHODS",
    "Tau2Estimate",
    "estimate_tau2",
    "generalised_q",
    "q_profile_ci",
]

TAU2_METHODS = ("DL", "REML", "PM", "ML", "SJ", "HE", "HS", "EB")

THRESHOLD = 1e-5  # metafor control$threshold
MAXITER = 100  # metafor control$maxiter
UNIROOT_TOL = np.finfo(float).eps ** 0.25  # metafor control$tol (R uniroot default)
BRENT_RTOL = 4 * np.finfo(float).eps  # R zeroin's relative term, 2*EPSILON*|b| on each side


class ConvergenceError(RuntimeError):
    """An iterative tau² estimator did not converge."""


@dataclass(frozen=True)
class Tau2Estimate:
    tau2: float
    se_tau2: float | None
    iterations: int = 0


def _projection(X: np.ndarray, w: np.ndarray) -> np.ndarray:
    """P = W - W X (X'WX)^-1 X'W, the weighted residual-maker of metafor's notes."""
    W = np.diag(w)
    XtW = X.T * w
    return W - XtW.T @ np.linalg.solve(XtW @ X, XtW)


def generalised_q(tau2: float, yi: np.ndarray, vi: np.ndarray, X: np.ndarray) -> float:
    """Generalised Q: residual sum of squares with weights 1/(vi + tau²) (metafor ``.QE.func``)."""
    w = 1 / (vi + tau2)
    XtW = X.T * w
    beta = np.linalg.solve(XtW @ X, XtW @ yi)
    return float(np.sum(w * (yi - X @ beta) ** 2))


def _mad(y: np.ndarray) -> float:
    """R's ``mad()``: median absolute deviation scaled by 1.4826."""
    return mad_normal(y)


def estimate_tau2(yi: np.ndarray, vi: np.ndarray, X: np.ndarray, method: str) -> Tau2Estimate:
    """Estimate tau² by the named method, exactly as metafor ``rma.uni()``.

    DL: DerSimonian & Laird (1986), generalised to meta-regression by Raudenbush (2009).
    HE: Hedges (1983) / Hedges & Olkin (1985) unweighted method-of-moments.
    HS: Hunter & Schmidt (2004) (RSS - k) / sum(w).
    SJ: Sidik & Jonkman (2005), one step from tau²_0 = var(y)(k-1)/k.
    PM: Paule & Mandel (1982): generalised Q equal to k - p.
    ML / REML: Viechtbauer (2005), Fisher scoring. EB: Morris (1983) empirical Bayes.
    Standard errors as in metafor (notes.pdf there).
    """
    method = method.upper()
    if method not in TAU2_METHODS:
        raise ValueError(f"Unknown tau² method {method!r}; use one of {TAU2_METHODS}.")
    k, p = X.shape
    ymc = yi - yi.mean()  # metafor centres y for numerical stability; residuals are unchanged

    if method in ("HS", "DL"):
        w = 1 / vi
        P = _projection(X, w)
        rss = float(ymc @ P @ ymc)
        trP = float(np.trace(P))
        if method == "HS":
            tau2 = max(0.0, (rss - k) / w.sum())
            se = np.sqrt(
                1 / w.sum() ** 2 * (2 * (k - p) + 4 * tau2 * trP + 2 * tau2**2 * np.sum(P * P))
            )
        else:
            tau2 = max(0.0, (rss - (k - p)) / trP)
            se = np.sqrt(1 / trP**2 * (2 * (k - p) + 4 * tau2 * trP + 2 * tau2**2 * np.sum(P * P)))
        return Tau2Estimate(tau2, float(se))

    if method == "SJ":
        tau2_0 = float(np.var(ymc, ddof=1) * (k - 1) / k)
        w = 1 / (vi + tau2_0)
        P = _projection(X, w)
        rss = float(ymc @ P @ ymc)
        tau2 = max(0.0, tau2_0 * rss / (k - p))
        PV = P * vi  # P %*% diag(vi)
        se = np.sqrt(
            tau2_0**2
            / (k - p) ** 2
            * (2 * np.sum(PV * PV.T) + 4 * tau2 * np.sum(PV * P) + 2 * tau2**2 * np.sum(P * P))
        )
        return Tau2Estimate(tau2, float(se))

    # Hedges (HE) estimate: also the starting value for ML/REML/EB.
    P0 = np.eye(k) - X @ np.linalg.solve(X.T @ X, X.T)
    rss0 = float(ymc @ P0 @ ymc)
    PV0 = P0 * vi
    trPV0 = float(np.trace(PV0))
    tau2_he = (rss0 - trPV0) / (k - p)
    if method == "HE":
        tau2 = max(0.0, tau2_he)
        se = np.sqrt(
            1 / (k - p) ** 2 * (2 * np.sum(PV0 * PV0.T) + 4 * tau2 * trPV0 + 2 * tau2**2 * (k - p))
        )
        return Tau2Estimate(tau2, float(se))

    if method == "PM":
        target = k - p
        if generalised_q(0.0, ymc, vi, X) < target:
            tau2 = 0.0
        else:
            tau2_max = max(100.0, 10 * _mad(yi) ** 2)
            if generalised_q(tau2_max, ymc, vi, X) > target:
                raise ConvergenceError("Paule-Mandel: tau² above the search limit.")
            tau2 = brent_root(
                lambda t: generalised_q(t, ymc, vi, X) - target,
                0.0,
                tau2_max,
                xtol=UNIROOT_TOL,
                rtol=BRENT_RTOL,
                maxiter=MAXITER,
            )
        w = 1 / (vi + tau2)
        return Tau2Estimate(float(tau2), float(np.sqrt(2 * k**2 / (k - p) / w.sum() ** 2)))

    # ML, REML, EB by Fisher scoring (Viechtbauer 2005).
    tau2 = max(0.0, tau2_he)
    change = THRESHOLD + 1
    iteration = 0
    while change > THRESHOLD:
        iteration += 1
        old = tau2
        w = 1 / (vi + tau2)
        P = _projection(X, w)
        if method == "ML":
            adj = (ymc @ P @ P @ ymc - w.sum()) / np.sum(w**2)
        elif method == "REML":
            adj = (ymc @ P @ P @ ymc - np.trace(P)) / np.sum(P * P)
        else:
            adj = (ymc @ P @ ymc * k / (k - p) - k) / w.sum()
        adj = float(adj)
        while tau2 + adj < 0:
            adj /= 2
        tau2 = tau2 + adj
        change = abs(old - tau2)
        if iteration > MAXITER:
            raise ConvergenceError(f"Fisher scoring for {method} did not converge.")

    # metafor's ll0check: Fisher scoring can stop at a local maximum above a better tau²=0.
    if (
        method in ("ML", "REML")
        and tau2 > THRESHOLD
        and _loglik(0.0, yi, vi, X, method) - _loglik(tau2, yi, vi, X, method) > UNIROOT_TOL
    ):
        tau2 = 0.0

    w = 1 / (vi + tau2)
    if method == "ML":
        se = np.sqrt(2 / np.sum(w**2))
    elif method == "REML":
        P = _projection(X, w)
        se = np.sqrt(2 / np.sum(P * P))
    else:
        se = np.sqrt(2 * k**2 / (k - p) / w.sum() ** 2)
    return Tau2Estimate(float(tau2), float(se), iteration)


def _loglik(tau2: float, yi: np.ndarray, vi: np.ndarray, X: np.ndarray, method: str) -> float:
    """(Restricted) log-likelihood of the normal-normal model, as metafor's ll0check uses it."""
    k, p = X.shape
    w = 1 / (vi + tau2)
    XtW = X.T * w
    beta = np.linalg.solve(XtW @ X, XtW @ yi)
    rss = float(np.sum(w * (yi - X @ beta) ** 2))
    ll = -0.5 * np.sum(np.log(vi + tau2)) - 0.5 * rss
    if method == "ML":
        return float(ll - 0.5 * k * np.log(2 * np.pi))
    return float(ll - 0.5 * (k - p) * np.log(2 * np.pi) - 0.5 * np.linalg.slogdet(XtW @ X)[1])


def q_profile_ci(
    yi: np.ndarray, vi: np.ndarray, X: np.ndarray, tau2: float, level: float = 0.95
) -> tuple[float, float]:
    """Q-profile confidence interval for tau² (Viechtbauer 2007), as metafor ``confint.rma.uni()``.

    The bounds are the tau² values where the generalised Q equals the upper and lower
    chi²_{k-p} quantiles; a bound that would be negative is set to 0. Searched on
    [0, max(100, 10 tau²)] with uniroot's tolerance, as metafor does.
    """
    k, p = X.shape
    if k - p < 1:
        raise ValueError("The Q-profile interval needs more studies than model coefficients.")
    alpha = 1 - level
    crit_u = chi2_isf(alpha / 2, k - p)
    crit_l = chi2_ppf(alpha / 2, k - p)
    tau2_min, tau2_max = 0.0, max(100.0, 10 * tau2)

    def q(t: float) -> float:
        return generalised_q(t, yi, vi, X)

    def root(target: float) -> float:
        return float(
            brent_root(
                lambda t: q(t) - target,
                tau2_min,
                tau2_max,
                xtol=UNIROOT_TOL,
                rtol=BRENT_RTOL,
                maxiter=1000,
            )
        )

    q_min, q_max = q(tau2_min), q(tau2_max)
    if q_min < crit_l:
        upper = tau2_min
    elif q_max > crit_l:
        upper = tau2_max
    else:
        upper = root(crit_l)
    if q_max > crit_u:
        lower = upper = tau2_max
    elif q_min < crit_u:
        lower = tau2_min
    else:
        lower = root(crit_u)
    return lower, upper
