"""QBCB (Lewis, Yang & Frieder 2021) and the counting-process rules (Sneyd & Stevenson;
Stevenson & Bin-Hezam 2023) of reviewapp.screening.ranking.recall."""

import numpy as np
import pytest
from scipy.integrate import quad
from scipy.stats import binom

from reviewapp.screening.ranking.recall import (
    _rate,
    _rate_integral,
    counting_process_stop,
    qbcb_required,
    qbcb_stop,
    target_size,
)


def test_qbcb_required_is_the_binomial_quantile_plus_one():
    for positives in (59, 80, 150):
        j = qbcb_required(positives)
        # The j-th positive is past the 95% recall point only if at most j - 1 of the r
        # positives fall among the first 95% of includes: P(Bin(r, 0.95) <= j - 1) >= 95%,
        # and j is the smallest such.
        assert binom.cdf(j - 1, positives, 0.95) >= 0.95
        assert binom.cdf(j - 2, positives, 0.95) < 0.95
    # 95% recall at 95% confidence needs as many positives as the target method's targets.
    assert qbcb_required(target_size() - 1) is None
    assert qbcb_required(target_size()) == target_size()
    # Bin(20, 0.8): P(<= 18) = 0.931, P(<= 19) = 0.988, so all 20 positives are needed.
    assert qbcb_required(20, target=0.8, confidence=0.95) == 20
    assert qbcb_required(40, target=0.8, confidence=0.95) < 40
    with pytest.raises(ValueError, match="at least one positive"):
        qbcb_required(0)


def test_qbcb_stop_reaches_the_target_in_95_percent_of_draws_on_a_poor_ranking():
    # 120 includes spread evenly through a 2,400-record ranking, the hardest case for the bound
    # (nothing ranked first): whatever the ranking, the j-th sample positive is found at recall
    # >= 95% in at least 95% of random samples.
    n, includes = 2400, 120
    y = np.zeros(n, dtype=int)
    y[:: n // includes] = 1
    ranked = list(range(n))
    rng = np.random.default_rng(7)
    runs, safe = 400, 0
    for _ in range(runs):
        hit = qbcb_stop(ranked, y, rng.permutation(n), positives=70)
        assert hit is not None
        screened, found = hit
        safe += found / includes >= 0.95
    assert safe / runs >= 0.95


def test_qbcb_stop_counts_the_sample_and_screens_everything_when_it_cannot_certify():
    y = np.zeros(300, dtype=int)
    y[:60] = 1
    ranked = list(range(300))
    # The sample walks the collection backwards: it screens all 300 records to find 59 positives.
    screened, found = qbcb_stop(ranked, y, list(range(299, -1, -1)), positives=59)
    assert (screened, found) == (300, 60)
    # A sample that ends early: records 0-59 (the includes) first, 59 positives after 59 records;
    # then the ranking finds all 59 by rank 59, so the stop is at 59 records, the sample's cost.
    screened, found = qbcb_stop(ranked, y, ranked, positives=59)
    assert (screened, found) == (59, 59)
    assert qbcb_stop(ranked, y[:300] * 0, ranked, positives=59) is None
    assert qbcb_stop(ranked, y, ranked, positives=30) is None  # no j <= 30 at 95% / 95%


def _exponential_stream(rng, n=2000, a=0.4, k=0.004):
    """Labels of a ranking whose includes arrive as an inhomogeneous Bernoulli stream with an
    exponentially falling rate: the model the exponential rule assumes."""
    return (rng.random(n) < a * np.exp(-k * np.arange(n))).astype(int)


def test_counting_process_stop_asks_more_for_a_higher_target_or_confidence():
    rng = np.random.default_rng(3)
    for _ in range(10):
        y = _exponential_stream(rng)
        for model in ("exponential", "power"):
            strict = counting_process_stop(y, model=model) or y.size
            # The predicted total only grows with the confidence, and the stop condition only
            # eases with a lower target, at the same checkpoints: never a later stop.
            assert (counting_process_stop(y, model=model, target=0.8) or y.size) <= strict
            assert (counting_process_stop(y, model=model, confidence=0.7) or y.size) <= strict
            assert (counting_process_stop(y, model=model, confidence=0.99) or y.size) >= strict


def test_counting_process_stop_stops_early_when_the_includes_dry_up():
    # The exponential rule on a stream drawn from its own model: the rate is near zero after
    # rank ~1,000, and the rule stops before three quarters of the 2,000 records.
    rng = np.random.default_rng(3)
    stops = [
        counting_process_stop(_exponential_stream(rng), model="exponential") for _ in range(20)
    ]
    assert all(t is not None for t in stops)
    assert np.median(stops) < 0.75 * 2000


def test_counting_process_stop_checks_only_every_step_and_with_enough_includes():
    rng = np.random.default_rng(4)
    y = _exponential_stream(rng)
    for model in ("power", "exponential", "hyperbolic"):
        for cox in (False, True):
            t = counting_process_stop(y, model=model, cox=cox)
            assert t is None or t % 50 == 0  # checked at every 2.5% of 2,000 records
    # Fewer than 20 includes: the rule never runs.
    few = np.zeros(1000, dtype=int)
    few[:19] = 1
    assert counting_process_stop(few) is None
    assert counting_process_stop(few, model="exponential") is None
    assert counting_process_stop(few, model="exponential", min_found=10) is not None
    with pytest.raises(ValueError, match="model"):
        counting_process_stop(few, model="logistic")
    with pytest.raises(ValueError, match="0 or 1"):
        counting_process_stop([0, 2, 1])


@pytest.mark.parametrize(
    ("model", "params"),
    [
        ("power", (0.3, -0.7)),
        ("power", (0.3, -1.0)),
        ("exponential", (0.3, 0.002)),
        ("hyperbolic", (0.3, 0.5, 0.004)),
        ("hyperbolic", (0.3, 1.0, 0.004)),  # b = 1: the harmonic rate
    ],
)
def test_rate_integrals_match_numerical_integration(model, params):
    expected, _error = quad(lambda x: float(_rate(model, np.array(x), *params)), 200, 2000)
    assert _rate_integral(model, params, 200, 2000) == pytest.approx(expected, rel=1e-6)


def test_a_hyperbolic_rate_that_blows_up_bounds_nothing():
    # k < 0 makes 1 + bkx reach zero before rank 2,000: no finite expectation.
    assert _rate_integral("hyperbolic", (0.3, 0.5, -0.004), 200, 2000) == float("inf")
