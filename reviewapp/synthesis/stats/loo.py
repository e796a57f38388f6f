"""Leave-one-out refits of an intercept-only model, all k of them at once.

metafor ``leave1out()`` refits ``rma.uni()`` k times. Done literally (``pool`` on each subset) that
costs k fits of O(k²) each, because the estimators in :mod:`.tau2` are written for a general model
matrix X and build k x k projection matrices; at 1,000 studies that is minutes. With X a column of
ones every matrix expression there has a closed form in weighted sums (below, S = Σw and
ȳ_w = Σ w·y / S):

    y'Py = Σ w (y - ȳ_w)²                  tr(P) = S - Σw²/S
    y'PPy = Σ w² (y - ȳ_w)²                Σ P∘P = Σw² - 2 Σw³/S + (Σw²)²/S²
    Σ_ij P_ij² v_i v_j = Σ w²v² - 2 Σ w³v²/S + (Σ w²v)²/S²
    Σ_ij P_ij² v_j     = Σ w²v  - 2 Σ w³v/S  + Σw² · Σ w²v / S²

with P = W - w w'/S (and P = I - 11'/k for the Hedges estimator). The k subsets are the rows of a
k x (k-1) matrix, so each sum is one row-wise reduction. The iterative estimators keep metafor's
algorithm step for step: Fisher scoring for ML/REML/EB from the same Hedges start, with the same
step-halving, stopping rule and iteration limit, each subset stopping on its own; Paule-Mandel
by the same Brent search per subset. Nothing is warm-started from the full fit, since the
stopping rule (change < 1e-5) would then land elsewhere. So every value equals the naive
recomputation up to floating-point rounding (``tests/synthesis/test_leave_one_out.py`` checks
every estimator against ``pool`` on each subset).
"""

from __future__ import annotations

import numpy as np

from reviewapp.synthesis.stats import distributions as dist
from reviewapp.synthesis.stats.brent import brent_root
from reviewapp.synthesis.stats.effect_sizes import EffectSizes
from reviewapp.synthesis.stats.results import PoolResult
from reviewapp.synthesis.stats.tau2 import (
    BRENT_RTOL,
    MAXITER,
    TAU2_METHODS,
    THRESHOLD,
    UNIROOT_TOL,
    ConvergenceError,
)
from reviewapp.synthesis.stats.transforms import harmonic_mean

__all__ = ["leave_one_out_fits", "vectorisable"]


def vectorisable(effects: EffectSizes, model: str, method: str) -> bool:
    """Whether the closed forms apply: inverse-variance pooling of at least 3 valid studies."""
    return (
        effects.k >= 3
        and method in ("FE", *TAU2_METHODS)
        and (model == "random" or method == "FE")
        and bool(np.all(np.isfinite(effects.yi)))
        and bool(np.all(np.isfinite(effects.vi)))
        and bool(np.all(effects.vi > 0))
    )


class _Rows:
    """The k leave-one-out subsets as rows of (k, k-1) arrays, in the studies' own order."""

    def __init__(self, yi: np.ndarray, vi: np.ndarray):
        k = len(yi)
        # Row i holds every study but i, in order: column j is study j for j < i, j+1 after.
        cols = np.arange(k - 1)
        self.index = cols[None, :] + (cols[None, :] >= np.arange(k)[:, None])
        self.Y = yi[self.index]
        self.V = vi[self.index]
        self.m = k - 1
        # metafor centres y within each fit (rma.uni on the subset); the residuals are unchanged.
        self.Ymc = self.Y - self.Y.mean(axis=1, keepdims=True)


def _sums(W: np.ndarray, Ymc: np.ndarray) -> dict[str, np.ndarray]:
    S = W.sum(axis=1)
    ybar = (W * Ymc).sum(axis=1) / S
    R = Ymc - ybar[:, None]
    W2 = W * W
    sum_w2 = W2.sum(axis=1)
    return {
        "S": S,
        "sum_w2": sum_w2,
        "rss": (W * R * R).sum(axis=1),
        "yPPy": (W2 * R * R).sum(axis=1),
        "trP": S - sum_w2 / S,
        "sumPP": sum_w2 - 2 * (W2 * W).sum(axis=1) / S + sum_w2**2 / S**2,
    }


def _loglik(tau2: np.ndarray, Y: np.ndarray, V: np.ndarray, method: str) -> np.ndarray:
    """metafor's (restricted) log-likelihood on the raw y, per row (as tau2._loglik)."""
    m = Y.shape[1]
    W = 1 / (V + tau2[:, None])
    S = W.sum(axis=1)
    beta = (W * Y).sum(axis=1) / S
    rss = (W * (Y - beta[:, None]) ** 2).sum(axis=1)
    ll = -0.5 * np.log(V + tau2[:, None]).sum(axis=1) - 0.5 * rss
    if method == "ML":
        return ll - 0.5 * m * np.log(2 * np.pi)
    return ll - 0.5 * (m - 1) * np.log(2 * np.pi) - 0.5 * np.log(S)


