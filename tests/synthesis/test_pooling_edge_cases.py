"""Pooling edge cases behave as metafor rma.uni() does (conventions from its source,
R/rma.uni.r: k = 1 gives tau² = 0, QE = 0, QEp = 1, I² = 0, H² = 1 and the z-test; estimates
of tau² are truncated at 0; the Q-profile CI is the null set when Q(0) is below the lower
chi² quantile)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from reviewapp.synthesis.stats import (
    TAU2_METHODS,
    escalc_binary,
    escalc_generic,
    escalc_proportion,
    leave_one_out,
    pool,
    subgroup_analysis,
)
from reviewapp.synthesis.stats.transforms import harmonic_mean, ipft

HOMOGENEOUS = escalc_generic(
    ["a", "b", "c", "d"], yi=[0.10, -0.10, 0.05, 0.00], vi=[0.10, 0.12, 0.08, 0.10]
)


@pytest.mark.parametrize("hksj", [False, True])
@pytest.mark.parametrize("method", ["DL", "REML", "PM"])
def test_one_study_gives_its_own_estimate_and_no_heterogeneity(method, hksj):
    effects = escalc_generic(["only"], yi=[0.3], sei=[0.2])
    result = pool(effects, model="random", method=method, hksj=hksj)
    assert result.k == 1
    assert result.estimate == pytest.approx(0.3)
    assert result.se == pytest.approx(0.2)
    assert (result.tau2, result.Q, result.Q_df, result.Q_p) == (0.0, 0.0, 0, 1.0)
    assert (result.I2, result.H2) == (0.0, 1.0)
    assert result.test == "z"  # metafor falls back to the z-test when k = 1
    assert result.tau2_ci_lb is None and result.tau2_ci_ub is None
    assert result.ci_lb == pytest.approx(0.3 - stats.norm.isf(0.025) * 0.2)


@pytest.mark.parametrize("method", [m for m in TAU2_METHODS if m != "SJ"])
def test_q_below_df_gives_tau2_zero_and_random_equals_fixed(method):
    fixed = pool(HOMOGENEOUS, model="fixed")
    random = pool(HOMOGENEOUS, model="random", method=method)
    q, df = fixed.Q, fixed.Q_df
    assert q < df
    assert random.tau2 == 0.0
    assert random.estimate == pytest.approx(fixed.estimate)
    assert random.se == pytest.approx(fixed.se)
    h2 = random.H2
    assert random.I2 == 0.0
    assert h2 == pytest.approx(1.0)


def test_sidik_jonkman_stays_positive_when_q_is_below_df():
    """SJ multiplies a positive start value by Q_w/(k-1), so it is never truncated to 0."""
    assert pool(HOMOGENEOUS, model="random", method="SJ").tau2 > 0


def test_fixed_effect_i2_is_truncated_at_zero_but_h2_stays_q_over_df():
    fixed = pool(HOMOGENEOUS, model="fixed")
    assert fixed.I2 == 0.0
    h2, q, df = fixed.H2, fixed.Q, fixed.Q_df
    assert h2 == pytest.approx(q / df)


def test_q_profile_interval_is_the_null_set_when_q_is_below_the_lower_quantile():
    result = pool(HOMOGENEOUS, model="random", method="DL")
    q, critical = result.Q, stats.chi2.ppf(0.025, result.Q_df)
    assert q < critical
    assert (result.tau2_ci_lb, result.tau2_ci_ub) == (0.0, 0.0)


def test_identical_estimates_give_zero_hksj_standard_error_like_metafor():
    effects = escalc_generic(["a", "b", "c"], yi=[0.2, 0.2, 0.2], sei=[0.1, 0.2, 0.3])
    result = pool(effects, model="random", method="REML", hksj=True)
    assert result.se == 0.0
    assert result.df == 2


def test_double_zero_study_is_reported_in_the_pooled_result():
    effects = escalc_binary(
        "OR", ["A", "B", "C"], [0, 4, 6], [40, 119, 300], [0, 11, 29], [40, 128, 274]
    )
    result = pool(effects, model="random", method="DL")
    assert result.k == 2
    assert [row.label for row in result.studies] == ["B", "C"]
    d = result.to_dict()
    assert d["excluded"] == [{"study": "A", "reason": "no events in either arm"}]


def test_zero_cell_study_is_pooled_with_its_corrected_estimate():
    effects = escalc_binary("RR", ["A", "B"], [0, 4], [40, 119], [3, 11], [37, 128])
    result = pool(effects, model="fixed")
    assert result.k == 2
    assert result.studies[0].yi == pytest.approx(math.log((0.5 / 41) / (3.5 / 41)))


def test_weights_are_percent_of_inverse_variance_weights():
    result = pool(HOMOGENEOUS, model="fixed")
    w = 1 / HOMOGENEOUS.vi
    np.testing.assert_allclose([r.weight for r in result.studies], 100 * w / w.sum())


def test_freeman_tukey_pooled_value_uses_harmonic_mean_back_transformation():
    effects = escalc_proportion("PFT", ["a", "b", "c"], [0, 5, 30], [20, 40, 30])
    result = pool(effects, model="random", method="DL")
    nhm = harmonic_mean(np.array([20, 40, 30]))
    assert result.estimate_bt == pytest.approx(float(ipft(result.estimate, nhm)))
    assert result.studies[0].yi_bt == pytest.approx(0.0, abs=1e-9)
    assert result.studies[2].yi_bt == pytest.approx(1.0, abs=1e-9)


def test_logit_proportions_back_transform_with_inverse_logit():
    effects = escalc_proportion("PLO", ["a", "b"], [3, 10], [20, 40])
    result = pool(effects, model="fixed")
    assert result.estimate_bt == pytest.approx(1 / (1 + math.exp(-result.estimate)))


def test_to_dict_has_the_agreed_keys_and_tval_with_hksj():
    result = pool(HOMOGENEOUS, model="random", method="DL", hksj=True)
    d = result.to_dict()
    for key in (
        "k",
        "estimate",
        "se",
        "ci_lb",
        "ci_ub",
        "tval",
        "df",
        "pval",
        "tau2",
        "tau2_ci_lb",
        "tau2_ci_ub",
        "I2",
        "H2",
        "Q",
        "Q_df",
        "Q_p",
        "pi_lb",
        "pi_ub",
        "method",
        "measure",
        "studies",
        "estimate_bt",
        "ci_lb_bt",
        "ci_ub_bt",
        "pi_lb_bt",
        "pi_ub_bt",
    ):
        assert key in d, key
    assert "zval" not in d
    assert set(d["studies"][0]) >= {"study", "yi", "vi", "sei", "ci_lb", "ci_ub", "weight"}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"model": "fixed", "method": "DL"}, "random-effects"),
        ({"model": "random", "method": "MH"}, "not a tau² estimator"),
        ({"model": "fixed", "hksj": True}, "HKSJ"),
        ({"model": "bayesian"}, "model must be"),
    ],
)
def test_incompatible_options_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        pool(HOMOGENEOUS, **kwargs)


def test_mantel_haenszel_needs_counts():
    with pytest.raises(ValueError, match="2x2 counts"):
        pool(HOMOGENEOUS, model="fixed", method="MH")


def test_subgroup_with_a_single_study_is_pooled_as_that_study():
    groups = ["x", "x", "x", "y"]
    result = subgroup_analysis(HOMOGENEOUS, groups, model="random", method="REML")
    single = result.groups["y"]
    assert single.k == 1 and single.estimate == pytest.approx(HOMOGENEOUS.yi[3])
    assert result.df == 1


def test_leave_one_out_omits_each_study_once():
    loo = leave_one_out(HOMOGENEOUS, model="fixed")
    assert loo.omitted == HOMOGENEOUS.labels
    assert [r.k for r in loo.results] == [3, 3, 3, 3]
    assert loo.to_dict()["leave_one_out"][0]["omitted"] == "a"
