"""Small-study effects: Egger's regression test and the Begg-Mazumdar rank correlation test."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats

from reviewapp.synthesis.stats.effect_sizes import EffectSizes
from reviewapp.synthesis.stats.pooling import rma_uni
from reviewapp.synthesis.stats.results import clean

__all__ = ["RankTestResult", "RegressionTestResult", "rank_correlation_test", "regression_test"]


@dataclass(frozen=True)
class RegressionTestResult:
    """Test of the standard-error slope; ``stat`` is z, or t with ``df`` degrees of freedom."""

    model: str
    method: str
    stat: float
    stat_name: str
    df: int | None
    pval: float
    slope: float
    slope_se: float
    limit_estimate: float
    limit_ci_lb: float
    limit_ci_ub: float

    def to_dict(self) -> dict[str, Any]:
        return clean(self.__dict__)


def regression_test(
    effects: EffectSizes,
    *,
    model: str = "rma",
    method: str = "REML",
    hksj: bool = False,
    level: float = 0.95,
) -> RegressionTestResult:
    """Regression test for funnel-plot asymmetry with the standard error as predictor.

    ``model="rma"`` is metafor ``regtest()``'s default: a (mixed-effects) meta-regression of
    yi on sei with the given tau² ``method`` ("FE" for a common-effect model), z-test (t with
    ``hksj``). ``model="lm"`` is the classic test of Egger et al. (1997): weighted least squares
    of yi on sei with weights 1/vi and a multiplicative dispersion term, t-test with k-2 df
    (the slope equals the intercept of Egger's regression of yi/sei on 1/sei). The limit
    estimate is the intercept, the predicted effect for a study with SE 0.
    """
    k = effects.k
    if k < 3:
        raise ValueError("The regression test needs at least 3 studies.")
    sei = np.sqrt(effects.vi)
    X = np.column_stack([np.ones(k), sei])
    if model == "rma":
        fit = rma_uni(
            effects.yi, effects.vi, X, method=method, test="knha" if hksj else "z", level=level
        )
        return RegressionTestResult(
            model="rma",
            method=fit.method,
            stat=float(fit.stat[1]),
            stat_name="t" if fit.ddf is not None else "z",
            df=fit.ddf,
            pval=float(fit.pval[1]),
            slope=float(fit.beta[1]),
            slope_se=float(fit.se[1]),
            limit_estimate=float(fit.beta[0]),
            limit_ci_lb=float(fit.ci_lb[0]),
            limit_ci_ub=float(fit.ci_ub[0]),
        )
    if model != "lm":
        raise ValueError("model must be 'rma' or 'lm'.")
    w = 1 / effects.vi
    XtW = X.T * w
    cov_unscaled = np.linalg.inv(XtW @ X)
    beta = cov_unscaled @ XtW @ effects.yi
    df = k - 2
    sigma2 = float(np.sum(w * (effects.yi - X @ beta) ** 2) / df)
    se = np.sqrt(np.diag(cov_unscaled) * sigma2)
    t = beta / se
    crit = stats.t.isf((1 - level) / 2, df)
    return RegressionTestResult(
        model="lm",
        method="WLS",
        stat=float(t[1]),
        stat_name="t",
        df=df,
        pval=float(2 * stats.t.sf(abs(t[1]), df)),
        slope=float(beta[1]),
        slope_se=float(se[1]),
        limit_estimate=float(beta[0]),
        limit_ci_lb=float(beta[0] - crit * se[0]),
        limit_ci_ub=float(beta[0] + crit * se[0]),
    )


@dataclass(frozen=True)
class RankTestResult:
    tau: float
    pval: float
    exact: bool

    def to_dict(self) -> dict[str, Any]:
        return clean(self.__dict__)


def rank_correlation_test(effects: EffectSizes) -> RankTestResult:
    """Rank correlation test of Begg & Mazumdar (1994), as metafor ``ranktest()``.

    Kendall's tau between the standardised deviates (yi - mu_FE)/sqrt(vi - 1/sum(w)) and the
    variances vi; the exact null distribution is used when there are no ties (R ``cor.test``
    with ``exact=TRUE``), the normal approximation otherwise.
    """
    if effects.k < 3:
        raise ValueError("The rank correlation test needs at least 3 studies.")
    w = 1 / effects.vi
    theta = np.sum(w * effects.yi) / w.sum()
    vstar = effects.vi - 1 / w.sum()
    ystar = (effects.yi - theta) / np.sqrt(vstar)
    ties = len(np.unique(ystar)) < len(ystar) or len(np.unique(effects.vi)) < len(effects.vi)
    exact = not ties
    res = stats.kendalltau(ystar, effects.vi, method="exact" if exact else "asymptotic")
    return RankTestResult(tau=float(res.statistic), pval=float(res.pvalue), exact=exact)