def _generalised_q(t: float, ymc: np.ndarray, v: np.ndarray) -> float:
    w = 1 / (v + t)
    beta = np.sum(w * ymc) / np.sum(w)
    return float(np.sum(w * (ymc - beta) ** 2))


def _tau2(rows: _Rows, method: str) -> tuple[np.ndarray, np.ndarray]:
    """tau² and its standard error for every subset, as tau2.estimate_tau2 with X = 1."""
    Y, V, Ymc, m = rows.Y, rows.V, rows.Ymc, rows.m
    n = Y.shape[0]
    df = m - 1  # k - p on each subset

    if method in ("DL", "HS"):
        s = _sums(1 / V, Ymc)
        if method == "HS":
            tau2 = np.maximum(0.0, (s["rss"] - m) / s["S"])
            denom2 = s["S"] ** 2
        else:
            tau2 = np.maximum(0.0, (s["rss"] - df) / s["trP"])
            denom2 = s["trP"] ** 2
        se = np.sqrt(1 / denom2 * (2 * df + 4 * tau2 * s["trP"] + 2 * tau2**2 * s["sumPP"]))
        return tau2, se

    if method == "SJ":
        tau2_0 = np.var(Ymc, axis=1, ddof=1) * (m - 1) / m
        W = 1 / (V + tau2_0[:, None])
        s = _sums(W, Ymc)
        tau2 = np.maximum(0.0, tau2_0 * s["rss"] / df)
        W2 = W * W
        S = s["S"]
        w2v = (W2 * V).sum(axis=1)
        pvpv = (W2 * V * V).sum(axis=1) - 2 * (W2 * W * V * V).sum(axis=1) / S + w2v**2 / S**2
        pvp = w2v - 2 * (W2 * W * V).sum(axis=1) / S + s["sum_w2"] * w2v / S**2
        se = np.sqrt(tau2_0**2 / df**2 * (2 * pvpv + 4 * tau2 * pvp + 2 * tau2**2 * s["sumPP"]))
        return tau2, se

    # Hedges: P0 = I - 11'/m.
    centred = Ymc - Ymc.mean(axis=1, keepdims=True)
    rss0 = (centred * centred).sum(axis=1)
    trPV0 = (1 - 1 / m) * V.sum(axis=1)
    pv0pv0 = (1 - 2 / m) * (V * V).sum(axis=1) + V.sum(axis=1) ** 2 / m**2
    tau2_he = (rss0 - trPV0) / df
    if method == "HE":
        tau2 = np.maximum(0.0, tau2_he)
        se = np.sqrt(1 / df**2 * (2 * pv0pv0 + 4 * tau2 * trPV0 + 2 * tau2**2 * df))
        return tau2, se

    if method == "PM":
        tau2 = np.zeros(n)
        for i in range(n):
            ymc, v = Ymc[i], V[i]
            if _generalised_q(0.0, ymc, v) < df:
                continue
            mad = dist.mad_normal(Y[i])
            tau2_max = max(100.0, 10 * mad**2)
            if _generalised_q(tau2_max, ymc, v) > df:
                raise ConvergenceError("Paule-Mandel: tau² above the search limit.")

            def gap(t: float, ymc: np.ndarray = ymc, v: np.ndarray = v) -> float:
                return _generalised_q(t, ymc, v) - df

            tau2[i] = brent_root(
                gap,
                0.0,
                tau2_max,
                xtol=UNIROOT_TOL,
                rtol=BRENT_RTOL,
                maxiter=MAXITER,
            )
        S = (1 / (V + tau2[:, None])).sum(axis=1)
        return tau2, np.sqrt(2 * m**2 / df / S**2)

    # ML, REML, EB: Fisher scoring from the Hedges estimate, each subset stopping on its own.
    tau2 = np.maximum(0.0, tau2_he)
    active = np.arange(n)
    iteration = 0
    while active.size:
        iteration += 1
        old = tau2[active]
        s = _sums(1 / (V[active] + old[:, None]), Ymc[active])
        if method == "ML":
            adj = (s["yPPy"] - s["S"]) / s["sum_w2"]
        elif method == "REML":
            adj = (s["yPPy"] - s["trP"]) / s["sumPP"]
        else:
            adj = (s["rss"] * m / df - m) / s["S"]
        negative = old + adj < 0
        while negative.any():
            adj[negative] /= 2
            negative = old + adj < 0
        new = old + adj
        tau2[active] = new
        if iteration > MAXITER:
            raise ConvergenceError(f"Fisher scoring for {method} did not converge.")
        active = active[np.abs(old - new) > THRESHOLD]

    if method in ("ML", "REML"):
        # metafor's ll0check, as in tau2.estimate_tau2.
        check = tau2 > THRESHOLD
        if check.any():
            worse = (
                _loglik(np.zeros(int(check.sum())), Y[check], V[check], method)
                - _loglik(tau2[check], Y[check], V[check], method)
                > UNIROOT_TOL
            )
            tau2[np.flatnonzero(check)[worse]] = 0.0

    W = 1 / (V + tau2[:, None])
    if method == "ML":
        se = np.sqrt(2 / (W * W).sum(axis=1))
    elif method == "REML":
        se = np.sqrt(2 / _sums(W, Ymc)["sumPP"])
    else:
        se = np.sqrt(2 * m**2 / df / W.sum(axis=1) ** 2)
    return tau2, se


