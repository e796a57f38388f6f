"""Leave-one-out computed all at once (stats/loo.py) equals ``pool`` on each subset.

The naive path is metafor ``leave1out()`` literally: ``pool`` refitted without study i. The
vectorised path must give the same numbers up to floating-point rounding, for every tau²
estimator, with and without HKSJ, on the BCG trials (metafor's reference data, where the naive
path is itself checked against metafor in test_reference_bcg.py), on a homogeneous set (tau² at
the boundary 0), on Freeman-Tukey proportions (a back-transform that depends on each subset's
sample sizes) and on a generated 1,000-study set.
"""

from __future__ import annotations

import numpy as np
import pytest

from reviewapp.synthesis.stats import (
    TAU2_METHODS,
    escalc_binary,
    escalc_generic,
    escalc_proportion,
    leave_one_out,
    pool,
)
from tests.synthesis.reference import bcg_effects

# Relative tolerance for "equal up to rounding": the naive path goes through k x k matrix
# products (BLAS) and the vectorised one through weighted sums, so the last few bits differ.
RTOL = 1e-12
ATOL = 1e-13
FIELDS = (
    "estimate",
    "se",
    "ci_lb",
    "ci_ub",
    "stat",
    "pval",
    "tau2",
    "se_tau2",
    "I2",
    "H2",
    "Q",
    "Q_p",
    "pi_lb",
    "pi_ub",
    "vt",
    "transform_n",
    "estimate_bt",
    "ci_lb_bt",
    "ci_ub_bt",
)
EXACT_FIELDS = ("k", "df", "Q_df", "test", "model", "method", "transform", "measure", "excluded")

SETTINGS = [("fixed", "FE", False)] + [
    ("random", method, hksj) for method in TAU2_METHODS for hksj in (False, True)
]


def homogeneous():
    return escalc_generic(
        ["a", "b", "c", "d", "e"],
        yi=[0.10, -0.10, 0.05, 0.00, 0.02],
        vi=[0.10, 0.12, 0.08, 0.10, 0.09],
    )


def proportions():
    return escalc_proportion(
        "PFT",
        ["p1", "p2", "p3", "p4", "p5", "p6"],
        xi=[4, 10, 0, 25, 7, 13],
        ni=[40, 55, 30, 80, 33, 61],
    )


def generated(k: int = 1000, seed: int = 13):
    """k two-arm trials with a true log risk ratio varying between studies (tau = 0.35)."""
    rng = np.random.default_rng(seed)
    n1, n2 = rng.integers(30, 400, k), rng.integers(30, 400, k)
    p2 = rng.uniform(0.05, 0.5, k)
    odds = p2 / (1 - p2) * np.exp(rng.normal(-0.3, 0.35, k))
    ai, ci = rng.binomial(n1, odds / (1 + odds)), rng.binomial(n2, p2)
    labels = [f"Study {i + 1:04d}" for i in range(k)]
    return escalc_binary("RR", labels, ai, n1 - ai, ci, n2 - ci)


def naive(effects, i, model, method, hksj):
    return pool(
        effects.subset(np.arange(effects.k) != i),
        model=model,
        method=method,
        hksj=hksj,
        tau2_ci=False,
    )


def assert_same(got, expected, context):
    for name in EXACT_FIELDS:
        assert getattr(got, name) == getattr(expected, name), f"{context}: {name}"
    for name in FIELDS:
        g, e = getattr(got, name), getattr(expected, name)
        if e is None:
            assert g is None, f"{context}: {name}"
            continue
        np.testing.assert_allclose(g, e, rtol=RTOL, atol=ATOL, err_msg=f"{context}: {name}")


@pytest.mark.parametrize(("model", "method", "hksj"), SETTINGS)
@pytest.mark.parametrize(
    "dataset",
    ["bcg_rr", "bcg_or", "bcg_rd", "homogeneous", "proportions"],
)
def test_leave_one_out_equals_pool_on_each_subset(dataset, model, method, hksj):
    effects = {
        "bcg_rr": lambda: bcg_effects("RR"),
        "bcg_or": lambda: bcg_effects("OR"),
        "bcg_rd": lambda: bcg_effects("RD"),
        "homogeneous": homogeneous,
        "proportions": proportions,
    }[dataset]()
    loo = leave_one_out(effects, model=model, method=method, hksj=hksj)
    assert loo.omitted == effects.labels
    for i, got in enumerate(loo.results):
        assert_same(got, naive(effects, i, model, method, hksj), f"{dataset} without {i}")


@pytest.fixture(scope="module")
def thousand():
    return generated()


@pytest.mark.parametrize(("model", "method", "hksj"), SETTINGS)
def test_leave_one_out_equals_pool_at_1000_studies(thousand, model, method, hksj):
    loo = leave_one_out(thousand, model=model, method=method, hksj=hksj)
    assert len(loo.results) == 1000
    weights = 1 / thousand.vi
    # A naive refit at k = 999 costs a quarter of a second, so a sample of omissions is checked:
    # both ends, the heaviest and lightest studies, the most outlying one, and a few at random.
    picks = {0, 999, int(weights.argmax()), int(weights.argmin())}
    picks.add(int(np.abs(thousand.yi - np.average(thousand.yi, weights=weights)).argmax()))
    picks |= set(np.random.default_rng(7).choice(1000, 3, replace=False).tolist())
    for i in sorted(picks):
        assert_same(loo.results[i], naive(thousand, i, model, method, hksj), f"without {i}")


def test_heterogeneity_exists_in_the_generated_set(thousand):
    """The 1,000-study check is only meaningful if tau² is away from its boundary."""
    assert pool(thousand, model="random", method="REML").tau2 > 0.01


def test_mantel_haenszel_keeps_the_refit_of_each_subset():
    effects = bcg_effects("OR")
    loo = leave_one_out(effects, model="fixed", method="MH")
    for i, got in enumerate(loo.results):
        expected = naive(effects, i, "fixed", "MH", False)
        assert got.to_dict() == expected.to_dict()


def test_to_dict_reports_each_omission():
    effects = bcg_effects("RR")
    rows = leave_one_out(effects, model="random", method="REML").to_dict()["leave_one_out"]
    assert [r["omitted"] for r in rows] == list(effects.labels)
    expected = naive(effects, 2, "random", "REML", False)
    assert rows[2]["estimate"] == pytest.approx(expected.estimate, rel=RTOL)
    assert set(rows[2]) == {
        "omitted",
        "estimate",
        "se",
        "ci_lb",
        "ci_ub",
        "pval",
        "Q",
        "Q_p",
        "tau2",
        "I2",
        "H2",
    }
