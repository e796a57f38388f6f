"""No extra votes on settled records, and a repeated submit is one decision (issue 12).

A record that has the votes its stage requires, or that an adjudication or a stopping rule has
settled, takes no vote from anyone who has not voted on it: a third vote would reopen it as a
conflict. Its own voters may still change their minds (and undo) as before, and adjudication
settles conflicts. A vote that repeats the reviewer's standing vote, even without a client token
(a double click, a resubmitted form), adds no event.
"""

import uuid
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from reviewapp.reviews.constants import Role
from reviewapp.screening.models import Decision, ExclusionReason, RecordStageState
from reviewapp.screening.queue import queue_next
from reviewapp.screening.selectors import stage_counts, stage_states
from reviewapp.screening.services import (
    DecisionRefused,
    conflict_resolve,
    decision_record,
    decision_undo,
    decisions_automation_exclude,
)
from tests.conftest import membership_of
from tests.factories import MembershipFactory, UserFactory

HX = {"HTTP_HX_REQUEST": "true"}


def vote(user, review, record, value, **kwargs):
    return decision_record(
        membership=membership_of(user, review), record=record, stage="ta", value=value, **kwargs
    )


@pytest.fixture
def rosa(review):
    """A third reviewer."""
    return MembershipFactory(
        review=review, user=UserFactory(username="rosa"), role=Role.REVIEWER
    ).user


@pytest.fixture
def agreed(review, reviewer, reviewer2, records):
    """records[0] included by both reviewers of a dual stage."""
    vote(reviewer, review, records[0], "include")
    vote(reviewer2, review, records[0], "include")
    return records[0]


def test_a_third_reviewer_cannot_vote_on_a_record_both_reviewers_settled(review, rosa, agreed):
    with pytest.raises(DecisionRefused, match=f"record {agreed.number} was not stored"):
        vote(rosa, review, agreed, "exclude")
    assert Decision.objects.filter(record=agreed).count() == 2
    assert stage_states(review, "ta")[agreed.pk] == "included"


def test_an_admin_who_has_seen_both_votes_of_a_conflict_cannot_add_a_third(
    review, review_admin, reviewer, reviewer2, records
):
    vote(reviewer, review, records[0], "include")
    vote(reviewer2, review, records[0], "exclude")
    with pytest.raises(DecisionRefused, match="goes to adjudication"):
        vote(review_admin, review, records[0], "include")
    assert stage_states(review, "ta")[records[0].pk] == "conflict"
    # Adjudication is the way to settle it.
    conflict_resolve(
        membership=membership_of(review_admin, review),
        record=records[0],
        stage="ta",
        value="include",
    )
    assert stage_states(review, "ta")[records[0].pk] == "included"


def test_a_record_included_by_both_is_not_reopened_as_a_conflict_by_an_owner_vote(
    review, owner, agreed
):
    with pytest.raises(DecisionRefused):
        vote(owner, review, agreed, "exclude")
    assert stage_counts(review, "ta").conflict == 0


def test_after_an_adjudication_only_the_records_own_voters_may_still_vote(
    review, owner, reviewer, reviewer2, rosa, records
):
    vote(reviewer, review, records[0], "include")
    vote(reviewer2, review, records[0], "exclude")
    conflict_resolve(
        membership=membership_of(owner, review), record=records[0], stage="ta", value="exclude"
    )
    with pytest.raises(DecisionRefused, match="settled by adjudication"):
        vote(rosa, review, records[0], "include")
    # A voter's change of mind is kept as an event, as before, and does not reopen the record.
    _, created = vote(reviewer, review, records[0], "exclude")
    assert created
    assert stage_states(review, "ta")[records[0].pk] == "excluded"


def test_in_single_screening_a_second_reviewer_cannot_vote_on_a_settled_record(
    review, reviewer, reviewer2, records
):
    review.stage_settings.filter(stage="ta").update(reviewers_required=1)
    vote(reviewer, review, records[0], "maybe")
    with pytest.raises(DecisionRefused, match="1 vote this stage needs"):
        vote(reviewer2, review, records[0], "include")
    assert stage_states(review, "ta")[records[0].pk] == "maybe"


def test_a_record_excluded_by_a_stopping_rule_takes_no_vote(review, owner, reviewer, records):
    decisions_automation_exclude(
        membership=membership_of(owner, review),
        stage="ta",
        record_ids=[records[0].pk],
        details={"rule": "test"},
        token_for=lambda record_id: uuid.uuid4(),
    )
    with pytest.raises(DecisionRefused, match="stopping rule"):
        vote(reviewer, review, records[0], "include")
    assert stage_states(review, "ta")[records[0].pk] == "excluded"


def test_a_vote_sent_after_the_lease_ran_out_and_two_others_voted_is_refused(
    review, reviewer, reviewer2, rosa, records
):
    (first, *_) = queue_next(review, "ta", rosa, limit=1)
    RecordStageState.objects.filter(record_id=first, stage="ta").update(
        lease_until=timezone.now() - timedelta(minutes=1)
    )
    record = next(r for r in records if r.pk == first)
    vote(reviewer, review, record, "include")
    vote(reviewer2, review, record, "include")
    with pytest.raises(DecisionRefused):
        vote(rosa, review, record, "exclude")
    assert Decision.objects.filter(record=record).count() == 2