def leave_one_out_fits(
    effects: EffectSizes, *, model: str, method: str, hksj: bool, level: float
) -> tuple[PoolResult, ...]:
    """``pool(effects without study i, ..., tau2_ci=False)`` for every i, without its study rows.

    Only for what :func:`vectorisable` accepts; the per-study rows of each refit (a forest plot's
    worth, k times over) are left out, everything else is what ``pool`` returns.
    """
    rows = _Rows(np.asarray(effects.yi, dtype=float), np.asarray(effects.vi, dtype=float))
    Y, V, Ymc, m = rows.Y, rows.V, rows.Ymc, rows.m
    n = Y.shape[0]
    df = m - 1
    if method == "FE":
        tau2 = np.zeros(n)
        se_tau2: list[float | None] = [None] * n
    else:
        tau2, se_arr = _tau2(rows, method)
        se_tau2 = [float(x) for x in se_arr]

    # rma_uni with X = 1.
    W = 1 / (V + tau2[:, None])
    vb = 1 / W.sum(axis=1)
    beta = vb * (W * Y).sum(axis=1)
    test = "knha" if hksj else "z"
    alpha = 1 - level
    if test == "knha":
        rss = (W * (Y - beta[:, None]) ** 2).sum(axis=1)
        s2w = np.where(rss <= np.finfo(float).eps, 0.0, rss / df)
        vb = s2w * vb
        se = np.sqrt(vb)
        with np.errstate(divide="ignore", invalid="ignore"):
            stat = beta / se
        pval = 2 * dist.t_sf(np.abs(stat), df)
        crit = dist.t_isf(alpha / 2, df)
    else:
        se = np.sqrt(vb)
        with np.errstate(divide="ignore", invalid="ignore"):
            stat = beta / se
        pval = 2 * dist.norm_sf(np.abs(stat))
        crit = dist.norm_isf(alpha / 2)

    # Heterogeneity with fixed-effect weights, as rma_uni.
    fixed = _sums(1 / V, Ymc)
    QE = np.maximum(0.0, fixed["rss"])
    QE_p = dist.chi2_sf(QE, df)
    vt = df / fixed["trP"]
    if method == "FE":
        with np.errstate(divide="ignore", invalid="ignore"):
            I2 = np.where(QE > 0, np.maximum(0.0, 100 * (QE - df) / QE), 0.0)
        H2 = QE / df
    else:
        I2 = 100 * tau2 / (vt + tau2)
        H2 = tau2 / vt + 1

    pi_lb: list[float | None] = [None] * n
    pi_ub: list[float | None] = [None] * n
    if model == "random":
        # prediction_interval: z, or t with k-1 df under knha
        pi_crit = dist.t_isf(alpha / 2, df) if test == "knha" else dist.norm_isf(alpha / 2)
        half = pi_crit * np.sqrt(tau2 + se**2)
        pi_lb, pi_ub = [float(x) for x in beta - half], [float(x) for x in beta + half]

    transform_n: list[float | None] = [None] * n
    if effects.transform == "ipft":
        if effects.ni is None:
            raise ValueError("Freeman-Tukey proportions need the sample sizes.")
        ni = np.asarray(effects.ni)
        transform_n = [harmonic_mean(ni[rows.index[i]]) for i in range(n)]

    ci_lb, ci_ub = beta - crit * se, beta + crit * se
    return tuple(
        PoolResult(
            measure=effects.measure,
            model=model,
            method=method,
            test=test,
            level=level,
            k=m,
            estimate=float(beta[i]),
            se=float(se[i]),
            ci_lb=float(ci_lb[i]),
            ci_ub=float(ci_ub[i]),
            stat=float(stat[i]),
            df=df if test == "knha" else None,
            pval=float(pval[i]),
            tau2=float(tau2[i]),
            se_tau2=se_tau2[i],
            tau2_ci_lb=None,
            tau2_ci_ub=None,
            I2=float(I2[i]),
            H2=float(H2[i]),
            I2_ci_lb=None,
            I2_ci_ub=None,
            H2_ci_lb=None,
            H2_ci_ub=None,
            Q=float(QE[i]),
            Q_df=df,
            Q_p=float(QE_p[i]),
            pi_lb=pi_lb[i],
            pi_ub=pi_ub[i],
            vt=float(vt[i]),
            transform=effects.transform,
            transform_n=transform_n[i],
            studies=(),
            excluded=effects.excluded,
        )
        for i in range(n)
    )
