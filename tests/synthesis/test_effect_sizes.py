"""Effect sizes: metafor escalc() conventions for zero cells, proportions of 0 and 1, and
input validation. Expected values are the escalc() formulas (metafor docs, escalc.r) evaluated
on the corrected counts, not copied numbers.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from reviewapp.synthesis.stats import (
    StudyDataError,
    escalc_binary,
    escalc_generic,
    escalc_means,
    escalc_proportion,
)
from reviewapp.synthesis.stats.transforms import back_transform, ipft, pft


def test_zero_cell_gets_half_added_to_every_cell_of_that_study_only():
    effects = escalc_binary("OR", ["zero", "full"], [0, 4], [10, 119], [3, 11], [12, 128])
    a, b, c, d = 0.5, 10.5, 3.5, 12.5
    assert effects.yi[0] == pytest.approx(math.log(a * d / (b * c)))
    assert effects.vi[0] == pytest.approx(1 / a + 1 / b + 1 / c + 1 / d)
    assert effects.yi[1] == pytest.approx(math.log(4 * 128 / (119 * 11)))
    assert effects.corrected == ("zero",)


def test_zero_cell_log_risk_ratio_uses_corrected_group_sizes():
    effects = escalc_binary("RR", ["s"], [0], [20], [5], [15])
    assert effects.yi[0] == pytest.approx(math.log((0.5 / 21) / (5.5 / 21)))
    assert effects.vi[0] == pytest.approx(1 / 0.5 - 1 / 21 + 1 / 5.5 - 1 / 21)


@pytest.mark.parametrize("measure", ["OR", "RR"])
def test_double_zero_study_is_excluded_from_ratio_measures_and_reported(measure):
    effects = escalc_binary(measure, ["none", "some"], [0, 3], [50, 47], [0, 6], [50, 44])
    assert effects.labels == ("some",)
    assert [e.label for e in effects.excluded] == ["none"]
    assert "no events" in effects.excluded[0].reason


def test_all_events_in_both_arms_is_excluded_from_ratio_measures():
    effects = escalc_binary("OR", ["all", "some"], [20, 3], [0, 47], [30, 6], [0, 44])
    assert [e.label for e in effects.excluded] == ["all"]
    assert "all participants" in effects.excluded[0].reason


def test_double_zero_study_is_kept_for_the_risk_difference():
    effects = escalc_binary("RD", ["none", "some"], [0, 3], [50, 47], [0, 6], [50, 44])
    assert effects.labels == ("none", "some")
    assert effects.excluded == ()
    assert effects.yi[0] == pytest.approx(0.0)


def test_smd_is_hedges_g_with_exact_gamma_correction():
    effects = escalc_means("SMD", ["s"], [10.0], [2.0], [12], [8.0], [3.0], [10])
    m = 12 + 10 - 2
    sdp = math.sqrt((11 * 4 + 9 * 9) / m)
    cm = math.exp(math.lgamma(m / 2) - math.log(math.sqrt(m / 2)) - math.lgamma((m - 1) / 2))
    g = cm * 2.0 / sdp
    assert effects.yi[0] == pytest.approx(g)
    assert effects.vi[0] == pytest.approx(1 / 12 + 1 / 10 + g**2 / (2 * 22))


def test_mean_difference_uses_unpooled_variances():
    effects = escalc_means("MD", ["s"], [10.0], [2.0], [12], [8.0], [3.0], [10])
    assert effects.yi[0] == pytest.approx(2.0)
    assert effects.vi[0] == pytest.approx(4 / 12 + 9 / 10)


@pytest.mark.parametrize("x", [0, 25])
def test_raw_proportion_of_0_or_1_gets_metafor_correction(x):
    effects = escalc_proportion("PR", ["s"], [x], [25])
    p = (x + 0.5) / 26
    assert effects.yi[0] == pytest.approx(p)
    assert effects.vi[0] == pytest.approx(p * (1 - p) / 26)
    assert effects.corrected == ("s",)


@pytest.mark.parametrize("x", [0, 25])
def test_logit_proportion_of_0_or_1_gets_half_added(x):
    effects = escalc_proportion("PLO", ["s"], [x], [25])
    assert effects.yi[0] == pytest.approx(math.log((x + 0.5) / (25 - x + 0.5)))
    assert effects.vi[0] == pytest.approx(1 / (x + 0.5) + 1 / (25 - x + 0.5))


@pytest.mark.parametrize(("x", "expected_p"), [(0, 0.0), (25, 1.0)])
def test_freeman_tukey_proportion_of_0_or_1_needs_no_correction_and_back_transforms(x, expected_p):
    effects = escalc_proportion("PFT", ["s"], [x], [25])
    assert effects.yi[0] == pytest.approx(float(pft(x / 25, 25)))
    assert effects.vi[0] == pytest.approx(1 / (4 * 25 + 2))
    assert float(back_transform(effects.yi[0], "ipft", 25)) == pytest.approx(expected_p, abs=1e-9)


@pytest.mark.parametrize("p", [0.0, 0.03, 0.2, 0.5, 0.77, 1.0])
def test_inverse_freeman_tukey_undoes_the_transformation(p):
    """Miller (1978): the inverse recovers p from the double arcsine for known n."""
    assert float(ipft(pft(p, 40), 40)) == pytest.approx(p, abs=1e-9)


def test_generic_ratio_ci_is_taken_to_the_log_scale():
    effects = escalc_generic(["s"], estimate=[0.5], lower=[0.25], upper=[1.0], ratio=True)
    assert effects.yi[0] == pytest.approx(math.log(0.5))
    z = 1.959963984540054  # Φ^-1(0.975)
    assert effects.sei[0] == pytest.approx((math.log(1.0) - math.log(0.25)) / (2 * z))
    assert effects.transform == "exp"


def test_generic_accepts_variance_or_standard_error():
    by_se = escalc_generic(["a", "b"], yi=[0.1, 0.2], sei=[0.3, 0.4])
    by_vi = escalc_generic(["a", "b"], yi=[0.1, 0.2], vi=[0.09, 0.16])
    np.testing.assert_allclose(by_se.vi, by_vi.vi)


@pytest.mark.parametrize(
    ("call", "study", "field"),
    [
        (lambda: escalc_binary("OR", ["A", "B"], [1, -1], [5, 5], [1, 1], [5, 5]), "B", "ai"),
        (lambda: escalc_binary("RR", ["A"], [0], [0], [1], [5]), "A", "ai+bi"),
        (lambda: escalc_proportion("PR", ["A", "B"], [3, 12], [10, 10]), "B", "xi"),
        (lambda: escalc_proportion("PLO", ["A"], [-1], [10]), "A", "xi"),
        (lambda: escalc_proportion("PFT", ["A"], [0], [0]), "A", "ni"),
        (lambda: escalc_means("MD", ["A"], [1], [0], [10], [1], [1], [10]), "A", "sd1i"),
        (lambda: escalc_means("SMD", ["A"], [1], [1], [10], [1], [-2], [10]), "A", "sd2i"),
        (lambda: escalc_generic(["A"], estimate=[2.0], lower=[0.5], upper=[1.5]), "A", "estimate"),
        (lambda: escalc_generic(["A"], estimate=[1.0], lower=[1.5], upper=[0.5]), "A", "lower"),
        (
            lambda: escalc_generic(["A"], estimate=[0.0], lower=[-1.0], upper=[1.0], ratio=True),
            "A",
            "estimate",
        ),
        (lambda: escalc_generic(["A"], yi=[0.1], sei=[0.0]), "A", "sei"),
        (lambda: escalc_generic(["A"], yi=[float("nan")], sei=[0.1]), "A", "yi"),
    ],
)
def test_bad_input_raises_value_error_naming_study_and_field(call, study, field):
    with pytest.raises(StudyDataError) as info:
        call()
    assert isinstance(info.value, ValueError)
    assert info.value.study == study
    assert info.value.field == field
    assert repr(study) in str(info.value) and field in str(info.value)
