"""WSS@95 and RRF@10 on hand-made orders (asreview-insights 1.6 definitions, Cohen et al. 2006)."""

import pytest

from reviewapp.screening.ranking import recall_at, rrf, wss


def test_wss_of_an_order_with_both_includes_first():
    # 10 records, 2 includes, both first. k = 1 (1/2 <= 0.95 < 2/2). This order finds the 1st
    # include at index 0; random order, round(linspace(0, 2, 10)) = 0,0,0,1,1,1,1,2,2,2, finds
    # it at index 3. WSS = (3 - 0) / 10.
    assert wss([1, 1, 0, 0, 0, 0, 0, 0, 0, 0]) == pytest.approx(0.3)


def test_wss_of_an_order_that_finds_the_last_include_late():
    # Includes at indices 0, 1 and 9; k = 2 (2/3 <= 0.95 < 3/3). Found at index 1; random order,
    # round(linspace(0, 3, 10)) = 0,0,1,1,1,2,2,2,3,3, finds the 2nd at index 5: (5 - 1) / 10.
    assert wss([1, 1, 0, 0, 0, 0, 0, 0, 0, 1]) == pytest.approx(0.4)


def test_wss_is_negative_when_includes_come_last():
    # Includes at indices 8 and 9; k = 1, found at 8, random order finds it at 3: (3 - 8) / 10.
    assert wss([0, 0, 0, 0, 0, 0, 0, 0, 1, 1]) == pytest.approx(-0.5)


def test_rrf10_counts_includes_in_the_first_tenth():
    # 20 records, includes at indices 0, 5 and 15: the first 2 records hold 1 of 3 includes.
    labels = [0] * 20
    for i in (0, 5, 15):
        labels[i] = 1
    assert rrf(labels) == pytest.approx(1 / 3)
    # After half the records (indices 0-9) 2 of 3 have been found.
    assert recall_at(labels, 0.5) == pytest.approx(2 / 3)


def test_rrf10_rounds_the_tenth_down():
    # 25 records: 10% is 2.5 records, so the first 2 count; the include at index 2 does not.
    labels = [0] * 25
    labels[2] = 1
    labels[20] = 1
    assert rrf(labels) == 0.0
    assert recall_at(labels, 0.12) == pytest.approx(0.5)  # 3 records: 0.12 * 25


def test_metrics_need_an_include():
    with pytest.raises(ValueError, match="include"):
        wss([0, 0, 0])
    with pytest.raises(ValueError, match="0/1"):
        rrf([0, 2])
