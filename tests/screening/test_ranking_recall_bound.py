"""The recall lower bound obtained by inverting the Callaghan & Mueller-Hansen stopping test."""

import numpy as np

from reviewapp.screening.ranking.stopping import recall_estimate, recall_lower_bound, stopping_test


def _ranked_review(seed: int, n: int = 2000, includes: int = 60, screened: int = 900):
    """A review whose ranking puts includes early: the chance a record is relevant falls with
    its rank. Returns the labels of the screened part and the true recall at that point."""
    rng = np.random.default_rng(seed)
    weights = np.exp(-np.arange(n) / 150.0)
    relevant = rng.choice(n, size=includes, replace=False, p=weights / weights.sum())
    labels = np.zeros(n, dtype=int)
    labels[relevant] = 1
    seen = labels[:screened]
    return seen.tolist(), seen.sum() / includes


def test_the_bound_is_the_edge_of_what_the_test_rejects():
    labels, _truth = _ranked_review(seed=1)
    bound = recall_lower_bound(labels, 2000, confidence=0.95)
    assert 0 < bound < 1
    assert stopping_test(labels, 2000, target=bound, confidence=0.95).stop
    assert not stopping_test(labels, 2000, target=min(bound + 0.01, 0.999), confidence=0.95).stop


def test_the_bound_rarely_overstates_the_true_recall():
    # Known truth over many simulated reviews: a 95% lower bound may exceed the true recall in
    # about 5% of them at most (the test's guarantee); allow up to 10 of 100 for sampling noise.
    over = 0
    for seed in range(100):
        labels, truth = _ranked_review(seed=seed)
        over += recall_lower_bound(labels, 2000, confidence=0.95) > truth
    assert over <= 10


def test_under_a_working_ranking_the_bound_is_closer_than_the_sample_interval():
    labels, truth = _ranked_review(seed=7)
    sample_low = recall_estimate(labels, 2000, confidence=0.95).recall_low
    bound = recall_lower_bound(labels, 2000, confidence=0.95)
    assert sample_low < bound <= truth


def test_nothing_found_vouches_for_nothing_and_everything_screened_for_everything():
    assert recall_lower_bound([0, 0, 0], 10) == 0.0
    assert recall_lower_bound([1, 0, 1], 3) == 1.0
