"""The recall estimate on the prioritisation page, in a real browser, for every role and width."""

import pytest
from django.urls import reverse

from reviewapp.screening.models import StageSettings
from reviewapp.screening.ranking.recall import sample_order
from reviewapp.screening.services import decision_record
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
