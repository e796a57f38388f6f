"""Cohen's kappa and percent agreement (pure), and their CSV export."""

import csv
import io

import pytest
from django.urls import reverse

from reviewapp.screening.agreement import cohen_kappa, pair_agreement, pairwise
from reviewapp.screening.services import decision_record
from tests.conftest import membership_of


def test_kappa_matches_the_textbook_example():
    # Wikipedia, "Cohen's kappa", worked example: 50 grant proposals read by two readers;
    # both yes 20, A yes/B no 5, A no/B yes 10, both no 15 -> p_o = 0.70, p_e = 0.50, kappa = 0.40.
    pairs = [("y", "y")] * 20 + [("y", "n")] * 5 + [("n", "y")] * 10 + [("n", "n")] * 15
    result = cohen_kappa(pairs)
    assert result.n == 50
    assert result.percent == pytest.approx(70.0)
    assert result.kappa == pytest.approx(0.40)


def test_kappa_matches_a_hand_computed_three_category_example():
    # Computed by hand: n = 220, agreements 50 + 60 + 10 = 120, so p_o = 120/220;
    # A's totals 100, 90, 30 and B's 80, 110, 30, so p_e = (100*80 + 90*110 + 30*30) / 220^2
    # = 18800/48400; kappa = (p_o - p_e) / (1 - p_e) = 0.2568 (to 4 places).
    table = {
        ("1", "1"): 50, ("1", "2"): 40, ("1", "3"): 10,
        ("2", "1"): 20, ("2", "2"): 60, ("2", "3"): 10,
        ("3", "1"): 10, ("3", "2"): 10, ("3", "3"): 10,
    }  # fmt: skip
    pairs = [cell for cell, count in table.items() for _ in range(count)]
    p_o, p_e = 120 / 220, 18800 / 48400
    assert cohen_kappa(pairs).kappa == pytest.approx((p_o - p_e) / (1 - p_e))
    assert cohen_kappa(pairs).kappa == pytest.approx(0.2568, abs=1e-4)


def test_kappa_is_undefined_without_records_or_when_both_always_say_the_same():
    assert cohen_kappa([]).kappa is None
    assert cohen_kappa([("include", "include")] * 3).kappa is None
    assert cohen_kappa([("include", "include")] * 3).percent == 100


def test_agreement_counts_only_records_both_screened():
    a = {1: "include", 2: "exclude", 3: "exclude"}
    b = {2: "exclude", 3: "include", 4: "include"}
    result = pair_agreement(a, b)
    assert (result.n, result.agreed) == (2, 1)


def test_pooled_agreement_puts_every_pair_in_one_table():
    pooled, pairs = pairwise(
        {1: {10: "include"}, 2: {10: "include", 11: "exclude"}, 3: {11: "include"}}
    )
    assert set(pairs) == {(1, 2), (2, 3)}
    assert (pooled.n, pooled.agreed) == (2, 1)


def test_the_agreement_csv_lists_each_stage_and_pair(client, review, reviewer, reviewer2, records):
    for user, values in (
        (reviewer, ["include", "exclude", "exclude"]),
        (reviewer2, ["include", "include", "exclude"]),
    ):
        for record, value in zip(records, values, strict=True):
            decision_record(
                membership=membership_of(user, review), record=record, stage="ta", value=value
            )
    client.force_login(reviewer)
    response = client.get(reverse("screening:agreement-csv", args=[review.slug]))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    pair = next(r for r in rows if r["reviewer_b"])
    assert {pair["reviewer_a"], pair["reviewer_b"]} == {"rita", "ravi"}
    assert (pair["records_both_screened"], pair["agreed"], pair["percent_agreement"]) == (
        "3",
        "2",
        "66.7",
    )
    # 2x2: include/include 1, exclude/include 1, exclude/exclude 1: p_o 2/3, p_e 4/9 -> kappa 0.4.
    assert pair["cohen_kappa"] == "0.400"


def test_the_dashboard_shows_agreement(client, review, owner, reviewer, reviewer2, records):
    for user in (reviewer, reviewer2):
        decision_record(
            membership=membership_of(user, review), record=records[0], stage="ta", value="include"
        )
    client.force_login(owner)
    response = client.get(reverse("reviews:review-detail", args=[review.slug]))
    assert "Cohen" in response.content.decode()
    assert any(row.n == 1 for row in response.context["agreement"] if row.reviewer_b)
