"""The hypergeometric stopping test and the recall estimate (Callaghan & Müller-Hansen 2020)."""

import numpy as np
import pytest

from reviewapp.screening.ranking import recall_estimate, stopping_test


def _review(seed, *, n=400, includes=20, bias=1.0):
    """Labels in screening order of a review with known truth: includes drawn ``bias`` times
    likelier than excludes (weighted sampling without replacement, Efraimidis & Spirakis 2006);
    bias 1 is random order, the case the test's sampling assumption describes exactly."""
    rng = np.random.default_rng(seed)
    y = np.zeros(n, dtype=int)
    y[:includes] = 1
    keys = rng.random(n) ** (1 / np.where(y == 1, bias, 1.0))
    return y[np.argsort(-keys)]


def _first_stop(y, every=10):
    for n in range(every, len(y), every):
        if stopping_test(y[:n], len(y)).stop:
            return n
    return len(y)


def test_p_value_on_a_hand_made_review():
    # 100 records; 10 includes then 40 excludes screened. r_seen = 10, so H0 (recall < 0.95)
    # needs at least floor(10 / 0.95) + 1 = 11 includes in all. Window of the last w <= 40
    # excludes: 10 found before it, so at least 1 include in an urn of 50 + w records, and
    # P(no include in w draws) = 50 / (50 + w), smallest at w = 40: 50 / 90. Longer windows
    # take in includes and give larger p (w = 41: 1 - 41*40 / (91*90) = 0.80).
    result = stopping_test([1] * 10 + [0] * 40, 100)
    assert result.p_value == pytest.approx(5 / 9)
    assert result.window == 40
    assert not result.stop


def test_screening_everything_rejects_h0():
    result = stopping_test([1, 0, 0, 1, 0], 5)
    assert result.p_value == 0.0
    assert result.stop


def test_long_run_of_excludes_after_the_includes_says_stop():
    # 1000 records; 20 includes then 900 excludes screened, 80 unseen. H0 needs
    # floor(20 / 0.95) + 1 = 22 includes, 2 of them unseen. Window of the 900 excludes: an urn
    # of 980 with 2 includes, none drawn in 900 draws: C(80, 2) / C(980, 2) = 80*79 / (980*979).
    result = stopping_test([1] * 20 + [0] * 900, 1000)
    assert result.p_value == pytest.approx(80 * 79 / (980 * 979))
    assert result.window == 900
    assert result.stop


def test_on_random_order_it_stops_before_95_percent_recall_in_at_most_alpha_of_reviews():
    # Random order is the test's own null model, so early stops are its type-I errors: expected
    # at most alpha = 5% of 100 fixed-seed reviews (we allow 8 for the repeated looks).
    early = 0
    for seed in range(100):
        y = _review(seed)
        stop = _first_stop(y)
        early += y[:stop].sum() / y.sum() < 0.95
    assert early <= 8


def test_on_a_good_ranking_it_stops_after_the_target_and_saves_work():
    stops = []
    for seed in range(20):
        y = _review(seed, bias=20.0)
        stop = _first_stop(y)
        assert y[:stop].sum() / y.sum() >= 0.95
        stops.append(stop / len(y))
    assert np.mean(stops) < 0.9


def test_recall_estimate_interval_covers_the_truth_on_random_order():
    # Exact interval at 95%: on random order the true recall should fall inside it for nearly
    # all of 60 fixed-seed reviews screened halfway.
    covered = 0
    for seed in range(60):
        y = _review(seed)
        seen = y[:200]
        est = recall_estimate(seen, len(y))
        truth = seen.sum() / y.sum()
        assert est.recall_low <= est.recall <= est.recall_high
        covered += est.recall_low <= truth <= est.recall_high
    assert covered >= 54


def test_recall_estimate_of_a_hand_made_review():
    # 100 records, 40 screened: 8 includes in the first 20, 2 in the last 20 (the default
    # window, half of those screened). Window rate 2/20 over 60 unseen: 6 includes expected
    # there, recall 10 / 16.
    est = recall_estimate([1] * 8 + [0] * 12 + [1, 1] + [0] * 18, 100)
    assert est.window == 20
    assert est.remaining == pytest.approx(6)
    assert est.recall == pytest.approx(10 / 16)
    assert est.remaining_low <= 6 <= est.remaining_high


def test_recall_estimate_with_nothing_unseen_is_exact():
    est = recall_estimate([1, 0, 1, 0], 4)
    assert (est.recall, est.recall_low, est.recall_high) == (1.0, 1.0, 1.0)


def test_inputs_are_checked():
    with pytest.raises(ValueError, match="only 2 in total"):
        stopping_test([1, 0, 0], 2)
    with pytest.raises(ValueError, match="0 or 1"):
        recall_estimate([1, 3], 5)
    with pytest.raises(ValueError, match="strictly between"):
        stopping_test([1], 5, target=1.0)
