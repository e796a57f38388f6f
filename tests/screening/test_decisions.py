"""Decisions are append-only events; who may screen is decided by role."""

import uuid

import pytest
from django.urls import reverse

from reviewapp.core.errors import ServiceError
from reviewapp.screening.constants import Stage
from reviewapp.screening.models import Decision, ExclusionReason
from reviewapp.screening.selectors import next_record_for, stage_counts
from reviewapp.screening.services import decision_record
from tests.conftest import membership_of


def test_a_decision_cannot_be_edited_or_deleted(review, reviewer, records):
    decision, _ = decision_record(
        membership=membership_of(reviewer, review), record=records[0], stage="ta", value="include"
    )
    decision.value = "exclude"
    with pytest.raises(TypeError, match="append-only"):
        decision.save()
    with pytest.raises(TypeError, match="append-only"):
        decision.delete()
    with pytest.raises(TypeError, match="append-only"):
        Decision.objects.filter(pk=decision.pk).update(value="exclude")
    with pytest.raises(TypeError, match="append-only"):
        Decision.objects.filter(pk=decision.pk).delete()
    assert Decision.objects.get(pk=decision.pk).value == "include"


def test_changing_a_mind_adds_an_event_and_the_latest_counts(review, reviewer, records):
    membership = membership_of(reviewer, review)
    review.stage_settings.filter(stage="ta").update(reviewers_required=1)
    decision_record(membership=membership, record=records[0], stage="ta", value="include")
    decision_record(membership=membership, record=records[0], stage="ta", value="exclude")
    assert Decision.objects.filter(record=records[0]).count() == 2
    assert stage_counts(review, Stage.TITLE_ABSTRACT).excluded == 1


def test_the_same_request_twice_is_stored_once(review, reviewer, records):
    membership = membership_of(reviewer, review)
    token = uuid.uuid4()
    first, created = decision_record(
        membership=membership, record=records[0], stage="ta", value="include", client_token=token
    )
    again, created_again = decision_record(
        membership=membership, record=records[0], stage="ta", value="include", client_token=token
    )
    assert (created, created_again) == (True, False)
    assert first.pk == again.pk
    assert Decision.objects.count() == 1


def test_a_double_click_in_the_browser_is_stored_once(client, review, reviewer, records):
    client.force_login(reviewer)
    url = reverse("screening:screen-decide", args=[review.slug, "ta", records[0].pk])
    data = {"value": "include", "client_token": str(uuid.uuid4())}
    client.post(url, data)
    client.post(url, data)
    assert Decision.objects.filter(reviewer=reviewer).count() == 1


def test_an_analyst_cannot_screen(client, review, analyst, records):
    client.force_login(analyst)
    assert client.get(reverse("screening:screen", args=[review.slug, "ta"])).status_code == 403
    url = reverse("screening:screen-decide", args=[review.slug, "ta", records[0].pk])
    assert client.post(url, {"value": "include"}).status_code == 403
    assert not Decision.objects.exists()


def test_an_analyst_is_refused_by_the_service_too(review, analyst, records):
    with pytest.raises(Exception, match="analyst"):
        decision_record(
            membership=membership_of(analyst, review),
            record=records[0],
            stage="ta",
            value="include",
        )


def test_a_reviewer_screens_through_the_page(client, review, reviewer, records):
    client.force_login(reviewer)
    page = client.get(reverse("screening:screen", args=[review.slug, "ta"]))
    assert records[0].title in page.content.decode()
    url = reverse("screening:screen-decide", args=[review.slug, "ta", records[0].pk])
    response = client.post(url, {"value": "exclude", "client_token": str(uuid.uuid4())})
    assert response.status_code == 302
    assert Decision.objects.get(reviewer=reviewer).value == "exclude"
    # The next record is shown after the decision.
    page = client.get(reverse("screening:screen", args=[review.slug, "ta"]))
    assert records[1].title in page.content.decode()


def test_records_awaiting_a_second_vote_come_first(review, reviewer, reviewer2, records):
    decision_record(
        membership=membership_of(reviewer, review), record=records[2], stage="ta", value="include"
    )
    assert next_record_for(review, "ta", reviewer2) == records[2]
    assert next_record_for(review, "ta", reviewer) == records[0]


def test_full_text_exclusion_needs_a_reason(review, reviewer, records):
    review.stage_settings.update(reviewers_required=1)
    membership = membership_of(reviewer, review)
    decision_record(membership=membership, record=records[0], stage="ta", value="include")
    with pytest.raises(ServiceError, match="needs at least one reason"):
        decision_record(membership=membership, record=records[0], stage="ft", value="exclude")
    reason = ExclusionReason.objects.filter(review=review).first()
    decision, _ = decision_record(
        membership=membership,
        record=records[0],
        stage="ft",
        value="exclude",
        reason_ids=[reason.pk],
    )
    assert list(decision.reasons.all()) == [reason]


def test_a_record_not_included_at_title_abstract_cannot_be_screened_at_full_text(
    review, reviewer, records
):
    with pytest.raises(ServiceError, match="not waiting for screening"):
        decision_record(
            membership=membership_of(reviewer, review),
            record=records[0],
            stage="ft",
            value="include",
        )


def test_a_reason_from_another_review_is_refused(review, reviewer, records):
    from tests.factories import review_make

    other = review_make(slug="other")
    foreign = ExclusionReason.objects.filter(review=other).first()
    with pytest.raises(ServiceError, match="not in this review's list"):
        decision_record(
            membership=membership_of(reviewer, review),
            record=records[0],
            stage="ta",
            value="exclude",
            reason_ids=[foreign.pk],
        )


def test_removing_a_member_keeps_their_decisions(review, owner, reviewer, records):
    from reviewapp.reviews.services import membership_remove

    decision_record(
        membership=membership_of(reviewer, review), record=records[0], stage="ta", value="include"
    )
    membership_remove(
        membership=membership_of(reviewer, review), actor=membership_of(owner, review)
    )
    assert Decision.objects.filter(reviewer=reviewer).count() == 1