def test_a_reviewer_may_still_change_their_vote_on_a_settled_record(
    review, reviewer, reviewer2, agreed
):
    vote(reviewer2, review, agreed, "exclude")
    assert stage_states(review, "ta")[agreed.pk] == "conflict"
    vote(reviewer2, review, agreed, "include")
    assert stage_states(review, "ta")[agreed.pk] == "included"
    assert Decision.objects.filter(record=agreed).count() == 4


def test_undo_on_a_settled_record_still_works_and_frees_the_place_it_held(
    review, reviewer, reviewer2, rosa, agreed
):
    decision_undo(membership=membership_of(reviewer2, review), stage="ta")
    assert stage_states(review, "ta")[agreed.pk] == "awaiting"
    # The record waits for a second vote again, so another reviewer may give it.
    vote(rosa, review, agreed, "include")
    assert stage_states(review, "ta")[agreed.pk] == "included"
    # Now the place is taken: the reviewer who undid is a third voter.
    with pytest.raises(DecisionRefused):
        vote(reviewer2, review, agreed, "include")


def test_a_repeated_vote_without_a_token_is_acknowledged_as_the_same_decision(
    review, reviewer, records
):
    first, created = vote(reviewer, review, records[0], "include", note="RCT")
    again, created_again = vote(reviewer, review, records[0], "include", note="RCT")
    assert (created, created_again) == (True, False)
    assert again.pk == first.pk
    assert Decision.objects.filter(record=records[0]).count() == 1


def test_a_different_vote_without_a_token_is_a_change_of_mind_and_is_stored(
    review, reviewer, records
):
    vote(reviewer, review, records[0], "include")
    _, note_changed = vote(reviewer, review, records[0], "include", note="on reflection")
    _, value_changed = vote(reviewer, review, records[0], "exclude", note="on reflection")
    assert (note_changed, value_changed) == (True, True)
    assert Decision.objects.filter(record=records[0]).count() == 3
    # Going back to an earlier vote is a change too, not a repeat of it.
    _, created = vote(reviewer, review, records[0], "include")
    assert created


def test_a_repeated_exclusion_counts_its_reasons_as_part_of_the_decision(review, reviewer, records):
    first, second = ExclusionReason.objects.filter(review=review)[:2]
    vote(reviewer, review, records[0], "exclude", reason_ids=[first.pk])
    _, same = vote(reviewer, review, records[0], "exclude", reason_ids=[first.pk])
    _, other = vote(reviewer, review, records[0], "exclude", reason_ids=[second.pk])
    assert (same, other) == (False, True)


def test_a_repeated_adjudication_of_a_resolved_conflict_is_refused_not_stored(
    review, owner, review_admin, reviewer, reviewer2, records
):
    vote(reviewer, review, records[0], "include")
    vote(reviewer2, review, records[0], "exclude")
    conflict_resolve(
        membership=membership_of(owner, review), record=records[0], stage="ta", value="include"
    )
    with pytest.raises(DecisionRefused, match="not in conflict"):
        decision_record(
            membership=membership_of(review_admin, review),
            record=records[0],
            stage="ta",
            value="exclude",
            kind="adjudication",
        )
    assert Decision.objects.filter(record=records[0], kind="adjudication").count() == 1


# The page.


def decide_url(review, record):
    return reverse("screening:screen-decide", args=[review.slug, "ta", record.pk])


def test_the_page_shows_the_refusal_and_moves_on_with_htmx(client, review, rosa, agreed, records):
    client.force_login(rosa)
    response = client.post(
        decide_url(review, agreed), {"value": "exclude", "client_token": str(uuid.uuid4())}, **HX
    )
    assert response.status_code == 422
    html = response.content.decode()
    assert 'role="alert"' in html
    assert f"Your vote on record {agreed.number} was not stored" in html
    # The settled record is not offered again; the queue goes on.
    assert f'data-record-id="{agreed.pk}"' not in html
    assert f'data-record-id="{records[1].pk}"' in html
    assert Decision.objects.filter(record=agreed).count() == 2


def test_the_page_shows_the_refusal_without_javascript_too(client, review, rosa, agreed):
    client.force_login(rosa)
    response = client.post(
        decide_url(review, agreed), {"value": "exclude", "client_token": str(uuid.uuid4())}
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("screening:screen", args=[review.slug, "ta"])
    page = client.get(response["Location"]).content.decode()
    assert f"Your vote on record {agreed.number} was not stored" in page
    assert stage_states(review, "ta")[agreed.pk] == "included"


def test_a_form_resubmitted_without_a_token_is_stored_once(client, review, reviewer, records):
    client.force_login(reviewer)
    for _ in range(3):
        response = client.post(decide_url(review, records[0]), {"value": "include", "note": "x"})
        assert response.status_code == 302
    assert Decision.objects.filter(record=records[0]).count() == 1


def test_a_settled_record_opened_by_someone_without_a_vote_offers_no_decision_form(
    client, review, rosa, reviewer, agreed
):
    client.force_login(rosa)
    url = reverse("screening:screen", args=[review.slug, "ta"]) + f"?record={agreed.pk}"
    html = client.get(url, **HX).content.decode()
    assert "already has the votes it needs (included)" in html
    assert f'action="{decide_url(review, agreed)}"' not in html
    # Its own voters still can change their minds there.
    client.force_login(reviewer)
    html = client.get(url, **HX).content.decode()
    assert f'action="{decide_url(review, agreed)}"' in html
