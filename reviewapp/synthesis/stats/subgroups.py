"""Subgroup analyses, meta-regression and leave-one-out sensitivity analysis."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats

from reviewapp.synthesis.stats.effect_sizes import EffectSizes
from reviewapp.synthesis.stats.loo import leave_one_out_fits, vectorisable
from reviewapp.synthesis.stats.pooling import pool, rma_uni
from reviewapp.synthesis.stats.results import PoolResult, clean

__all__ = [
    "LeaveOneOut",
    "MetaRegressionResult",
    "SubgroupResult",
    "factor_design",
    "leave_one_out",
    "meta_regression",
    "subgroup_analysis",
]


@dataclass(frozen=True)
class SubgroupResult:
    """Separate pooled results per subgroup and the test for subgroup differences.

    ``Q_between`` is Cochran's Q of the subgroup estimates with weights 1/se² (a common-effect
    model on the subgroup estimates), with G-1 degrees of freedom; in random-effects models
    tau² is estimated separately within each subgroup (RevMan 5 and R meta's default,
    ``tau.common=FALSE``; Borenstein et al. 2009, ch. 19; Cochrane Handbook 10.11.3.1).
    """

    groups: dict[str, PoolResult]
    overall: PoolResult
    Q_between: float
    df: int
    pval: float
    # metafor's test: QM of rma(yi, vi, mods = ~ factor(group)), one tau² for all subgroups
    # (None for Mantel-Haenszel and Peto, which have no moderator model).
    moderator_test: MetaRegressionResult | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "overall": self.overall.to_dict(),
            "groups": {name: res.to_dict() for name, res in self.groups.items()},
            "test_for_subgroup_differences": {
                "Q_between": self.Q_between,
                "df": self.df,
                "pval": self.pval,
                "definition": "Cochran Q of subgroup estimates, weights 1/se^2, df = G-1",
            },
        }
        if self.moderator_test is not None:
            m = self.moderator_test
            out["moderator_test"] = {
                "QM": m.QM,
                "QM_df": list(m.QM_df),
                "QM_p": m.QM_p,
                "tau2": m.tau2,
                "QE": m.QE,
                "QE_df": m.QE_df,
                "QE_p": m.QE_p,
                "R2": m.R2,
                "definition": "metafor rma(yi, vi, mods = ~ factor(group)): one common tau2",
            }
        return clean(out)


def subgroup_analysis(
    effects: EffectSizes,
    groups: Sequence[str],
    *,
    model: str = "random",
    method: str | None = None,
    hksj: bool = False,
    level: float = 0.95,
) -> SubgroupResult:
    """Pool within each subgroup and test whether the subgroup estimates differ.

    Test for subgroup differences as in RevMan 5 / R meta (see :class:`SubgroupResult`); the
    mixed-effects alternative with one common tau² is :func:`meta_regression` on
    :func:`factor_design` (metafor ``rma(yi, vi, mods = ~ factor(group))``).
    """
    groups = [str(g) for g in groups]
    if len(groups) != effects.k:
        raise ValueError(f"Got {len(groups)} subgroup labels for {effects.k} studies.")
    names = list(dict.fromkeys(groups))
    if len(names) < 2:
        raise ValueError("A subgroup analysis needs at least two subgroups.")
    labels = np.array(groups)
    results = {
        name: pool(
            effects.subset(labels == name), model=model, method=method, hksj=hksj, level=level
        )
        for name in names
    }
    est = np.array([r.estimate for r in results.values()])
    w = 1 / np.array([r.se for r in results.values()]) ** 2
    mu = np.sum(w * est) / w.sum()
    q_between = float(np.sum(w * (est - mu) ** 2))
    df = len(names) - 1
    overall = pool(effects, model=model, method=method, hksj=hksj, level=level)
    moderator_test = None
    name = (method or ("FE" if model.lower() in ("fixed", "common", "fe") else "REML")).upper()
    if name not in ("MH", "PETO"):
        X, columns = factor_design(groups)
        moderator_test = meta_regression(effects, X, columns, method=name, hksj=hksj, level=level)
    return SubgroupResult(
        groups=results,
        overall=overall,
        Q_between=q_between,
        df=df,
        pval=float(stats.chi2.sf(q_between, df)),
        moderator_test=moderator_test,
    )


def factor_design(groups: Sequence[str]) -> tuple[np.ndarray, list[str]]:
    """Intercept plus dummy columns for a categorical moderator (R treatment contrasts).

    The reference level is the first in sorted order, as R's ``factor()`` does.
    """
    groups = [str(g) for g in groups]
    levels = sorted(set(groups))
    columns = [np.ones(len(groups))]
    names = ["intrcpt"]
    for level in levels[1:]:
        columns.append(np.array([g == level for g in groups], dtype=float))
        names.append(level)
    return np.column_stack(columns), names


@dataclass(frozen=True)
class MetaRegressionResult:
    """Mixed-effects meta-regression (metafor ``rma(yi, vi, mods=...)``)."""

    names: list[str]
    beta: np.ndarray
    se: np.ndarray
    stat: np.ndarray
    pval: np.ndarray
    ci_lb: np.ndarray
    ci_ub: np.ndarray
    k: int
    method: str
    test: str
    tau2: float
    QM: float
    QM_df: tuple[int, ...]
    QM_p: float
    QE: float
    QE_df: int
    QE_p: float
    I2: float
    H2: float
    R2: float | None

    def to_dict(self) -> dict[str, Any]:
        return clean(
            {
                "k": self.k,
                "method": self.method,
                "test": self.test,
                "coefficients": [
                    {
                        "name": name,
                        "estimate": self.beta[i],
                        "se": self.se[i],
                        "tval" if self.test == "knha" else "zval": self.stat[i],
                        "pval": self.pval[i],
                        "ci_lb": self.ci_lb[i],
                        "ci_ub": self.ci_ub[i],
                    }
                    for i, name in enumerate(self.names)
                ],
                "tau2": self.tau2,
                "QM": self.QM,
                "QM_df": list(self.QM_df),
                "QM_p": self.QM_p,
                "QE": self.QE,
                "QE_df": self.QE_df,
                "QE_p": self.QE_p,
                "I2": self.I2,
                "H2": self.H2,
                "R2": self.R2,
            }
        )


def meta_regression(
    effects: EffectSizes,
    X: np.ndarray,
    names: Sequence[str] | None = None,
    *,
    method: str = "REML",
    hksj: bool = False,
    level: float = 0.95,
    btt: Sequence[int] | None = None,
) -> MetaRegressionResult:
    """Meta-regression of the effect sizes on the columns of ``X`` (first column: intercept).

    Model, omnibus test QM, residual heterogeneity QE, I² and H² as metafor ``rma.uni()``;
    pseudo-R² = max(0, 100 (tau²_RE - tau²_ME) / tau²_RE) (Raudenbush 2009; metafor's default
    ``r2def="1"``), with tau²_RE from the intercept-only model by the same method. ``btt``
    (0-based column numbers) restricts QM to those coefficients (metafor's ``btt``, 1-based). A
    common-effect ("FE") model has no tau²: its R² is, as metafor's, the adjusted R² of the
    weighted least-squares regression of yi on the moderators with weights 1/vi, in percent,
    floored at 0 (0 when all yi are equal).
    """
    X = np.asarray(X, dtype=float)
    test = "knha" if hksj else "z"
    fit = rma_uni(
        effects.yi,
        effects.vi,
        X,
        method=method,
        test=test,
        level=level,
        btt=None if btt is None else list(btt),
    )
    R2: float | None = None
    # As metafor: R² when the model is not intercept-only and the intercept-only model is
    # nested in it (a constant lies in the span of X, as with ~ 0 + factor(group)).
    ones = np.ones(X.shape[0])
    nested = np.allclose(X @ np.linalg.lstsq(X, ones, rcond=None)[0], ones)
    if nested and X.shape[1] != 1:
        if fit.method == "FE":
            R2 = _r2_common_effect(effects.yi, effects.vi, X)
        else:
            tau2_re = rma_uni(effects.yi, effects.vi, method=method, test=test).tau2
            R2 = 0.0 if tau2_re == 0 else max(0.0, 100 * (tau2_re - fit.tau2) / tau2_re)
    names = list(names) if names is not None else [f"x{i}" for i in range(X.shape[1])]
    return MetaRegressionResult(
        names=names,
        beta=fit.beta,
        se=fit.se,
        stat=fit.stat,
        pval=fit.pval,
        ci_lb=fit.ci_lb,
        ci_ub=fit.ci_ub,
        k=fit.k,
        method=fit.method,
        test=fit.test,
        tau2=fit.tau2,
        QM=fit.QM,
        QM_df=fit.QM_df,
        QM_p=fit.QM_p,
        QE=fit.QE,
        QE_df=fit.QE_df,
        QE_p=fit.QE_p,
        I2=fit.I2,
        H2=fit.H2,
        R2=R2,
    )


def _r2_common_effect(yi: np.ndarray, vi: np.ndarray, X: np.ndarray) -> float:
    """100 x adjusted R² of ``lm(yi ~ X, weights = 1/vi)``, floored at 0 (metafor, method FE)."""
    if np.var(yi) == 0:
        return 0.0
    w = 1 / vi
    k, p = X.shape
    if k - p <= 0:
        return 0.0
    beta = np.linalg.solve((X.T * w) @ X, (X.T * w) @ yi)
    rss = float(np.sum(w * (yi - X @ beta) ** 2))
    mean = float(np.sum(w * yi) / w.sum())
    tss = float(np.sum(w * (yi - mean) ** 2))
    adjusted = 1 - (rss / (k - p)) / (tss / (k - 1))
    return max(0.0, 100 * adjusted)


@dataclass(frozen=True)
class LeaveOneOut:
    """The pooled result with one study omitted, for each study (metafor ``leave1out()``).

    Inverse-variance results carry no per-study rows (``studies`` is empty): only the pooled
    values of each refit are reported.
    """

    omitted: tuple[str, ...]
    results: tuple[PoolResult, ...]

    def to_dict(self) -> dict[str, Any]:
        keys = ("estimate", "se", "ci_lb", "ci_ub", "pval", "Q", "Q_p", "tau2", "I2", "H2")
        rows = []
        for label, res in zip(self.omitted, self.results, strict=True):
            rows.append({"omitted": label, **{key: getattr(res, key) for key in keys}})
        return {"leave_one_out": clean(rows)}


def leave_one_out(
    effects: EffectSizes,
    *,
    model: str = "random",
    method: str | None = None,
    hksj: bool = False,
    level: float = 0.95,
) -> LeaveOneOut:
    """Refit the model k times, each time without one study (metafor ``leave1out()``).

    Inverse-variance models are refitted all at once by :mod:`.loo` (the same values as ``pool``
    on each subset, in O(k²) instead of O(k³)); Mantel-Haenszel, Peto and fewer than 3 studies
    take ``pool`` on each subset.
    """
    if effects.k < 2:
        raise ValueError("Leave-one-out needs at least two studies.")
    model = model.lower()
    if model in ("common", "fe"):
        model = "fixed"
    name = (method or ("FE" if model == "fixed" else "REML")).upper()
    if model in ("fixed", "random") and vectorisable(effects, model, name):
        if hksj and model != "random":
            raise ValueError("The HKSJ adjustment applies to random-effects models only.")
        fits = leave_one_out_fits(effects, model=model, method=name, hksj=hksj, level=level)
        return LeaveOneOut(omitted=effects.labels, results=fits)
    return LeaveOneOut(
        omitted=effects.labels,
        results=tuple(
            pool(
                effects.subset(np.arange(effects.k) != i),
                model=model,
                method=method,
                hksj=hksj,
                level=level,
                tau2_ci=False,
            )
            for i in range(effects.k)
        ),
    )
