"""The distribution helpers give scipy.stats' own values, bit for bit (they call the same
scipy.special functions scipy.stats does, without importing scipy.stats)."""

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


def same(got, expected):
    np.testing.assert_array_equal(np.asarray(got, dtype=float), np.asarray(expected, dtype=float))


def test_normal():
    same(dist.norm_sf(X), stats.norm.sf(X))
    same(dist.norm_sf(-X), stats.norm.sf(-X))
    same(dist.norm_isf(Q), stats.norm.isf(Q))
    same(dist.norm_ppf(Q), stats.norm.ppf(Q))


@pytest.mark.parametrize("df", DF)
def test_t_and_chi2(df):
    same(dist.t_sf(X, df), stats.t.sf(X, df))
    same(dist.t_isf(Q, df), stats.t.isf(Q, df))
    same(dist.chi2_sf(X, df), stats.chi2.sf(X, df))
    same(dist.chi2_isf(Q, df), stats.chi2.isf(Q, df))
    same(dist.chi2_ppf(Q, df), stats.chi2.ppf(Q, df))


@pytest.mark.parametrize(("dfn", "dfd"), [(1, 1), (1, 12), (3, 40), (2, 998)])
def test_f(dfn, dfd):
    same(dist.f_sf(X, dfn, dfd), stats.f.sf(X, dfn, dfd))


def test_mad():
    rng = np.random.default_rng(3)
    for n in (3, 4, 13, 1000):
        y = rng.normal(size=n)
        assert dist.mad_normal(y) == stats.median_abs_deviation(y, scale="normal")
