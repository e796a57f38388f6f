"""The few distribution functions the pooling code needs, straight from ``scipy.special``.

``scipy.stats`` computes each of these with exactly the special function named below (scipy's
``_continuous_distns``: ``norm._sf`` is ``ndtr(-x)``, ``t._sf`` is ``stdtr(df, -x)``, ``chi2._sf``
is ``chdtrc(df, x)`` and so on), but importing it costs a third of a second, more than pooling a
thousand studies; ``manage.py pool`` pays that on every run. The values are the same bits
(``tests/synthesis/test_distributions.py`` checks them against ``scipy.stats``).
"""

from __future__ import annotations

import numpy as np
from scipy import special

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


def norm_sf(x):
    """Upper tail of the standard normal (scipy.stats.norm.sf)."""
    return special.ndtr(-np.asarray(x, dtype=float))


def norm_ppf(q):
    """Standard normal quantile (scipy.stats.norm.ppf)."""
    return special.ndtri(q)


def norm_isf(q):
    """Upper-tail standard normal quantile (scipy.stats.norm.isf)."""
    return -special.ndtri(q)


def t_sf(x, df):
    """Upper tail of Student's t (scipy.stats.t.sf)."""
    return special.stdtr(df, -np.asarray(x, dtype=float))


def t_isf(q, df):
    """Upper-tail quantile of Student's t (scipy.stats.t.isf)."""
    return -special.stdtrit(df, q)


def chi2_sf(x, df):
    """Upper tail of chi² (scipy.stats.chi2.sf); x >= 0."""
    return special.chdtrc(df, x)


def chi2_isf(q, df):
    """Upper-tail chi² quantile (scipy.stats.chi2.isf)."""
    return special.chdtri(df, q)


def chi2_ppf(q, df):
    """chi² quantile (scipy.stats.chi2.ppf)."""
    return 2 * special.gammaincinv(df / 2, q)


def f_sf(x, dfn, dfd):
    """Upper tail of F (scipy.stats.f.sf); x >= 0."""
    return special.fdtrc(dfn, dfd, x)


# special.ndtri(0.75), as scipy.stats.median_abs_deviation writes it
_NORMAL_MAD_SCALE = 0.6744897501960817


def mad_normal(y: np.ndarray) -> float:
    """R's ``mad()``: median absolute deviation scaled for the normal (as
    ``scipy.stats.median_abs_deviation(y, scale="normal")``)."""
    y = np.asarray(y, dtype=float)
    return float(np.median(np.abs(y - np.median(y))) / _NORMAL_MAD_SCALE)
