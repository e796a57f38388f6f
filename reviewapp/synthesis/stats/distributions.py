"""The few distribution functions the pooling code needs.

Why not scipy for the normal and chi² ones: ``manage.py pool`` prints the chi² p-value of Q and
the Q-profile interval of tau² (chi² quantiles) on every run, and importing ``scipy.special``
takes longer than pooling a thousand studies (most of it scipy's array-API layer, which imports
numpy.testing, numpy.f2py and more; issue 13 item 7). So those are computed here with the
standard library and numpy:

- normal: ``math.erfc`` and :class:`statistics.NormalDist` (Wichura's AS241 quantile);
- chi² with whole degrees of freedom (all the pooling code uses): the regularised incomplete gamma
  functions P(a, y) and Q(a, y), a = df/2, y = x/2, as finite or convergent sums of Poisson-like
  terms y^v e^-y / G(v+1), v = a-1, a-2, ... for Q (plus erfc(sqrt y) when a is a half-integer)
  and v = a, a+1, ... for P (Abramowitz and Stegun 6.5.13, 6.5.29 and 26.4.4-5). The largest term
  is computed with Loader's saddle-point form (C. Loader, "Fast and accurate computation of
  binomial probabilities", 2000), which keeps full relative accuracy where exp and lgamma of
  large arguments would not; the others follow from it by ratios. Every term is positive, so the
  smaller tail is accurate to its last digits and the larger one is 1 minus it;
- chi² quantiles by Newton's method on the logarithm of the smaller tail, inside a bracket.

tests/synthesis/test_distributions.py checks them against scipy.stats over a wide grid (relative
error about 1e-13 or less). Student's t and F (HKSJ, meta-regression) still come from
``scipy.special``, imported when first needed: they are not on ``pool``'s default path.
"""

from __future__ import annotations

import math
import sys
from statistics import NormalDist

import numpy as np

__all__ = [
    "chi2_isf",
    "chi2_ppf",
    "chi2_sf",
    "f_sf",
    "mad_normal",
    "norm_isf",
    "norm_ppf",
    "norm_sf",
    "t_isf",
    "t_sf",
]

EPS = sys.float_info.epsilon
_STANDARD_NORMAL = NormalDist()
_LN_SQRT_2PI = 0.5 * math.log(2 * math.pi)
_SQRT_HALF = math.sqrt(0.5)


def _elementwise(fn, *args):
    """``fn`` over broadcast arguments; a numpy float for scalars, an array otherwise."""
    arrays = np.broadcast_arrays(*(np.asarray(a, dtype=float) for a in args))
    out = np.empty(arrays[0].shape)
    for index in np.ndindex(out.shape):
        out[index] = fn(*(float(a[index]) for a in arrays))
    return out[()]


def norm_sf(x):
    """Upper tail of the standard normal (scipy.stats.norm.sf)."""
    return _elementwise(lambda v: 0.5 * math.erfc(v * _SQRT_HALF), x)


def _norm_ppf(q: float) -> float:
    if math.isnan(q) or not 0 <= q <= 1:
        return math.nan
    if q in (0.0, 1.0):
        return math.copysign(math.inf, q - 0.5)
    return _STANDARD_NORMAL.inv_cdf(q)


def norm_ppf(q):
    """Standard normal quantile (scipy.stats.norm.ppf)."""
    return _elementwise(_norm_ppf, q)


def norm_isf(q):
    """Upper-tail standard normal quantile (scipy.stats.norm.isf)."""
    return _elementwise(lambda p: -_norm_ppf(p), q)


def t_sf(x, df):
    """Upper tail of Student's t (scipy.stats.t.sf)."""
    from scipy import special

    return special.stdtr(df, -np.asarray(x, dtype=float))


def t_isf(q, df):
    """Upper-tail quantile of Student's t (scipy.stats.t.isf)."""
    from scipy import special

    return -special.stdtrit(df, q)


def f_sf(x, dfn, dfd):
    """Upper tail of F (scipy.stats.f.sf); x >= 0."""
    from scipy import special

    return special.fdtrc(dfn, dfd, x)


# Stirling series of log G(v+1) - ((v + 1/2) log v - v + log sqrt(2 pi)) (A&S 6.1.41).
_STIRLING = (1 / 12, -1 / 360, 1 / 1260, -1 / 1680, 1 / 1188)


def _stirling_error(v: float) -> float:
    if v > 15:
        v2 = v * v
        total = 0.0
        for c in reversed(_STIRLING):
            total = total / v2 + c
        return total / v
    return math.lgamma(v + 1) - (v + 0.5) * math.log(v) + v - _LN_SQRT_2PI


def _deviance(v: float, y: float) -> float:
    """v log(v/y) + y - v, without cancellation when v is near y (Loader 2000, bd0)."""
    if abs(v - y) < 0.1 * (v + y):
        ratio = (v - y) / (v + y)
        total = (v - y) * ratio
        term = 2 * v * ratio
        ratio2 = ratio * ratio
        j = 1
        while True:
            term *= ratio2
            new = total + term / (2 * j + 1)
            if new == total:
                return new
            total = new
            j += 1
    return v * math.log(v / y) + y - v


def _poisson_term(v: float, y: float) -> float:
    """y^v e^-y / G(v+1) for v >= 0, y > 0, to full relative accuracy."""
    if v == 0:
        return math.exp(-y)
    return math.exp(-_stirling_error(v) - _deviance(v, y)) / math.sqrt(2 * math.pi * v)


