"""The sample-based recall interval and the stopping rules of reviewapp.screening.ranking.recall."""

from pathlib import Path

import numpy as np
import pytest
from scipy.stats import hypergeom

from reviewapp.screening.ranking import labelled_csv_read, simulate
from reviewapp.screening.ranking.recall import (
    budget_stop,
    includes_interval,
    knee_slope_ratio,
    knee_stop,
    sample_interleave,
    sample_order,
    sample_prefix,
    sample_recall,
    sample_stop,
    stop_points,
    target_size,
    target_stop,
)

LABELLED = Path(__file__).resolve().parent.parent / "fixtures/labelled"


@pytest.mark.parametrize(("population", "draws"), [(40, 5), (60, 20), (30, 30)])
def test_includes_interval_covers_every_true_count_at_least_95_percent(population, draws):
    # Exact coverage, summed over every possible sample, for every true include count K.
    hits = np.arange(draws + 1)
    intervals = [includes_interval(population, draws, int(k)) for k in hits]
    for true in range(population + 1):
        pmf = hypergeom.pmf(hits, population, true, draws)
        covered = sum(
            p for (low, high), p in zip(intervals, pmf, strict=True) if low <= true <= high
        )
        assert covered >= 0.95 - 1e-9, (true, covered)


def test_includes_interval_bounds():
    assert includes_interval(100, 0, 0) == (0, 100)
    # Everything sampled: the count is known.
    assert includes_interval(30, 30, 7) == (7, 7)
    low, high = includes_interval(100, 10, 0)
    assert low == 0 and 0 < high < 100
    with pytest.raises(ValueError, match="hits <= draws"):
        includes_interval(10, 3, 4)


def test_sample_recall_without_a_sample_gives_only_what_is_certain():
    est = sample_recall(n_total=100, found=5, screened=20, sample_size=0, sample_includes=0)
    assert not est.has_estimate
    assert est.recall_low == pytest.approx(5 / 85)  # every unscreened record an include
    assert est.recall_high == 1.0
    assert est.contains(0.5)


def test_sample_recall_interval_is_narrowed_by_the_found_includes():
    # A sample of 10 with no include still allows up to ~26 includes; 8 are already found, so
    # recall is at most 1 and at least 8 / (8 + remaining_high).
    est = sample_recall(n_total=100, found=8, screened=30, sample_size=10, sample_includes=0)
    assert est.remaining_low == 0
    assert est.recall_high == 1.0
    assert est.recall == 1.0  # point estimate 0 includes, held at the 8 found
    assert 0 < est.recall_low < 0.5
    with pytest.raises(ValueError, match="sample must lie among"):
        sample_recall(n_total=100, found=1, screened=5, sample_size=6, sample_includes=0)


def test_sample_prefix_stops_at_the_limit_and_at_the_first_unknown():
    order = [4, 2, 7, 1, 0]
    known = {4: 1, 2: 0, 7: 1, 0: 1}
    assert sample_prefix(order, known, limit=2) == (2, 1)
    assert sample_prefix(order, known, limit=10) == (3, 2)  # record 1 unknown
    assert sample_prefix(order, known, limit=0) == (0, 0)


def test_interleave_draws_the_sample_at_every_tenth_record():
    ranked = list(range(50))
    sample_order = [49, 3, 48, 47, 46]
    out = sample_interleave(ranked, sample_order, 10)
    assert sorted(out) == ranked
    assert out[9] == 49  # first draw, not yet screened
    assert 3 in out[:4] and out[19] != 3  # second draw already screened: free, ranking goes on
    assert out[29] == 48


