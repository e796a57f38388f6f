"""The distribution helpers against scipy.stats.

Student's t and F call the scipy.special functions scipy.stats calls, so they are the same bits.
The normal and chi² ones are computed without scipy (its import costs ``manage.py pool`` more
than the pooling: distributions.py), so they are checked to agree to rounding over a wide grid:
1e-12 relative. The grid runs from the centre to the far tails (p-values down to 1e-300),
whole degrees of freedom from 1 to 100,000 (the pooling code's chi² tests have whole ones).
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from reviewapp.synthesis.stats import distributions as dist

X = np.concatenate(
    [[0.0, 1e-300, 1e-12, 0.5, 1.0, 1.959963984540054, 3.7, 12.0, 40.0, 1e6], [np.inf]]
)
Q = np.array([1e-300, 1e-12, 0.001, 0.025, 0.05, 0.5, 0.95, 0.975, 0.999, 1 - 1e-12])
DF = [1, 2, 3, 12, 999, 1e5]

# Points from the centre to the tails of chi² with df degrees of freedom, and beyond both.
CHI2_X = np.concatenate(
    [[0.0, 1e-300, 1e-12, 1e-3, 0.1, 0.5, 1.0, 3.7, 12.0, 40.0, 100.0], np.linspace(0.01, 60, 61)]
)
CHI2_Q = np.concatenate([Q, [1e-100, 1e-6, 0.1, 0.3, 0.7, 0.9, 1 - 1e-6, 0.0, 1.0]])
CHI2_DF = [1, 2, 3, 4, 5, 7, 12, 30, 99, 100, 500, 998, 999, 1999, 10_000, 100_000]

# Relative agreement with scipy; 0 and values below the smallest normal float must match as 0.
REL = 1e-12
# Far in the upper tail of chi² the value is ill-conditioned in x itself (relative change ~ x/2
# times that of x): there both scipy and these differ from the exact value (checked with
# decimal arithmetic for even df) by a few 1e-13, so they are compared at a looser tolerance.
REL_FAR_TAIL = 1e-11


def same(got, expected):
    np.testing.assert_array_equal(np.asarray(got, dtype=float), np.asarray(expected, dtype=float))


def agree(got, expected, rtol=REL):
    got, expected = np.asarray(got, dtype=float), np.asarray(expected, dtype=float)
    tiny = np.abs(expected) < np.finfo(float).tiny
    # Both round to no normal float there (scipy flushes some subnormal tails to 0).
    assert np.all(np.abs(got[tiny]) < np.finfo(float).tiny)
    np.testing.assert_allclose(got[~tiny], expected[~tiny], rtol=rtol, atol=0)


def test_normal():
    agree(dist.norm_sf(X), stats.norm.sf(X))
    agree(dist.norm_sf(-X), stats.norm.sf(-X))
    grid = np.linspace(-37, 37, 1481)
    agree(dist.norm_sf(grid), stats.norm.sf(grid))
    agree(dist.norm_isf(Q), stats.norm.isf(Q))
    agree(dist.norm_ppf(Q), stats.norm.ppf(Q))
    p = np.concatenate([np.logspace(-300, -1, 300), np.linspace(0.01, 0.99, 99)])
    agree(dist.norm_ppf(p), stats.norm.ppf(p))
    agree(dist.norm_isf(p), stats.norm.isf(p))
    assert dist.norm_ppf(0.0) == -np.inf and dist.norm_ppf(1.0) == np.inf


@pytest.mark.parametrize("df", DF)
def test_t(df):
    same(dist.t_sf(X, df), stats.t.sf(X, df))
    same(dist.t_isf(Q, df), stats.t.isf(Q, df))


@pytest.mark.parametrize("df", CHI2_DF)
def test_chi2(df):
    # x around df too, where the p-values of Q fall for heterogeneous and homogeneous studies.
    x = np.concatenate([CHI2_X, df * np.array([0.5, 0.9, 0.99, 1.0, 1.01, 1.1, 1.5, 2.0, 3.0])])
    expected = stats.chi2.sf(x, df)
    far = x > 1.2 * df + 40
    agree(dist.chi2_sf(x[~far], df), expected[~far])
    agree(dist.chi2_sf(x[far], df), expected[far], REL_FAR_TAIL)
    assert dist.chi2_sf(np.inf, df) == 0.0
    agree(dist.chi2_isf(CHI2_Q, df), stats.chi2.isf(CHI2_Q, df))
    agree(dist.chi2_ppf(CHI2_Q, df), stats.chi2.ppf(CHI2_Q, df))


def test_chi2_needs_whole_degrees_of_freedom():
    with pytest.raises(ValueError, match="whole number"):
        dist.chi2_sf(3.0, 2.5)


@pytest.mark.parametrize(("dfn", "dfd"), [(1, 1), (1, 12), (3, 40), (2, 998)])
def test_f(dfn, dfd):
    same(dist.f_sf(X, dfn, dfd), stats.f.sf(X, dfn, dfd))


def test_mad():
    rng = np.random.default_rng(3)
    for n in (3, 4, 13, 1000):
        y = rng.normal(size=n)
        assert dist.mad_normal(y) == stats.median_abs_deviation(y, scale="normal")
