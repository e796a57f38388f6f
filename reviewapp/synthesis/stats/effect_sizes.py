"""Study-level effect sizes and their sampling variances, following metafor's ``escalc()``.

Every function returns an :class:`EffectSizes`: the analysis-scale estimates ``yi`` and sampling
variances ``vi`` of the studies that can be pooled, plus the studies that had to be left out and
why. Conventions are metafor's defaults (Viechtbauer W, 2010, J Stat Softw 36(3); ``escalc`` docs):

- 2x2 tables: ``add=1/2, to="only0"`` (1/2 added to every cell of a table with a zero cell);
  studies with no events in both arms, or only events in both arms, are left out of the ratio
  measures (OR, RR) as ``rma.mh(drop00=TRUE)`` and RevMan do, but kept for RD, where a difference
  of zero is informative.
- Single proportions: ``add=1/2, to="only0"`` for PR and PLO (metafor applies the correction to
  the raw proportion too), no correction for PFT (metafor sets ``add=0`` for PFT).
- SMD: Hedges' g with the exact gamma-function correction and the large-sample variance
  (``vtype="LS"``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from reviewapp.synthesis.stats.distributions import norm_ppf

__all__ = [
    "BINARY_MEASURES",
    "MEAN_MEASURES",
    "PROPORTION_MEASURES",
    "RATIO_MEASURES",
    "EffectSizes",
    "ExcludedStudy",
    "StudyDataError",
    "escalc_binary",
    "escalc_generic",
    "escalc_means",
    "escalc_proportion",
]

BINARY_MEASURES = ("OR", "RR", "RD")
MEAN_MEASURES = ("MD", "SMD")
PROPORTION_MEASURES = ("PR", "PLO", "PFT")
CORRELATION_MEASURES = ("COR", "ZCOR")
RATIO_MEASURES = ("OR", "RR")

# metafor escalc default continuity correction (add=1/2, to="only0").
CONTINUITY = 0.5


class StudyDataError(ValueError):
    """Bad input for one study; names the study and the offending field."""

    def __init__(self, study: str, field: str, problem: str):
        self.study = study
        self.field = field
        self.problem = problem
        super().__init__(f"Study {study!r}: {field} {problem}")


@dataclass(frozen=True)
class ExcludedStudy:
    label: str
    reason: str


@dataclass(frozen=True)
class EffectSizes:
    """Analysis-scale effect sizes of the studies that can be pooled.

    ``transform`` names the back-transformation for display: ``"exp"`` for log ratios,
    ``"ilogit"`` for logit proportions, ``"ipft"`` for Freeman-Tukey proportions, ``"none"``.
    ``ni`` holds total sample sizes when known (needed to back-transform PFT).
    ``tables`` keeps the raw 2x2 counts (ai, bi, ci, di) of *all* valid studies, in the order of
    ``table_labels``, for Mantel-Haenszel and Peto pooling, which work on counts;
    ``table_rows`` gives, for each study in ``labels``, its row in ``tables``. Labels need not be
    unique ("Smith 2001" twice is common, and metafor accepts it), so studies are matched to
    their counts by position, never by label.
    """

    measure: str
    labels: tuple[str, ...]
    yi: np.ndarray
    vi: np.ndarray
    transform: str = "none"
    ni: np.ndarray | None = None
    excluded: tuple[ExcludedStudy, ...] = ()
    tables: np.ndarray | None = None
    table_labels: tuple[str, ...] = ()
    corrected: tuple[str, ...] = field(default=())
    table_rows: tuple[int, ...] = ()

    @property
    def k(self) -> int:
        return len(self.yi)

    @property
    def sei(self) -> np.ndarray:
        return np.sqrt(self.vi)

    def subset(self, mask: Sequence[bool] | np.ndarray) -> EffectSizes:
        """The same effect sizes restricted to the studies where ``mask`` is true."""
        mask = np.asarray(mask, dtype=bool)
        labels = tuple(lab for lab, keep in zip(self.labels, mask, strict=True) if keep)
        tables = None
        table_labels: tuple[str, ...] = ()
        table_rows: tuple[int, ...] = ()
        if self.tables is not None:
            # Keep the tables of the kept studies and of the excluded ones (Mantel-Haenszel RD
            # counts studies without events), renumbering the positions.
            kept = {self.table_rows[i] for i in np.flatnonzero(mask)}
            excluded = set(range(len(self.table_labels))) - set(self.table_rows)
            rows = sorted(kept | excluded)
            new_position = {old: new for new, old in enumerate(rows)}
            tables = self.tables[rows]
            table_labels = tuple(self.table_labels[i] for i in rows)
            table_rows = tuple(new_position[self.table_rows[i]] for i in np.flatnonzero(mask))
        return EffectSizes(
            measure=self.measure,
            labels=labels,
            yi=self.yi[mask],
            vi=self.vi[mask],
            transform=self.transform,
            ni=None if self.ni is None else self.ni[mask],
            excluded=self.excluded,
            tables=tables,
            table_labels=table_labels,
            corrected=tuple(c for c in self.corrected if c in labels),
            table_rows=table_rows,
        )


def _labels(labels: Sequence[str], k: int) -> tuple[str, ...]:
    labels = tuple(str(lab) for lab in labels)
    if len(labels) != k:
        raise ValueError(f"Got {len(labels)} study labels for {k} studies.")
    if k == 0:
        raise ValueError("No studies given.")
    return labels


def _as_float(values: Sequence[float], name: str, labels: tuple[str, ...]) -> np.ndarray:
    arr = np.asarray(values, dtype=float)
    if arr.shape != (len(labels),):
        raise ValueError(f"{name} must have one value per study ({len(labels)}).")
    for lab, value in zip(labels, arr, strict=True):
        if not math.isfinite(value):
            raise StudyDataError(lab, name, f"must be a finite number (got {value}).")
    return arr


def _check_count(lab: str, name: str, value: float) -> None:
    if value < 0:
        raise StudyDataError(lab, name, f"must not be negative (got {value:g}).")


def escalc_binary(
    measure: str,
    labels: Sequence[str],
    ai: Sequence[float],
    bi: Sequence[float],
    ci: Sequence[float],
    di: Sequence[float],
) -> EffectSizes:
    """Log odds ratio, log risk ratio or risk difference from 2x2 tables.

    ``ai``/``bi`` are events/non-events in the treatment arm, ``ci``/``di`` in the control arm.
    Formulas and the ``add=1/2, to="only0"`` correction are metafor ``escalc()`` (measures "OR",
    "RR", "RD", vtype "LS"): log OR variance 1/a+1/b+1/c+1/d (Woolf 1955), log RR variance
    1/a-1/n1+1/c-1/n2, RD variance p1(1-p1)/n1 + p2(1-p2)/n2.
    """
    measure = measure.upper()
    if measure not in BINARY_MEASURES:
        raise ValueError(f"Unknown binary measure {measure!r}; use one of {BINARY_MEASURES}.")
    k = len(ai)
    labels = _labels(labels, k)
    cols = {
        name: _as_float(v, name, labels) for name, v in zip("abcd", (ai, bi, ci, di), strict=True)
    }
    names = {"a": "ai", "b": "bi", "c": "ci", "d": "di"}
    for i, lab in enumerate(labels):
        for key, arr in cols.items():
            _check_count(lab, names[key], arr[i])
        if cols["a"][i] + cols["b"][i] == 0:
            raise StudyDataError(lab, "ai+bi", "(treatment group size) must be positive.")
        if cols["c"][i] + cols["d"][i] == 0:
            raise StudyDataError(lab, "ci+di", "(control group size) must be positive.")

    a, b, c, d = cols["a"], cols["b"], cols["c"], cols["d"]
    tables = np.column_stack([a, b, c, d])
    keep = np.ones(k, dtype=bool)
    excluded: list[ExcludedStudy] = []
    if measure in RATIO_MEASURES:
        no_events = (a == 0) & (c == 0)
        all_events = (b == 0) & (d == 0)
        for i, lab in enumerate(labels):
            if no_events[i]:
                excluded.append(ExcludedStudy(lab, "no events in either arm"))
            elif all_events[i]:
                excluded.append(ExcludedStudy(lab, "all participants had the event in both arms"))
        keep = ~(no_events | all_events)

    zero = (a == 0) | (b == 0) | (c == 0) | (d == 0)
    add = np.where(zero & keep, CONTINUITY, 0.0)
    a2, b2, c2, d2 = a + add, b + add, c + add, d + add
    n1, n2 = a2 + b2, c2 + d2
    p1, p2 = a2 / n1, c2 / n2
    with np.errstate(divide="ignore", invalid="ignore"):
        if measure == "OR":
            yi = np.log(p1 / (1 - p1)) - np.log(p2 / (1 - p2))
            vi = 1 / a2 + 1 / b2 + 1 / c2 + 1 / d2
        elif measure == "RR":
            yi = np.log(p1) - np.log(p2)
            vi = 1 / a2 - 1 / n1 + 1 / c2 - 1 / n2
        else:
            yi = p1 - p2
            vi = p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2

    corrected = tuple(lab for lab, z, kp in zip(labels, zero, keep, strict=True) if z and kp)
    return EffectSizes(
        measure=measure,
        labels=tuple(lab for lab, kp in zip(labels, keep, strict=True) if kp),
        yi=yi[keep],
        vi=vi[keep],
        transform="exp" if measure in RATIO_MEASURES else "none",
        ni=(a + b + c + d)[keep],
        excluded=tuple(excluded),
        tables=tables,
        table_labels=labels,
        corrected=corrected,
        table_rows=tuple(int(i) for i in np.flatnonzero(keep)),
    )


def _cmi(mi: np.ndarray) -> np.ndarray:
    """Exact small-sample correction of Hedges (1981): c(m) = G(m/2) / (sqrt(m/2) G((m-1)/2))."""
    # math.lgamma rather than scipy.special.gammaln: scipy.special's import costs more than a pool
    # of 1,000 studies (see distributions.py).
    gammaln = np.vectorize(math.lgamma, otypes=[float])
    return np.exp(gammaln(mi / 2) - np.log(np.sqrt(mi / 2)) - gammaln((mi - 1) / 2))


def escalc_means(
    measure: str,
    labels: Sequence[str],
    m1i: Sequence[float],
    sd1i: Sequence[float],
    n1i: Sequence[float],
    m2i: Sequence[float],
    sd2i: Sequence[float],
    n2i: Sequence[float],
) -> EffectSizes:
    """Mean difference or standardised mean difference (Hedges' g) from group summaries.

    metafor ``escalc()`` measures "MD" (variance sd1²/n1 + sd2²/n2, vtype "LS") and "SMD"
    (Hedges 1981 g with the exact gamma-function bias correction; variance
    1/n1 + 1/n2 + g²/(2(n1+n2)), vtype "LS").
    """
    measure = measure.upper()
    if measure not in MEAN_MEASURES:
        raise ValueError(f"Unknown measure {measure!r}; use one of {MEAN_MEASURES}.")
    k = len(m1i)
    labels = _labels(labels, k)
    m1 = _as_float(m1i, "m1i", labels)
    s1 = _as_float(sd1i, "sd1i", labels)
    n1 = _as_float(n1i, "n1i", labels)
    m2 = _as_float(m2i, "m2i", labels)
    s2 = _as_float(sd2i, "sd2i", labels)
    n2 = _as_float(n2i, "n2i", labels)
    for i, lab in enumerate(labels):
        for name, arr in (("sd1i", s1), ("sd2i", s2)):
            if arr[i] <= 0:
                raise StudyDataError(lab, name, f"must be positive (got {arr[i]:g}).")
        for name, arr in (("n1i", n1), ("n2i", n2)):
            if arr[i] < 1:
                raise StudyDataError(lab, name, f"must be at least 1 (got {arr[i]:g}).")
        if measure == "SMD" and n1[i] + n2[i] < 3:
            raise StudyDataError(lab, "n1i+n2i", "must be at least 3 for an SMD.")

    if measure == "MD":
        yi = m1 - m2
        vi = s1**2 / n1 + s2**2 / n2
    else:
        mi = n1 + n2 - 2
        sdp = np.sqrt(((n1 - 1) * s1**2 + (n2 - 1) * s2**2) / mi)
        yi = _cmi(mi) * (m1 - m2) / sdp
        vi = 1 / n1 + 1 / n2 + yi**2 / (2 * (n1 + n2))
    return EffectSizes(measure=measure, labels=labels, yi=yi, vi=vi, ni=n1 + n2)


def escalc_proportion(
    measure: str,
    labels: Sequence[str],
    xi: Sequence[float],
    ni: Sequence[float],
) -> EffectSizes:
    """Single proportions: raw (PR), logit (PLO) or Freeman-Tukey double arcsine (PFT).

    metafor ``escalc()``: PR yi = x/n, vi = p(1-p)/n; PLO yi = log(x/(n-x)), vi = 1/x + 1/(n-x);
    both with 1/2 added to x and n-x when x is 0 or n (metafor's ``to="only0"`` default, which
    it applies to PR as well). PFT (Freeman & Tukey 1950) yi = (asin(sqrt(x/(n+1))) +
    asin(sqrt((x+1)/(n+1))))/2, vi = 1/(4n+2), without correction.
    """
    measure = measure.upper()
    if measure not in PROPORTION_MEASURES:
        raise ValueError(f"Unknown measure {measure!r}; use one of {PROPORTION_MEASURES}.")
    k = len(xi)
    labels = _labels(labels, k)
    x = _as_float(xi, "xi", labels)
    n = _as_float(ni, "ni", labels)
    for i, lab in enumerate(labels):
        _check_count(lab, "xi", x[i])
        if n[i] <= 0:
            raise StudyDataError(lab, "ni", f"must be positive (got {n[i]:g}).")
        if x[i] > n[i]:
            raise StudyDataError(lab, "xi", f"({x[i]:g}) must not exceed ni ({n[i]:g}).")

    corrected: tuple[str, ...] = ()
    if measure == "PFT":
        yi = 0.5 * (np.arcsin(np.sqrt(x / (n + 1))) + np.arcsin(np.sqrt((x + 1) / (n + 1))))
        vi = 1 / (4 * n + 2)
        transform = "ipft"
    else:
        zero = (x == 0) | (x == n)
        corrected = tuple(lab for lab, z in zip(labels, zero, strict=True) if z)
        add = np.where(zero, CONTINUITY, 0.0)
        x2, m2 = x + add, (n - x) + add
        n2 = x2 + m2
        p = x2 / n2
        if measure == "PR":
            yi, vi, transform = p, p * (1 - p) / n2, "none"
        else:
            yi, vi, transform = np.log(p / (1 - p)), 1 / x2 + 1 / m2, "ilogit"
    return EffectSizes(
        measure=measure,
        labels=labels,
        yi=yi,
        vi=vi,
        transform=transform,
        ni=n,
        corrected=corrected,
    )


def escalc_generic(
    labels: Sequence[str],
    *,
    yi: Sequence[float] | None = None,
    sei: Sequence[float] | None = None,
    vi: Sequence[float] | None = None,
    estimate: Sequence[float] | None = None,
    lower: Sequence[float] | None = None,
    upper: Sequence[float] | None = None,
    ratio: bool = False,
    level: float = 0.95,
) -> EffectSizes:
    """Generic inverse-variance input: an estimate with its SE or variance, or with a CI.

    From a CI the SE is (upper - lower) / (2 z_{0.975}) (Cochrane Handbook 6.3.1, 6.5.2.2);
    with ``ratio=True`` the estimate and limits are on the natural ratio scale and are taken to
    the log scale first, so the SE is (log upper - log lower) / (2 z_{0.975}).
    ``yi``/``sei``/``vi`` given with ``ratio=True`` are taken to be on the log scale already.
    """
    from_ci = estimate is not None or lower is not None or upper is not None
    if from_ci:
        if estimate is None or lower is None or upper is None:
            raise ValueError("A CI needs estimate, lower and upper.")
        k = len(estimate)
        labels = _labels(labels, k)
        est = _as_float(estimate, "estimate", labels)
        lo = _as_float(lower, "lower", labels)
        hi = _as_float(upper, "upper", labels)
        z = float(norm_ppf(0.5 + level / 2))
        for i, lab in enumerate(labels):
            if ratio:
                for name, arr in (("estimate", est), ("lower", lo), ("upper", hi)):
                    if arr[i] <= 0:
                        raise StudyDataError(
                            lab, name, f"must be positive for a ratio (got {arr[i]:g})."
                        )
            if not lo[i] < hi[i]:
                raise StudyDataError(lab, "lower", f"({lo[i]:g}) must be below upper ({hi[i]:g}).")
            if not lo[i] <= est[i] <= hi[i]:
                raise StudyDataError(
                    lab,
                    "estimate",
                    f"({est[i]:g}) must lie within its CI ({lo[i]:g} to {hi[i]:g}).",
                )
        if ratio:
            y = np.log(est)
            se = (np.log(hi) - np.log(lo)) / (2 * z)
        else:
            y = est
            se = (hi - lo) / (2 * z)
        v = se**2
    else:
        if yi is None or (sei is None) == (vi is None):
            raise ValueError("Give yi with exactly one of sei or vi (or estimate, lower, upper).")
        k = len(yi)
        labels = _labels(labels, k)
        y = _as_float(yi, "yi", labels)
        if sei is not None:
            se = _as_float(sei, "sei", labels)
            name, spread = "sei", se
            v = se**2
        else:
            if vi is None:
                # Ruled out above: exactly one of sei and vi is given.
                raise AssertionError("neither sei nor vi given")
            v = _as_float(vi, "vi", labels)
            name, spread = "vi", v
        for lab, value in zip(labels, spread, strict=True):
            if value <= 0:
                raise StudyDataError(lab, name, f"must be positive (got {value:g}).")
    return EffectSizes(
        measure="GEN", labels=labels, yi=y, vi=v, transform="exp" if ratio else "none"
    )


def escalc_correlation(
    measure: str,
    labels: Sequence[str],
    ri: Sequence[float],
    ni: Sequence[float],
) -> EffectSizes:
    """Correlation coefficients: raw (COR) or Fisher's r-to-z transformed (ZCOR).

    metafor ``escalc()``: COR yi = r, vi = (1 - r²)² / (n - 1) (the large-sample variance,
    vtype "LS"); ZCOR yi = atanh(r), vi = 1 / (n - 3) (Fisher 1921), back-transformed with tanh
    (metafor ``transf.ztor``).
    """
    measure = measure.upper()
    if measure not in CORRELATION_MEASURES:
        raise ValueError(f"Unknown measure {measure!r}; use one of {CORRELATION_MEASURES}.")
    k = len(ri)
    labels = _labels(labels, k)
    r = _as_float(ri, "ri", labels)
    n = _as_float(ni, "ni", labels)
    least = 4 if measure == "ZCOR" else 2
    for i, lab in enumerate(labels):
        if not -1 <= r[i] <= 1:
            raise StudyDataError(lab, "ri", f"must be between -1 and 1 (got {r[i]:g}).")
        if n[i] < least:
            raise StudyDataError(
                lab, "ni", f"must be at least {least} for {measure} (got {n[i]:g})."
            )
        if abs(r[i]) == 1:
            raise StudyDataError(lab, "ri", "of -1 or 1 has no sampling variance.")
    if measure == "COR":
        yi, vi, transform = r.copy(), (1 - r**2) ** 2 / (n - 1), "none"
    else:
        yi, vi, transform = np.arctanh(r), 1 / (n - 3), "ztor"
    return EffectSizes(measure=measure, labels=labels, yi=yi, vi=vi, transform=transform, ni=n)
