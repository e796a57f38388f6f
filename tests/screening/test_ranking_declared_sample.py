"""The declared random-sample stopping rule of reviewapp.screening.ranking.recall: its size, its
test, its bound, and the guarantee that makes it a stopping rule."""

import math

import numpy as np
import pytest
from scipy.stats import hypergeom

from reviewapp.screening.ranking.recall import (
    declared_sample_stop,
    sample_remaining_bound,
    sample_size_for_stop,
    sample_test,
)


def _p_none(unscreened: int, includes: int, draws: int) -> float:
    """P(no include in a random sample) = C(U - K, n) / C(U, n), the hypergeometric pmf at 0."""
    return math.comb(unscreened - includes, draws) / math.comb(unscreened, draws)


@pytest.mark.parametrize(
    ("unscreened", "found", "target", "confidence"),
    [(1000, 40, 0.95, 0.95), (10, 5, 0.8, 0.9), (2500, 136, 0.95, 0.95), (300, 16, 0.9, 0.99)],
)
def test_the_sample_size_is_the_smallest_whose_empty_sample_rejects_short_recall(
    unscreened, found, target, confidence
):
    # Recall < target needs more than found / target includes in all: K0 left unfound.
    k0 = math.floor(found / target) + 1 - found
    n = sample_size_for_stop(
        unscreened=unscreened, found=found, target=target, confidence=confidence
    )
    assert _p_none(unscreened, k0, n) < 1 - confidence <= _p_none(unscreened, k0, n - 1)
    test = dict(unscreened=unscreened, found_before=found, target=target, confidence=confidence)
    assert sample_test(draws=n, hits=0, **test) < 1 - confidence
    assert sample_test(draws=n - 1, hits=0, **test) >= 1 - confidence


def test_with_no_include_found_the_sample_is_nearly_everything():
    # K0 = 1: P(miss the one include) = 1 - n / U must fall below 5%.
    assert sample_size_for_stop(unscreened=1000, found=0) == 951


def test_the_worked_example_of_ten_records_left():
    # 5 found, target 80%: recall falls short with 2 or more unfound among the 10 left. An empty
    # sample of n has probability (10 - n)(9 - n) / 90 under K = 2: 6/90 < 0.1 at n = 7 only.
    assert sample_size_for_stop(unscreened=10, found=5, target=0.8, confidence=0.9) == 7
    p = sample_test(unscreened=10, found_before=5, draws=7, hits=0, target=0.8, confidence=0.9)
    assert p == pytest.approx(6 / 90)
    # With no include in 7 of 10, at most 1 can be among the other 3 (90%): K = 2 is rejected.
    assert sample_remaining_bound(unscreened=10, draws=7, hits=0, confidence=0.9) == 1


@pytest.mark.parametrize(
    ("unscreened", "found", "target", "confidence"),
    [(200, 20, 0.95, 0.95), (60, 8, 0.8, 0.9), (500, 40, 0.95, 0.95)],
)
def test_the_rule_stops_short_of_the_target_at_most_one_minus_confidence_of_the_time(
    unscreened, found, target, confidence
):
    """Exact, over every outcome of the sample, for every true count K of includes left: the
    probability that the rule says stop while recall at the stop is below target."""
    n = sample_size_for_stop(
        unscreened=unscreened, found=found, target=target, confidence=confidence
    )
    hits = np.arange(n + 1)
    p = [
        sample_test(
            unscreened=unscreened,
            found_before=found,
            draws=n,
            hits=int(h),
            target=target,
            confidence=confidence,
        )
        for h in hits
    ]
    worst = 0.0
    for true in range(unscreened + 1):
        pmf = hypergeom.pmf(hits, unscreened, true, n)
        short = (found + hits) / (found + true) < target
        stops = np.asarray(p) < 1 - confidence
        worst = max(worst, float(pmf[short & stops].sum()))
    assert worst <= 1 - confidence + 1e-12


def test_the_bound_holds_at_its_confidence_for_every_true_count():
    unscreened, draws = 80, 30
    hits = np.arange(draws + 1)
    bounds = [sample_remaining_bound(unscreened=unscreened, draws=draws, hits=int(h)) for h in hits]
    for true in range(unscreened + 1):
        pmf = hypergeom.pmf(hits, unscreened, true, draws)
        covered = sum(q for h, b, q in zip(hits, bounds, pmf, strict=True) if true - h <= b)
        assert covered >= 0.95 - 1e-9, (true, covered)


def test_the_simulated_rule_screens_the_ranking_then_the_sample_and_stops_past_the_target():
    rng = np.random.default_rng(3)
    labels = np.zeros(2000, dtype=int)
    labels[rng.choice(2000, 40, replace=False)] = 1
    # A ranking that finds 38 of the 40 includes in its first 300 records.
    includes = np.flatnonzero(labels)
    excludes = np.flatnonzero(labels == 0)
    ranked = [*includes[:38], *excludes[:262], *includes[38:], *excludes[262:]]
    screened, found = declared_sample_stop(ranked, labels, seed=1)
    assert found >= 38
    # 300 ranked, then a run of 100 excludes, then the declared sample of the 1,600 left.
    left = 2000 - 400
    size = sample_size_for_stop(unscreened=left, found=38)
    assert screened in (400 + size, 2000)