def test_sample_interval_is_calibrated_along_a_simulated_review():
    # Rough check of what bench/recall_calibration_bench.py measures at scale: one ranking of a
    # small labelled set, 150 random sample orders; at each share screened the 95% interval
    # must contain the true recall in at least ~93% of them (exactness gives >= 95% in
    # expectation; 150 draws leave a few points of noise).
    data = labelled_csv_read(LABELLED / "Cohen_2006_Antihistamines.csv")
    y = np.asarray(data.labels)
    priors = [int(np.flatnonzero(y == 1)[0]), int(np.flatnonzero(y == 0)[0])]
    ranked = simulate(data.texts, data.labels, priors, retrain_every=31).order
    n, total = y.size, int(y.sum())
    coverage = {}
    for f in (0.1, 0.3, 0.5, 0.8):
        t = int(f * n)
        hits = []
        for s in range(150):
            sample_order = np.random.default_rng(s).permutation(n)
            order = sample_interleave(ranked, sample_order, 10)
            known = {r: int(y[r]) for r in order[:t]}
            m, k = sample_prefix(sample_order, known, t // 10)
            assert m == t // 10
            found = int(y[order[:t]].sum())
            est = sample_recall(
                n_total=n, found=found, screened=t, sample_size=m, sample_includes=k
            )
            hits.append(est.contains(found / total))
        coverage[f] = np.mean(hits)
    assert min(coverage.values()) >= 0.9, coverage


def test_knee_slope_ratio_of_a_sharp_knee():
    # 10 includes in the first 10 records, then 90 excludes: the knee at 10 gives
    # (10 / 10) / ((0 + 1) / 90) = 90.
    curve = np.cumsum([1] * 10 + [0] * 90)
    assert knee_slope_ratio(curve) == pytest.approx(90)


def test_knee_stop_needs_the_minimum_rank_and_a_steep_enough_knee():
    labels = [1] * 10 + [0] * 1000
    # Threshold 156 - 10 = 146: at rank s the ratio is (s - 10) / 1, first >= 146 at s = 156.
    assert knee_stop(labels) == 156
    assert knee_stop([0] * 500) is None
    assert knee_stop([1] * 10 + [0] * 100) is None  # never reaches rank 150 with the ratio


def test_budget_stop_stops_at_three_quarters_at_the_latest():
    assert budget_stop([0] * 100, 100) == 75
    # 10 includes first: ratio >= 6 from rank 70, but s >= 10 * 1000 / 10 = 1000 is required;
    # the 75% budget (750) comes first.
    assert budget_stop([1] * 10 + [0] * 990, 1000) == 750


def test_target_size_and_target_stop():
    assert target_size(0.95, 0.95) == 59
    assert target_size(0.7, 0.95) == 9
    y = np.zeros(200, dtype=int)
    y[:20] = 1
    ranked = list(range(200))
    # Fewer includes than targets: the method cannot be met.
    assert target_stop(ranked, y, list(range(199, -1, -1))) is None
    screened, found = target_stop(ranked, y, list(range(199, -1, -1)), target=0.7, confidence=0.8)
    assert found == 20 and screened == 200  # the sample walked through everything first


def test_sample_stop_reaches_the_target_on_random_and_on_good_rankings():
    rng = np.random.default_rng(0)
    safe = 0
    runs = 40
    for seed in range(runs):
        y = np.zeros(400, dtype=int)
        y[rng.choice(400, 30, replace=False)] = 1
        # A good ranking: includes likelier first (weighted sampling without replacement).
        keys = rng.random(400) ** (1 / np.where(y == 1, 8.0, 1.0))
        ranked = list(np.argsort(-keys))
        screened, found = sample_stop(ranked, y, seed=seed)
        assert 0 < screened <= 400
        safe += found / 30 >= 0.95
    assert safe / runs >= 0.9


def test_sample_stop_with_no_include_screens_everything():
    y = np.zeros(50, dtype=int)
    assert sample_stop(list(range(50)), y) == (50, 0)


def test_sample_order_is_fixed_by_its_salt_and_keeps_places_when_records_are_added():
    first = sample_order(range(100), "recall-sample:1:ta")
    assert sorted(first) == list(range(100))
    assert first == sample_order(list(range(99, -1, -1)), "recall-sample:1:ta")
    assert first != sample_order(range(100), "recall-sample:2:ta")
    grown = sample_order(range(120), "recall-sample:1:ta")
    assert [r for r in grown if r < 100] == first


def test_stop_points_of_a_perfect_ranking():
    y = [1] * 20 + [0] * 380
    points = stop_points(list(range(400)), y, seed=0)
    assert set(points) == {"oracle", "cmh", "knee", "budget", "rank_then_sample", "target"}
    assert points["oracle"] == (19, 0.95)
    # Every include comes first, so every rule that stops after the 20th record has all of them.
    for rule in ("cmh", "knee", "rank_then_sample"):
        screened, recall = points[rule]
        assert 20 <= screened <= 400 and recall == 1.0, rule
    assert points["target"] == (400, 1.0)  # 20 includes < 59 targets: screen everything
