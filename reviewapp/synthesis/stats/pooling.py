"""Pooling: inverse-variance common- and random-effects models, Mantel-Haenszel and Peto.

The inverse-variance models follow metafor ``rma.uni()`` (Viechtbauer 2010, J Stat Softw 36(3)),
including the Hartung-Knapp(-Sidik-Jonkman) adjustment (``test="knha"``; Hartung & Knapp 2001,
Sidik & Jonkman 2002), heterogeneity statistics (Cochran's Q; I² and H² of Higgins & Thompson
2002, with metafor's tau²-based definitions for random-effects models) and prediction intervals
as metafor ``predict.rma()``. Mantel-Haenszel and Peto follow ``rma.mh()`` and ``rma.peto()``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from reviewapp.synthesis.stats import distributions as dist
from reviewapp.synthesis.stats.effect_sizes import BINARY_MEASURES, EffectSizes
from reviewapp.synthesis.stats.results import PoolResult, StudyRow
from reviewapp.synthesis.stats.tau2 import TAU2_METHODS, estimate_tau2, q_profile_ci
from reviewapp.synthesis.stats.transforms import back_transform, harmonic_mean

__all__ = [
    "POOLING_METHODS",
    "RmaFit",
    "i2_ci_higgins_thompson",
    "mantel_haenszel",
    "peto",
    "pool",
    "prediction_interval",
    "random_effects_mh_dl",
    "rma_uni",
]

POOLING_METHODS = ("FE", "MH", "PETO", *TAU2_METHODS)


@dataclass(frozen=True)
class RmaFit:
    """A fitted (mixed-effects) meta-regression, intercept-only or not (metafor ``rma.uni``)."""

    method: str
    test: str
    level: float
    k: int
    p: int
    beta: np.ndarray
    vb: np.ndarray
    se: np.ndarray
    stat: np.ndarray
    pval: np.ndarray
    ci_lb: np.ndarray
    ci_ub: np.ndarray
    ddf: int | None
    tau2: float
    se_tau2: float | None
    QE: float
    QE_df: int
    QE_p: float
    QM: float
    QM_df: tuple[int, ...]
    QM_p: float
    I2: float
    H2: float
    vt: float
    weights: np.ndarray  # model weights, percent


def _design(k: int, X: np.ndarray | None) -> np.ndarray:
    if X is None:
        return np.ones((k, 1))
    X = np.asarray(X, dtype=float)
    if X.ndim == 1:
        X = X[:, None]
    if X.shape[0] != k:
        raise ValueError(f"Model matrix has {X.shape[0]} rows for {k} studies.")
    return X


def rma_uni(
    yi: np.ndarray,
    vi: np.ndarray,
    X: np.ndarray | None = None,
    *,
    method: str = "REML",
    test: str = "z",
    level: float = 0.95,
    btt: list[int] | None = None,
) -> RmaFit:
    """Fit metafor's normal-normal (mixed-effects) model by weighted least squares.

    ``X`` is the full model matrix including the intercept column (default: intercept only).
    ``method`` is "FE" or a tau² estimator (see :mod:`.tau2`); ``test`` is "z" or "knha".
    Follows metafor ``rma.uni()``: beta = (X'WX)^-1 X'Wy with W = 1/(vi+tau²); with "knha" the
    covariance is scaled by RSS/(k-p) and t_{k-p} is used (Hartung & Knapp 2001); the omnibus
    QM tests all coefficients except the intercept (F-test with "knha"); QE, I² and H² as in
    metafor (Q-based I² for "FE", 100 tau²/(tau²+s²) otherwise, s² = (k-p)/tr(P)).
    """
    yi = np.asarray(yi, dtype=float)
    vi = np.asarray(vi, dtype=float)
    k = len(yi)
    if k == 0:
        raise ValueError("No studies to pool.")
    if np.any(vi <= 0):
        raise ValueError("All sampling variances must be positive.")
    X = _design(k, X)
    p = X.shape[1]
    method = method.upper()
    if method not in ("FE", *TAU2_METHODS):
        raise ValueError(f"Unknown method {method!r}; use FE or one of {TAU2_METHODS}.")
    if test not in ("z", "knha"):
        raise ValueError("test must be 'z' or 'knha'.")
    if np.linalg.matrix_rank(X) < p:
        raise ValueError("Model matrix is not of full rank.")
    if k == 1:
        # metafor: tau² = 0 and the z-test, whatever was asked for.
        test = "z"
    elif method == "FE":
        if p > k:
            raise ValueError("More coefficients than studies.")
    elif p + 1 > k:
        raise ValueError("Too few studies to estimate tau² alongside the coefficients.")

    se_tau2: float | None = None
    if method == "FE" or k == 1:
        tau2 = 0.0
    else:
        est = estimate_tau2(yi, vi, X, method)
        tau2, se_tau2 = est.tau2, est.se_tau2

    w = 1 / (vi + tau2)
    XtW = X.T * w
    vb = np.linalg.inv(XtW @ X)
    beta = vb @ XtW @ yi
    if test == "knha":
        rss = float(np.sum(w * (yi - X @ beta) ** 2))
        # metafor sets the scale to 0 when all yi are equal rather than dividing noise
        s2w = 0.0 if rss <= np.finfo(float).eps else rss / (k - p)
        vb = s2w * vb
        ddf: int | None = k - p
    else:
        ddf = None
    se = np.sqrt(np.diag(vb))
    with np.errstate(divide="ignore", invalid="ignore"):
        stat = beta / se
    alpha = 1 - level
    if ddf is not None:
        pval = 2 * dist.t_sf(np.abs(stat), ddf)
        crit = dist.t_isf(alpha / 2, ddf)
    else:
        pval = 2 * dist.norm_sf(np.abs(stat))
        crit = dist.norm_isf(alpha / 2)

    # Omnibus test of the moderators (all but an intercept in the first column), or of the
    # coefficients ``btt`` (0-based; metafor's btt is 1-based).
    if btt is None:
        btt = list(range(1, p)) if p > 1 and np.allclose(X[:, 0], 1) else list(range(p))
    elif not btt or any(not 0 <= b < p for b in btt):
        raise ValueError(f"btt must name coefficients 0..{p - 1}.")
    b_sub = beta[btt]
    QM = float(b_sub @ np.linalg.solve(vb[np.ix_(btt, btt)], b_sub)) if np.all(se > 0) else np.nan
    m = len(btt)
    if ddf is not None:
        QM /= m
        QM_df: tuple[int, ...] = (m, ddf)
        QM_p = float(dist.f_sf(QM, m, ddf))
    else:
        QM_df = (m,)
        QM_p = float(dist.chi2_sf(QM, m))

    if k > p:
        wf = 1 / vi
        XtWf = X.T * wf
        P = np.diag(wf) - XtWf.T @ np.linalg.solve(XtWf @ X, XtWf)
        ymc = yi - yi.mean()
        QE = max(0.0, float(ymc @ P @ ymc))
        QE_p = float(dist.chi2_sf(QE, k - p))
        vt = (k - p) / float(np.trace(P))
        if method == "FE":
            I2 = max(0.0, 100 * (QE - (k - p)) / QE) if QE > 0 else 0.0
            H2 = QE / (k - p)
        else:
            I2 = 100 * tau2 / (vt + tau2)
            H2 = tau2 / vt + 1
    else:
        QE, QE_p, I2, H2, vt = 0.0, 1.0, 0.0, 1.0, 0.0

    return RmaFit(
        method=method,
        test=test,
        level=level,
        k=k,
        p=p,
        beta=beta,
        vb=vb,
        se=se,
        stat=stat,
        pval=pval,
        ci_lb=beta - crit * se,
        ci_ub=beta + crit * se,
        ddf=ddf,
        tau2=tau2,
        se_tau2=se_tau2,
        QE=QE,
        QE_df=k - p,
        QE_p=QE_p,
        QM=QM,
        QM_df=QM_df,
        QM_p=QM_p,
        I2=I2,
        H2=H2,
        vt=vt,
        weights=100 * w / w.sum(),
    )


def prediction_interval(
    estimate: float, se: float, tau2: float, k: int, *, kind: str = "z", level: float = 0.95
) -> tuple[float, float]:
    """Prediction interval for the effect in a new study: estimate ± crit·sqrt(tau² + se²).

    ``kind="z"``: normal quantile (metafor ``predict.rma`` with test="z");
    ``"t_km1"``: t with k-1 df (metafor with test="knha", where ``se`` is the HKSJ SE; also
    R meta >= 8 default); ``"t_km2"``: t with k-2 df (Higgins, Thompson & Spiegelhalter 2009;
    Riley et al. 2011).
    """
    alpha = 1 - level
    if kind == "z":
        crit = dist.norm_isf(alpha / 2)
    elif kind == "t_km1":
        crit = dist.t_isf(alpha / 2, k - 1)
    elif kind == "t_km2":
        if k < 3:
            raise ValueError("The k-2 prediction interval needs at least 3 studies.")
        crit = dist.t_isf(alpha / 2, k - 2)
    else:
        raise ValueError("kind must be 'z', 't_km1' or 't_km2'.")
    half = crit * np.sqrt(tau2 + se**2)
    return float(estimate - half), float(estimate + half)


def i2_ci_higgins_thompson(q: float, k: int, level: float = 0.95) -> tuple[float, float]:
    """Test-based CI for I² from the CI of ln H (Higgins & Thompson 2002, eqs. in appendix).

    SE(ln H) = (ln Q - ln(k-1)) / (2 (sqrt(2Q) - sqrt(2k-3))) when Q > k, otherwise
    sqrt(1/(2(k-2)) (1 - 1/(3(k-2)²))). This is R meta's default I² interval, not metafor's.
    """
    if k < 3:
        raise ValueError("The Higgins-Thompson interval needs at least 3 studies.")
    df = k - 1
    h = np.sqrt(max(q / df, 1.0))
    if q > k:
        se = 0.5 * (np.log(q) - np.log(df)) / (np.sqrt(2 * q) - np.sqrt(2 * k - 3))
    else:
        se = np.sqrt(1 / (2 * (k - 2)) * (1 - 1 / (3 * (k - 2) ** 2)))
    z = dist.norm_isf((1 - level) / 2)
    lo = np.exp(np.log(h) - z * se)
    hi = np.exp(np.log(h) + z * se)

    def to_i2(h: float) -> float:
        return float(max(0.0, 100 * (h**2 - 1) / h**2))

    return to_i2(lo), to_i2(hi)


def _transform_n(effects: EffectSizes) -> float | None:
    if effects.transform == "ipft":
        if effects.ni is None:
            raise ValueError("Freeman-Tukey proportions need the sample sizes.")
        return harmonic_mean(effects.ni)
    return None


def _study_rows(
    effects: EffectSizes, weights: np.ndarray, level: float, yi=None, vi=None
) -> tuple[StudyRow, ...]:
    yi = effects.yi if yi is None else yi
    vi = effects.vi if vi is None else vi
    sei = np.sqrt(vi)
    z = dist.norm_isf((1 - level) / 2)
    lb, ub = yi - z * sei, yi + z * sei
    # Study rows use each study's own n (metafor transf.ipft); pooled values use the harmonic mean.
    n = effects.ni if effects.transform == "ipft" else None
    bt = [back_transform(v, effects.transform, n) for v in (yi, lb, ub)]
    return tuple(
        StudyRow(
            label=effects.labels[i],
            yi=float(yi[i]),
            vi=float(vi[i]),
            sei=float(sei[i]),
            ci_lb=float(lb[i]),
            ci_ub=float(ub[i]),
            weight=float(weights[i]),
            yi_bt=float(bt[0][i]),
            ci_lb_bt=float(bt[1][i]),
            ci_ub_bt=float(bt[2][i]),
        )
        for i in range(len(yi))
    )


def pool(
    effects: EffectSizes,
    *,
    model: str = "random",
    method: str | None = None,
    hksj: bool = False,
    level: float = 0.95,
    tau2_ci: bool = True,
) -> PoolResult:
    """Pool study effect sizes.

    ``model="fixed"`` with ``method`` "FE" (inverse variance, default), "MH" (Mantel-Haenszel,
    OR/RR/RD only) or "PETO" (OR only); ``model="random"`` with a tau² estimator ("REML" by
    default, as metafor; or DL, PM, ML, SJ, HE, HS, EB), optionally with the
    Hartung-Knapp-Sidik-Jonkman adjustment (``hksj=True``, metafor ``test="knha"``).
    Random-effects results carry the Q-profile CI of tau² (metafor ``confint.rma.uni``) and the
    I²/H² bounds derived from it, and metafor's default prediction interval.
    """
    model = model.lower()
    if model in ("common", "fe"):
        model = "fixed"
    if model not in ("fixed", "random"):
        raise ValueError("model must be 'fixed' or 'random'.")
    if method is None:
        method = "FE" if model == "fixed" else "REML"
    method = method.upper()
    if model == "fixed":
        if method not in ("FE", "MH", "PETO"):
            raise ValueError(f"Method {method} is a random-effects method; use model='random'.")
        if hksj:
            raise ValueError("The HKSJ adjustment applies to random-effects models only.")
        if method == "MH":
            return mantel_haenszel(effects, level=level)
        if method == "PETO":
            return peto(effects, level=level)
    elif method not in TAU2_METHODS:
        raise ValueError(
            f"Method {method} is not a tau² estimator; use one of {', '.join(TAU2_METHODS)}."
        )

    test = "knha" if hksj else "z"
    fit = rma_uni(effects.yi, effects.vi, method=method, test=test, level=level)
    k = fit.k
    estimate, se = float(fit.beta[0]), float(fit.se[0])

    notes: tuple[str, ...] = ()
    if hksj and fit.test != "knha":
        notes = (
            "HKSJ adjustment not applied: it needs at least 2 studies; the z-test is used "
            "(as metafor does for k = 1).",
        )
    tau2_lb = tau2_ub = None
    i2_lb = i2_ub = h2_lb = h2_ub = None
    pi_lb = pi_ub = None
    if model == "random":
        kind = "t_km1" if fit.test == "knha" else "z"
        pi_lb, pi_ub = prediction_interval(estimate, se, fit.tau2, k, kind=kind, level=level)
        if tau2_ci and k > 1:
            X = np.ones((k, 1))
            tau2_lb, tau2_ub = q_profile_ci(effects.yi, effects.vi, X, fit.tau2, level)
            i2_lb, i2_ub = (100 * t / (fit.vt + t) for t in (tau2_lb, tau2_ub))
            h2_lb, h2_ub = (t / fit.vt + 1 for t in (tau2_lb, tau2_ub))

    return PoolResult(
        measure=effects.measure,
        model=model,
        method=method,
        test=fit.test,
        level=level,
        k=k,
        estimate=estimate,
        se=se,
        ci_lb=float(fit.ci_lb[0]),
        ci_ub=float(fit.ci_ub[0]),
        stat=float(fit.stat[0]),
        df=fit.ddf,
        pval=float(fit.pval[0]),
        tau2=fit.tau2,
        se_tau2=fit.se_tau2,
        tau2_ci_lb=tau2_lb,
        tau2_ci_ub=tau2_ub,
        I2=fit.I2,
        H2=fit.H2,
        I2_ci_lb=i2_lb,
        I2_ci_ub=i2_ub,
        H2_ci_lb=h2_lb,
        H2_ci_ub=h2_ub,
        Q=fit.QE,
        Q_df=fit.QE_df,
        Q_p=fit.QE_p,
        pi_lb=pi_lb,
        pi_ub=pi_ub,
        vt=fit.vt,
        transform=effects.transform,
        transform_n=_transform_n(effects),
        studies=_study_rows(effects, fit.weights, level),
        excluded=effects.excluded,
        notes=notes,
    )


def _tables(effects: EffectSizes, method: str) -> tuple[np.ndarray, ...]:
    if effects.measure not in BINARY_MEASURES or effects.tables is None:
        raise ValueError(f"{method} pooling needs 2x2 counts (measure OR, RR or RD).")
    t = effects.tables
    return t[:, 0], t[:, 1], t[:, 2], t[:, 3]


def _q_fixed(yi: np.ndarray, vi: np.ndarray, beta: float) -> tuple[float, int, float, float, float]:
    """Q around a given pooled value with inverse-variance weights, as metafor rma.mh/rma.peto."""
    k = len(yi)
    if k > 1:
        Q = max(0.0, float(np.sum((yi - beta) ** 2 / vi)))
        Q_p = float(dist.chi2_sf(Q, k - 1))
        I2 = max(0.0, 100 * (Q - (k - 1)) / Q) if Q > 0 else 0.0
        H2 = Q / (k - 1)
        return Q, k - 1, Q_p, I2, H2
    return 0.0, 0, 1.0, 0.0, 1.0


def _fixed_result(
    effects: EffectSizes,
    method: str,
    beta: float,
    se: float,
    level: float,
    Q_stats: tuple[float, int, float, float, float],
    weights: np.ndarray,
    extra: dict | None = None,
    rows: tuple[StudyRow, ...] | None = None,
) -> PoolResult:
    # A risk difference from studies without any events is exactly 0 with SE 0 (metafor returns
    # it so, with z and p NA): no test, not a division by zero.
    z = beta / se if se > 0 else float("nan")
    crit = dist.norm_isf((1 - level) / 2)
    Q, Q_df, Q_p, I2, H2 = Q_stats
    return PoolResult(
        measure=effects.measure,
        model="fixed",
        method=method,
        test="z",
        level=level,
        k=effects.k,
        estimate=beta,
        se=se,
        ci_lb=beta - crit * se,
        ci_ub=beta + crit * se,
        stat=z,
        df=None,
        pval=float(2 * dist.norm_sf(abs(z))) if se > 0 else float("nan"),
        tau2=0.0,
        se_tau2=None,
        tau2_ci_lb=None,
        tau2_ci_ub=None,
        I2=I2,
        H2=H2,
        I2_ci_lb=None,
        I2_ci_ub=None,
        H2_ci_lb=None,
        H2_ci_ub=None,
        Q=Q,
        Q_df=Q_df,
        Q_p=Q_p,
        pi_lb=None,
        pi_ub=None,
        vt=None,
        transform=effects.transform,
        studies=rows if rows is not None else _study_rows(effects, weights, level),
        excluded=effects.excluded,
        extra=extra or {},
        notes=(
            ()
            if se > 0
            else ("The standard error is 0 (no events in any study): no test, z and p are NA.",)
        ),
    )


def mantel_haenszel(
    effects: EffectSizes, *, level: float = 0.95, correct: bool = True
) -> PoolResult:
    """Mantel-Haenszel common-effect pooling of 2x2 tables, as metafor ``rma.mh()``.

    OR: Mantel & Haenszel (1959) with the Robins, Breslow & Greenland (1986) variance, plus the
    Cochran-Mantel-Haenszel test (with continuity correction unless ``correct=False``) and
    Tarone's (1985) heterogeneity
    test. RR: Greenland & Robins (1985) variance. RD: estimate of Greenland & Robins (1985) with
    the variance of Sato, Greenland & Robins (1989), which is what metafor uses.
    No continuity correction is applied to the counts (metafor ``to[2]="none"``); Q, I² and H²
    are around the MH estimate with inverse-variance weights from the corrected yi/vi.
    """
    measure = effects.measure
    ai, bi, ci, di = _tables(effects, "Mantel-Haenszel")
    n1, n2 = ai + bi, ci + di
    N = n1 + n2
    extra: dict = {}
    if measure == "OR":
        P = ai / N + di / N
        Qc = bi / N + ci / N
        R = ai / N * di
        S = bi / N * ci
        Rs, Ss = R.sum(), S.sum()
        if Rs == 0 or Ss == 0:
            raise ValueError("The Mantel-Haenszel OR is not estimable (no events in one arm).")
        beta_exp = Rs / Ss
        beta = float(np.log(beta_exp))
        se = float(
            np.sqrt(
                0.5
                * (
                    np.sum(P * R) / Rs**2
                    + np.sum(P * S + Qc * R) / (Rs * Ss)
                    + np.sum(Qc * S) / Ss**2
                )
            )
        )
        xt, yt = ai + ci, bi + di
        num = (abs(np.sum(ai - n1 / N * xt)) - (0.5 if correct else 0.0)) ** 2
        # metafor (>= 4.0) prints "CMH" for the Cochran-Mantel-Haenszel statistic with the
        # conditional (hypergeometric) variance, divisor N-1, and reports the one with divisor N
        # as Cochran's statistic (res$CO); metafor 3.8 printed the latter as "CMH".
        cochran = float(num / np.sum(n1 / N * (n2 / N) * (xt * (yt / N))))
        cmh = float(num / np.sum(n1 / N * (n2 / N) * (xt * (yt / (N - 1)))))
        extra["CMH"] = cmh
        extra["CMH_p"] = float(dist.chi2_sf(cmh, 1))
        extra["Cochran"] = cochran
        extra["Cochran_p"] = float(dist.chi2_sf(cochran, 1))
        extra.update(_tarone(ai, n1, n2, N, xt, yt, beta_exp))
        weights = bi / N * ci
    elif measure == "RR":
        R = np.sum(ai * (n2 / N))
        S = np.sum(ci * (n1 / N))
        if ai.sum() == 0 or ci.sum() == 0:
            raise ValueError("The Mantel-Haenszel RR is not estimable (no events in one arm).")
        beta = float(np.log(R / S))
        se = float(np.sqrt(np.sum(n1 / N * (n2 / N) * (ai + ci) - ai / N * ci) / (R * S)))
        weights = ci / N * n1
    else:
        denom = np.sum(n1 * (n2 / N))
        beta = float(np.sum(ai * (n2 / N) - ci * (n1 / N)) / denom)
        se = float(
            np.sqrt(
                (
                    beta
                    * np.sum(
                        ci * (n1 / N) ** 2 - ai * (n2 / N) ** 2 + n1 / N * (n2 / N) * (n2 - n1) / 2
                    )
                    + np.sum(ai * (n2 - ci) / N + ci * (n1 - ai) / N) / 2
                )
                / denom**2
            )
        )
        weights = n1 / N * n2
    weights = 100 * weights / weights.sum()
    rows = np.asarray(effects.table_rows, dtype=int)
    row_weights = weights[rows]
    # metafor's rma.mh computes Q without the studies with no (or only) events in both arms,
    # which for RD are otherwise kept.
    double_zero = ((ai == 0) & (ci == 0)) | ((bi == 0) & (di == 0))
    q_mask = ~double_zero[rows]
    Q_stats = _q_fixed(effects.yi[q_mask], effects.vi[q_mask], beta)
    return _fixed_result(effects, "MH", beta, se, level, Q_stats, row_weights, extra)


def _tarone(ai, n1, n2, N, xt, yt, psi) -> dict:
    """Breslow-Day statistic with Tarone's (1985) correction, as metafor ``rma.mh()``."""
    if psi == 1:
        N11 = n1 / N * xt
    else:
        A = psi * (n1 + xt) + (n2 - xt)
        B = np.sqrt(A**2 - 4 * n1 * xt * psi * (psi - 1))
        N11 = (A - B) / (2 * (psi - 1))
    pos = (N11 > 0) & (xt > 0) & (yt > 0)
    N11 = N11[pos]
    N12 = n1[pos] - N11
    N21 = xt[pos] - N11
    N22 = N11 - n1[pos] - xt[pos] + N[pos]
    inv = 1 / (1 / N11 + 1 / N12 + 1 / N21 + 1 / N22)
    dev = ai[pos] - N11
    bd = max(0.0, float(np.sum(dev**2 / inv)))
    ta = max(0.0, float(bd - np.sum(dev) ** 2 / np.sum(inv)))
    kpos = int(pos.sum())
    out = {"BreslowDay": bd, "Tarone": ta}
    if kpos > 1:
        out["BreslowDay_p"] = float(dist.chi2_sf(bd, kpos - 1))
        out["Tarone_p"] = float(dist.chi2_sf(ta, kpos - 1))
    return out


def peto(effects: EffectSizes, *, level: float = 0.95) -> PoolResult:
    """Peto's one-step odds ratio (Yusuf et al. 1985), as metafor ``rma.peto()``.

    log OR = sum(O - E) / sum(V), SE = 1/sqrt(sum V), with O = a, E = (a+c) n1/N,
    V = (a+c)(b+d) n1 n2 / (N² (N-1)); Q = sum((O-E)²/V) - (sum(O-E))²/sum V.
    Study rows show each study's Peto log OR (O-E)/V with variance 1/V.
    """
    if effects.measure != "OR":
        raise ValueError("Peto's method is for odds ratios (measure OR).")
    ai, bi, ci, di = _tables(effects, "Peto")
    mask = np.zeros(len(effects.table_labels), dtype=bool)
    mask[list(effects.table_rows)] = True
    ai, bi, ci, di = ai[mask], bi[mask], ci[mask], di[mask]
    n1, n2 = ai + bi, ci + di
    N = n1 + n2
    xt, yt = ai + ci, bi + di
    E = xt * n1 / N
    V = xt * yt * (n1 / N) * (n2 / N) / (N - 1)
    beta = float(np.sum(ai - E) / np.sum(V))
    se = float(np.sqrt(1 / np.sum(V)))
    yi, vi = (ai - E) / V, 1 / V
    rows_effects = EffectSizes(
        measure="OR",
        labels=tuple(lab for lab, m in zip(effects.table_labels, mask, strict=True) if m),
        yi=yi,
        vi=vi,
        transform="exp",
    )
    rows = _study_rows(rows_effects, 100 * V / V.sum(), level)
    return _fixed_result(effects, "PETO", beta, se, level, _q_fixed(yi, vi, beta), V, rows=rows)


def random_effects_mh_dl(effects: EffectSizes, *, level: float = 0.95) -> PoolResult:
    """RevMan 5 random-effects model for dichotomous data with Mantel-Haenszel.

    tau² by DerSimonian-Laird from Q computed around the Mantel-Haenszel estimate (R meta's
    ``Q.Cochrane=TRUE``; Deeks, Higgins & Altman, Cochrane Handbook 10.4.4 / RevMan 5
    statistical algorithms), then inverse-variance random-effects pooling of the study
    estimates. I² is Q-based. Not validated against RevMan itself.
    """
    mh = mantel_haenszel(effects, level=level)
    w = 1 / effects.vi
    k = effects.k
    Q = mh.Q
    tau2 = max(0.0, (Q - (k - 1)) / (w.sum() - np.sum(w**2) / w.sum()))
    wr = 1 / (effects.vi + tau2)
    beta = float(np.sum(wr * effects.yi) / wr.sum())
    se = float(np.sqrt(1 / wr.sum()))
    z = beta / se
    crit = dist.norm_isf((1 - level) / 2)
    pi_lb, pi_ub = prediction_interval(beta, se, tau2, k, kind="z", level=level)
    return PoolResult(
        measure=effects.measure,
        model="random",
        method="MH-DL",
        test="z",
        level=level,
        k=k,
        estimate=beta,
        se=se,
        ci_lb=beta - crit * se,
        ci_ub=beta + crit * se,
        stat=z,
        df=None,
        pval=float(2 * dist.norm_sf(abs(z))),
        tau2=tau2,
        se_tau2=None,
        tau2_ci_lb=None,
        tau2_ci_ub=None,
        I2=mh.I2,
        H2=mh.H2,
        I2_ci_lb=None,
        I2_ci_ub=None,
        H2_ci_lb=None,
        H2_ci_ub=None,
        Q=Q,
        Q_df=mh.Q_df,
        Q_p=mh.Q_p,
        pi_lb=pi_lb,
        pi_ub=pi_ub,
        vt=None,
        transform=effects.transform,
        studies=_study_rows(effects, 100 * wr / wr.sum(), level),
        excluded=effects.excluded,
    )
