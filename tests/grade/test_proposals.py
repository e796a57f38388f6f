"""The pure GRADE proposals and summary-of-findings arithmetic (reviewapp/grade/proposals.py).

Worked examples: the OIS from the textbook sample-size formula (GRADE 6, GRADE handbook 5.2.2.1)
computed by hand below; absolute effects per 1,000 from the formulas of the GRADE handbook 5.2.4
and the Cochrane Handbook 15.4.4, worked by hand in each test's comment.
"""

import pytest

from reviewapp.grade import proposals as p


def test_randomised_evidence_starts_high_and_observational_low():
    # GRADE 3 (Balshem et al. 2011): RCTs start High, observational studies Low.
    assert p.certainty(p.RANDOMISED, {}) == (4, "High")
    assert p.certainty(p.OBSERVATIONAL, {}) == (2, "Low")


def test_each_serious_concern_takes_one_level_and_very_serious_two():
    judged = {p.RISK_OF_BIAS: p.SERIOUS, p.IMPRECISION: p.VERY_SERIOUS}
    assert p.certainty(p.RANDOMISED, judged) == (1, "Very low")
    assert p.certainty(p.RANDOMISED, {p.INCONSISTENCY: p.SERIOUS}) == (3, "Moderate")


def test_upgrades_add_levels_and_certainty_stays_between_very_low_and_high():
    assert p.certainty(p.OBSERVATIONAL, {p.LARGE_EFFECT: p.PLUS2}) == (4, "High")
    assert p.certainty(p.OBSERVATIONAL, {p.LARGE_EFFECT: p.PLUS2, p.CONFOUNDING: p.PLUS1}) == (
        4,
        "High",
    )
    assert p.certainty(p.OBSERVATIONAL, {p.RISK_OF_BIAS: p.VERY_SERIOUS}) == (1, "Very low")


def test_risk_of_bias_follows_the_share_of_weight_from_high_risk_studies():
    # 60% of the weight from a high-risk study: very serious.
    proposal = p.risk_of_bias([(60, "high"), (40, "low")])
    assert proposal.judgement == p.VERY_SERIOUS
    assert "60% comes from studies at high risk" in proposal.reason
    # 25%: serious. Weights on any scale (here, raw inverse variances).
    assert p.risk_of_bias([(1, "high"), (3, "low")]).judgement == p.SERIOUS
    # 10% high, 30% some concerns, 60% low: most from low risk.
    proposal = p.risk_of_bias([(10, "high"), (30, "some"), (60, "low")])
    assert proposal.judgement == p.NO
    assert "60% from studies at low risk" in proposal.reason


def test_risk_of_bias_counts_robins_levels_and_unassessed_studies():
    # ROBINS-I's serious counts as high risk, moderate as some concerns.
    assert p.risk_of_bias([(30, "serious"), (70, "low")]).judgement == p.SERIOUS
    proposal = p.risk_of_bias([(30, "moderate"), (30, None), (40, "low")])
    assert proposal.judgement == p.SERIOUS
    assert "30% from studies not assessed" in proposal.reason
    assert p.risk_of_bias([(50, None), (50, "no-info")]).judgement is None
    assert p.risk_of_bias([]).judgement is None


def test_inconsistency_from_i2_and_the_prediction_interval():
    ci, pi = (1.2, 1.8), (0.7, 3.0)
    very = p.inconsistency(k=8, i2=80, ci=ci, pi=pi, null=1)
    assert very.judgement == p.VERY_SERIOUS
    assert "I² = 80%" in very.reason and "0.70 to 3.00 includes no effect" in very.reason
    assert p.inconsistency(k=8, i2=55, ci=ci, pi=(1.1, 2.0), null=1).judgement == p.SERIOUS
    # Low I², but the prediction interval reaches the other side of no effect.
    assert p.inconsistency(k=8, i2=30, ci=ci, pi=pi, null=1).judgement == p.SERIOUS
    assert p.inconsistency(k=8, i2=10, ci=ci, pi=(1.1, 1.9), null=1).judgement == p.NO
    assert p.inconsistency(k=1, i2=0, ci=ci, pi=None, null=1).judgement == p.NO
    # Differences: no effect is 0.
    assert p.inconsistency(k=5, i2=20, ci=(0.5, 2), pi=(-1, 4), null=0).judgement == p.SERIOUS


def test_optimal_information_size_worked_example():
    # p0 = 0.20, RRR 25% -> p1 = 0.15; (1.959964 + 0.841621)^2 = 7.84888;
    # p0(1-p0) + p1(1-p1) = 0.16 + 0.1275 = 0.2875; (p0 - p1)^2 = 0.0025;
    # 7.84888 x 0.2875 / 0.0025 = 902.6 -> 903 per group, 1,806 in all.
    assert p.optimal_information_size(baseline_risk=0.20, rrr=0.25) == 1806
    # A rarer outcome needs more: p0 = 0.05, RRR 25% -> p1 = 0.0375; 0.0475 + 0.036094 =
    # 0.083594; x 7.84888 / 0.00015625 = 4,199.2 -> 4,200 per group.
    assert p.optimal_information_size(baseline_risk=0.05, rrr=0.25) == 8400
    with pytest.raises(ValueError, match="baseline risk"):
        p.optimal_information_size(baseline_risk=0, rrr=0.25)