def _sum_terms(v_first: float, v_last: float, y: float) -> float:
    """Sum of y^v e^-y / G(v+1) over v = v_first, v_first + 1, ..., v_last (may be inf).

    Starts at the largest term (v nearest y) and walks both ways by the ratio of neighbours,
    stopping where the terms no longer change the sum.
    """
    if v_last < v_first:
        return 0.0
    peak = min(max(v_first + math.floor(y - v_first), v_first), v_last)
    top = _poisson_term(peak, y)
    if top == 0:
        return 0.0
    total, term, v = top, top, peak
    while v < v_last:
        v += 1
        term *= y / v
        if term <= total * EPS / 4:
            break
        total += term
    term, v = top, peak
    while v > v_first:
        term *= v / y
        v -= 1
        if term <= total * EPS / 4:
            break
        total += term
    return total


def _gamma_tails(a: float, y: float) -> tuple[float, float]:
    """(P(a, y), Q(a, y)) for a whole or half-integer a > 0 and y >= 0; the smaller one exact to
    rounding, the larger 1 minus it."""
    if y == 0:
        return 0.0, 1.0
    if math.isinf(y):
        return 1.0, 0.0
    lower = _sum_terms(a, math.inf, y)
    upper = _sum_terms(a - math.floor(a), a - 1, y)
    if a != math.floor(a):
        upper += math.erfc(math.sqrt(y))
    if lower < upper:
        return lower, 1 - lower
    return 1 - upper, upper


def _check_df(df: float) -> float:
    if math.isinf(df) or not (df >= 1 and df == math.floor(df)):
        raise ValueError(f"chi² degrees of freedom must be a whole number >= 1 (got {df}).")
    return df


def _chi2_sf(x: float, df: float) -> float:
    if math.isnan(x):
        return math.nan
    if x <= 0:
        return 1.0
    return _gamma_tails(_check_df(df) / 2, x / 2)[1]


def chi2_sf(x, df):
    """Upper tail of chi² (scipy.stats.chi2.sf) for whole degrees of freedom."""
    return _elementwise(_chi2_sf, x, df)


def _chi2_density(x: float, df: float) -> float:
    a, y = df / 2, x / 2
    if a >= 1:
        return _poisson_term(a - 1, y) / 2
    return math.exp((a - 1) * math.log(y) - y - math.lgamma(a)) / 2


def _chi2_quantile(p: float, df: float, upper: bool) -> float:
    """x with Q(df/2, x/2) = p (upper) or P(df/2, x/2) = p (lower), for 0 < p < 1."""
    a = _check_df(df) / 2
    if p > 0.5:
        # Solve on the smaller tail: 1 - p is exact there (Sterbenz).
        p, upper = 1 - p, not upper
    tail = 1 if upper else 0
    log_p = math.log(p)
    # Wilson-Hilferty's approximation to start (A&S 26.4.17), or the small-x series of P.
    z = _STANDARD_NORMAL.inv_cdf(p) * (-1 if upper else 1)
    h = 2 / (9 * df)
    x = df * max(1 - h + z * math.sqrt(h), 0.0) ** 3
    if not upper and (x <= 0 or df < 3):
        x = 2 * math.exp((log_p + math.lgamma(a + 1)) / a)
        if x == 0:
            return 0.0  # below the smallest float, as scipy returns it
    if not x > 0 or math.isinf(x):
        x = df
    low, high = 0.0, math.inf  # bracket of the root
    for _ in range(200):
        value = _gamma_tails(a, x / 2)[tail]
        if value == 0:
            # The tail underflowed: x is far beyond the quantile (upper) or far short of it.
            if upper:
                high = x
                x = x / 2
            else:
                low = x
                x = 2 * x if math.isinf(high) else (low + high) / 2
            continue
        g = math.log(value) - log_p
        if g == 0:
            return x
        if (g > 0) == upper:
            low = x
        else:
            high = x
        slope = _chi2_density(x, df) / value * (-1 if upper else 1)
        new = x - g / slope if slope != 0 else math.nan
        if low <= new <= high:
            # Newton converges quadratically: after a step this small the error is far below
            # rounding, and further steps would only wander by an ulp or two on the tail's own
            # rounding errors.
            if abs(new - x) <= 1e-12 * abs(new):
                return new
        else:
            new = (low + high) / 2 if math.isfinite(high) else 2 * max(x, 1.0)
        x = new
    raise RuntimeError(f"chi² quantile for p = {p}, df = {df} did not converge.")


def _chi2_isf(q: float, df: float) -> float:
    if math.isnan(q) or not 0 <= q <= 1:
        return math.nan
    if q == 0:
        return math.inf
    if q == 1:
        return 0.0
    return _chi2_quantile(q, df, upper=True)


def _chi2_ppf(q: float, df: float) -> float:
    if math.isnan(q) or not 0 <= q <= 1:
        return math.nan
    if q == 0:
        return 0.0
    if q == 1:
        return math.inf
    return _chi2_quantile(q, df, upper=False)


def chi2_isf(q, df):
    """Upper-tail chi² quantile (scipy.stats.chi2.isf) for whole degrees of freedom."""
    return _elementwise(_chi2_isf, q, df)


def chi2_ppf(q, df):
    """chi² quantile (scipy.stats.chi2.ppf) for whole degrees of freedom."""
    return _elementwise(_chi2_ppf, q, df)


# The normal quantile at 0.75, as scipy.stats.median_abs_deviation writes it
_NORMAL_MAD_SCALE = 0.6744897501960817


def mad_normal(y: np.ndarray) -> float:
    """R's ``mad()``: median absolute deviation scaled for the normal (as
    ``scipy.stats.median_abs_deviation(y, scale="normal")``)."""
    y = np.asarray(y, dtype=float)
    return float(np.median(np.abs(y - np.median(y))) / _NORMAL_MAD_SCALE)
