"""Conflicts go to a list; owners, admins and designated adjudicators resolve them."""

import pytest
from django.urls import reverse

from reviewapp.core.errors import ServiceError
from reviewapp.reviews.services import membership_remove
from reviewapp.screening.models import Decision
from reviewapp.screening.selectors import conflicts_list, stage_counts
from reviewapp.screening.services import conflict_resolve, decision_record
from tests.conftest import membership_of


@pytest.fixture
def conflict(review, reviewer, reviewer2, records):
    decision_record(
        membership=membership_of(reviewer, review), record=records[0], stage="ta", value="include"
    )
    decision_record(
        membership=membership_of(reviewer2, review), record=records[0], stage="ta", value="exclude"
    )
    return records[0]


def resolve_url(review, record):
    return reverse("screening:conflict-resolve", args=[review.slug, "ta", record.pk])


def test_a_disagreement_appears_in_the_conflict_list(review, owner, conflict):
    rows = conflicts_list(review, "ta", membership_of(owner, review))
    assert [row.record for row in rows] == [conflict]


def test_an_admin_resolves_a_conflict_and_who_and_when_are_recorded(
    client, review, review_admin, conflict
):
    client.force_login(review_admin)
    client.post(resolve_url(review, conflict), {"value": "include", "note": "meets criteria"})
    adjudication = Decision.objects.get(kind="adjudication")
    assert (adjudication.reviewer, adjudication.value, adjudication.note) == (
        review_admin,
        "include",
        "meets criteria",
    )
    assert adjudication.created_at is not None
    assert stage_counts(review, "ta").included == 1
    page = client.get(reverse("screening:conflict-list", args=[review.slug, "ta"])).content.decode()
    assert "adam" in page and "meets criteria" in page


def test_a_reviewer_cannot_resolve(client, review, reviewer, conflict):
    client.force_login(reviewer)
    assert client.post(resolve_url(review, conflict), {"value": "include"}).status_code == 403
    assert not Decision.objects.filter(kind="adjudication").exists()


def test_a_designated_adjudicator_can_resolve(client, review, reviewer, conflict):
    membership = membership_of(reviewer, review)
    membership.is_adjudicator = True
    membership.save()
    client.force_login(reviewer)
    client.post(resolve_url(review, conflict), {"value": "exclude"})
    assert stage_counts(review, "ta").excluded == 1


def test_a_record_not_in_conflict_cannot_be_adjudicated(review, owner, reviewer, records):
    decision_record(
        membership=membership_of(reviewer, review), record=records[1], stage="ta", value="include"
    )
    with pytest.raises(ServiceError, match="not in conflict"):
        conflict_resolve(
            membership=membership_of(owner, review), record=records[1], stage="ta", value="exclude"
        )


def test_resolving_with_a_bad_value_says_so(client, review, owner, conflict):
    client.force_login(owner)
    response = client.post(resolve_url(review, conflict), {"value": "maybe"}, follow=True)
    assert "is not a decision here" in response.content.decode()


def test_the_maybe_queue_of_single_screening_is_resolved_the_same_way(
    review, owner, reviewer, records
):
    review.stage_settings.filter(stage="ta").update(reviewers_required=1)
    decision_record(
        membership=membership_of(reviewer, review), record=records[0], stage="ta", value="maybe"
    )
    assert [r.state for r in conflicts_list(review, "ta", membership_of(owner, review))] == [
        "maybe"
    ]
    conflict_resolve(
        membership=membership_of(owner, review), record=records[0], stage="ta", value="include"
    )
    assert stage_counts(review, "ta").included == 1


def test_removing_a_member_keeps_their_votes_and_the_conflict_stays_resolvable(
    client, review, owner, reviewer, conflict
):
    membership_remove(
        membership=membership_of(reviewer, review), actor=membership_of(owner, review)
    )
    assert Decision.objects.filter(reviewer=reviewer).count() == 1
    client.force_login(owner)
    page = client.get(reverse("screening:conflict-list", args=[review.slug, "ta"])).content.decode()
    assert "rita" in page
    client.post(resolve_url(review, conflict), {"value": "exclude"})
    assert stage_counts(review, "ta").conflict == 0


def test_a_conflict_can_be_settled_by_a_reviewer_changing_their_mind(review, reviewer2, conflict):
    decision_record(
        membership=membership_of(reviewer2, review), record=conflict, stage="ta", value="include"
    )
    assert stage_counts(review, "ta").included == 1


def test_the_conflicts_page_lists_every_conflict_a_page_at_a_time(
    client, review, owner, reviewer, reviewer2, monkeypatch
):
    from reviewapp.screening.views import conflicts as view
    from tests.factories import RecordFactory

    records = RecordFactory.create_batch(5, review=review)
    for record in records:
        for user, value in ((reviewer, "include"), (reviewer2, "exclude")):
            decision_record(
                membership=membership_of(user, review), record=record, stage="ta", value=value
            )
    monkeypatch.setattr(view, "CONFLICTS_PAGE", 2)
    client.force_login(owner)
    url = reverse("screening:conflict-list", args=[review.slug, "ta"])
    seen, after = [], None
    for _ in range(5):
        page = client.get(url, {"after": after} if after else {})
        seen += [row.record.pk for row in page.context["rows"]]
        after = page.context["next_after"]
        if after is None:
            break
    assert seen == [r.pk for r in records]
    assert page.context["counts"].conflict == 5