def test_imprecision_compares_the_ci_with_the_thresholds_and_the_ois():
    t = p.RATIO_THRESHOLDS
    # Includes appreciable benefit and appreciable harm: two levels (GRADE 34).
    both = p.imprecision(ci=(0.6, 1.4), null=1, thresholds=t, participants=5000, ois=1806)
    assert both.judgement == p.VERY_SERIOUS
    # No effect and appreciable benefit: one level even with the OIS met (GRADE 6).
    one = p.imprecision(ci=(0.6, 1.1), null=1, thresholds=t, participants=5000, ois=1806)
    assert one.judgement == p.SERIOUS
    # Excludes no effect, but too few participants.
    short = p.imprecision(ci=(0.6, 0.9), null=1, thresholds=t, participants=900, ois=1806)
    assert short.judgement == p.SERIOUS
    assert "900 participants fall short of the optimal information size of 1,806" in short.reason
    met = p.imprecision(ci=(0.6, 0.9), null=1, thresholds=t, participants=2000, ois=1806)
    assert met.judgement == p.NO
    unchecked = p.imprecision(ci=(0.6, 0.9), null=1, thresholds=t, participants=None, ois=1806)
    assert unchecked.judgement == p.NO and "lacks the participants" in unchecked.reason
    # A difference without thresholds: including 0 is all the app can say.
    assert p.imprecision(
        ci=(-1, 2), null=0, thresholds=None, participants=10, ois=None
    ).judgement == (p.SERIOUS)


def test_publication_bias_uses_egger_only_from_ten_studies():
    few = p.publication_bias(k=6, egger_p=0.01)
    assert few.judgement == p.NO and "fewer than 10" in few.reason
    assert p.publication_bias(k=12, egger_p=0.03).judgement == p.SERIOUS
    assert p.publication_bias(k=12, egger_p=0.40).judgement == p.NO
    assert p.publication_bias(k=12, egger_p=None).judgement is None


def test_large_effect_rates_up_observational_evidence_only():
    kw = {"ratio": True, "ci": (2.5, 4.0), "rated_down": False}
    assert p.large_effect(estimate=3.1, design=p.OBSERVATIONAL, **kw).judgement == p.PLUS1
    assert p.large_effect(estimate=0.15, design=p.OBSERVATIONAL, **kw).judgement == p.PLUS2
    assert p.large_effect(estimate=1.9, design=p.OBSERVATIONAL, **kw).judgement == p.NONE
    assert p.large_effect(estimate=3.1, design=p.RANDOMISED, **kw).judgement == p.NONE
    kw["rated_down"] = True
    assert p.large_effect(estimate=6, design=p.OBSERVATIONAL, **kw).judgement == p.NONE


def test_domains_the_data_cannot_judge_propose_nothing():
    for proposal in (p.indirectness(), p.dose_response(), p.confounding()):
        assert proposal.judgement is None and proposal.reason


def test_absolute_effect_of_a_risk_ratio():
    # Baseline 200 per 1,000, RR 0.75 (0.60 to 0.90): 200 x (0.75 - 1) = 50 fewer;
    # 200 x -0.40 = 80 fewer; 200 x -0.10 = 20 fewer. Corresponding risk 150 (120 to 180).
    effect = p.absolute_effect(kind="RR", estimate=0.75, ci=(0.60, 0.90), baseline_per_1000=200)
    assert effect.corresponding == pytest.approx((150, 120, 180))
    assert effect.difference == pytest.approx((-50, -80, -20))
    assert effect.text() == "50 fewer per 1,000 (from 80 fewer to 20 fewer)"


def test_absolute_effect_of_an_odds_ratio():
    # OR 0.5 at 200 per 1,000: 0.5 x 0.2 / (1 - 0.2 + 0.5 x 0.2) = 0.1 / 0.9 = 111.1 per 1,000,
    # 88.9 fewer. OR 2 at 0.2: 0.4 / 1.2 = 333.3, 133 more.
    effect = p.absolute_effect(kind="OR", estimate=0.5, ci=(0.25, 2.0), baseline_per_1000=200)
    assert effect.corresponding[0] == pytest.approx(1000 / 9)
    assert effect.corresponding[2] == pytest.approx(1000 / 3)
    assert effect.text() == "89 fewer per 1,000 (from 141 fewer to 133 more)"


def test_absolute_effect_of_a_risk_difference_ignores_the_baseline():
    effect = p.absolute_effect(kind="RD", estimate=-0.05, ci=(-0.08, 0.0), baseline_per_1000=300)
    assert effect.difference == pytest.approx((-50, -80, 0))
    assert effect.text() == "50 fewer per 1,000 (from 80 fewer to 0)"
    with pytest.raises(ValueError, match="per 1,000"):
        p.absolute_effect(kind="RR", estimate=1, ci=(1, 1), baseline_per_1000=1200)
