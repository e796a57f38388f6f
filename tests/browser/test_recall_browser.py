"""The recall estimate on the prioritisation page, in a real browser, for every role and width."""

import pytest
from django.urls import reverse

from reviewapp.screening.models import StageSettings
from reviewapp.screening.ranking.recall import sample_order
from reviewapp.screening.services import decision_record
from reviewapp.screening.stopping import stopping_rule_declare
from tests.browser.look import look
from tests.conftest import membership_of
from tests.factories import RecordFactory


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("viewport", ["wide", "phone"])
def test_the_recall_estimate_shows_its_interval_to_every_role(
    login, live_server, review, owner, reviewer, analyst, viewport
):
    StageSettings.objects.filter(review=review, stage="ta").update(reviewers_required=1)
    records = RecordFactory.create_batch(60, review=review)
    ids = sample_order(sorted(r.pk for r in records), f"recall-sample:{review.pk}:ta")
    membership = membership_of(reviewer, review)
    by_id = {r.pk: r for r in records}
    # 20 records screened in the sample's own order: the first 2 are the sample, 1 included.
    for n, rid in enumerate(ids[:20]):
        decision_record(
            membership=membership,
            record=by_id[rid],
            stage="ta",
            value="include" if n in (0, 5) else "exclude",
        )
    url = live_server.url + reverse("screening:prioritisation", args=[review.slug, "ta"])
    for user in (owner, reviewer, analyst):
        page = login(user, viewport=viewport)
        page.goto(url)
        text = page.get_by_test_id("recall-estimate").inner_text()
        assert "20 of 60 records screened, 2 included" in text
        assert "from a random sample of 2 records (1 included)" in text
        assert "95% interval" in text
        look(page, f"recall-{user.username}-{viewport}")
        page.context.close()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("viewport", ["wide", "phone"])
def test_a_declared_sample_and_the_dashboard_estimate_look_right_to_every_role(
    login, live_server, review, owner, reviewer, analyst, viewport
):
    StageSettings.objects.filter(review=review, stage="ta").update(reviewers_required=1)
    records = RecordFactory.create_batch(80, review=review)
    membership = membership_of(reviewer, review)
    for n, record in enumerate(records[:40]):
        decision_record(
            membership=membership,
            record=record,
            stage="ta",
            value="include" if n % 8 == 0 else "exclude",
        )
    rule = stopping_rule_declare(
        membership=membership_of(owner, review),
        stage="ta",
        method="random_sample",
        target_recall=0.9,
        confidence=0.95,
    )
    by_id = {r.pk: r for r in records}
    for rid in rule.sample_ids[:3]:
        decision_record(membership=membership, record=by_id[rid], stage="ta", value="exclude")
    pages = {
        "sample": reverse("screening:prioritisation", args=[review.slug, "ta"]),
        "dashboard": reverse("reviews:review-detail", args=[review.slug]),
    }
    size = len(rule.sample_ids)
    for user in (owner, reviewer, analyst):
        page = login(user, viewport=viewport)
        page.goto(live_server.url + pages["sample"])
        text = page.get_by_test_id("declared-sample").inner_text()
        assert f"{size} records drawn at random from the 40" in text
        assert f"3 of {size} settled" in text
        assert (page.get_by_role("radio").count() == 2) == (user == owner)
        look(page, f"declared-sample-{user.username}-{viewport}")
        page.goto(live_server.url + pages["dashboard"])
        recall = page.get_by_test_id("dashboard-recall").inner_text()
        assert "Title and abstract: 43 of 80 screened." in recall and "%" in recall
        look(page, f"dashboard-recall-{user.username}-{viewport}")
        page.context.close()
