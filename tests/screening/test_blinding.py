"""Blinding, enforced by the server: no page shows a reviewer another's vote before both voted."""

import pytest
from django.urls import reverse

from reviewapp.screening.models import RecordNote
from reviewapp.screening.services import decision_record
from tests.blinding import (
    DECISION_NOTE,
    REASON,
    SCREENERS_WHO_ADJUDICATE,
    TEAM_NOTE,
    shows_ritas_vote,
    vote,
)
from tests.conftest import membership_of

HX = {"HTTP_HX_REQUEST": "true"}
SECRET = "secret-reason-for-excluding"


@pytest.fixture
def first_vote(review, reviewer, records):
    """rita excluded records[0] with a note; ravi has not voted yet."""
    decision_record(
        membership=membership_of(reviewer, review),
        record=records[0],
        stage="ta",
        value="exclude",
        note=SECRET,
    )
    RecordNote.objects.create(record=records[0], author=reviewer, text="rita-team-note")
    return records[0]


def pages(client, review, record):
    return {
        "screen": client.get(reverse("screening:screen", args=[review.slug, "ta"]), **HX),
        "revisit": client.get(
            reverse("screening:screen", args=[review.slug, "ta"]) + f"?record={record.pk}"
        ),
        "history": client.get(
            reverse("screening:record-history", args=[review.slug, "ta", record.pk])
        ),
        "conflicts": client.get(reverse("screening:conflict-list", args=[review.slug, "ta"])),
        "dashboard": client.get(reverse("reviews:review-detail", args=[review.slug])),
    }


def assert_hidden(response):
    html = response.content.decode()
    assert "rita: " not in html
    assert SECRET not in html
    assert "rita-team-note" not in html
    assert "Exclude</strong>" not in html.replace("Exclude <kbd>", "")


def test_the_second_reviewer_sees_no_trace_of_the_first_vote_anywhere(
    client, review, reviewer2, first_vote
):
    client.force_login(reviewer2)
    for name, response in pages(client, review, first_vote).items():
        assert response.status_code == 200, name
        assert_hidden(response)


def test_even_an_adjudicator_does_not_see_a_vote_still_awaiting_the_second(
    client, review, owner, first_vote
):
    client.force_login(owner)
    for response in pages(client, review, first_vote).values():
        assert_hidden(response)


def test_once_both_voted_each_sees_the_other(client, review, reviewer, reviewer2, first_vote):
    decision_record(
        membership=membership_of(reviewer2, review), record=first_vote, stage="ta", value="include"
    )
    client.force_login(reviewer2)
    history = client.get(
        reverse("screening:record-history", args=[review.slug, "ta", first_vote.pk])
    ).content.decode()
    assert "rita" in history and SECRET in history and "rita-team-note" in history
    conflicts = client.get(
        reverse("screening:conflict-list", args=[review.slug, "ta"])
    ).content.decode()
    assert "rita: <strong" in conflicts


def test_a_reviewer_who_did_not_vote_does_not_see_the_votes_of_a_conflict(
    client, review, reviewer, reviewer2, records, db
):
    from reviewapp.reviews.constants import Role
    from tests.factories import MembershipFactory, UserFactory

    third = MembershipFactory(
        review=review, user=UserFactory(username="tess"), role=Role.REVIEWER
    ).user
    decision_record(
        membership=membership_of(reviewer, review), record=records[0], stage="ta", value="exclude"
    )
    decision_record(
        membership=membership_of(reviewer2, review), record=records[0], stage="ta", value="include"
    )
    client.force_login(third)
    conflicts = client.get(
        reverse("screening:conflict-list", args=[review.slug, "ta"])
    ).content.decode()
    assert "hidden (blinded)" in conflicts and "rita: " not in conflicts
    history = client.get(
        reverse("screening:record-history", args=[review.slug, "ta", records[0].pk])
    ).content.decode()
    # Every vote is in: the history says what hides them (she did not vote), not "until".
    assert "you did not vote on this record" in history and "until every vote" not in history
    assert "rita" not in history


def test_the_history_of_a_record_awaiting_votes_says_they_are_hidden_until_every_vote_is_in(
    client, review, reviewer2, first_vote
):
    client.force_login(reviewer2)
    history = client.get(
        reverse("screening:record-history", args=[review.slug, "ta", first_vote.pk])
    ).content.decode()
    assert "hidden from you until every vote is in" in history and SECRET not in history


def test_an_adjudicator_sees_the_votes_of_a_conflict(
    client, review, owner, reviewer, reviewer2, records
):
    decision_record(
        membership=membership_of(reviewer, review), record=records[0], stage="ta", value="exclude"
    )
    decision_record(
        membership=membership_of(reviewer2, review), record=records[0], stage="ta", value="include"
    )
    client.force_login(owner)
    conflicts = client.get(
        reverse("screening:conflict-list", args=[review.slug, "ta"])
    ).content.decode()
    assert "rita: <strong" in conflicts and "ravi: <strong" in conflicts


def test_without_blinding_votes_are_visible_at_once(client, review, reviewer2, first_vote):
    review.stage_settings.filter(stage="ta").update(blinded=False)
    client.force_login(reviewer2)
    history = client.get(
        reverse("screening:record-history", args=[review.slug, "ta", first_vote.pk])
    ).content.decode()
    assert SECRET in history


# --- the one rule (reviewapp.core.blinding), whatever the member's role ------------------------


def _screening_pages(client, review, record):
    screen = reverse("screening:screen", args=[review.slug, "ta"])
    return {
        "queue": client.get(screen, **HX),
        "revisit": client.get(screen + f"?record={record.pk}"),
        "history": client.get(
            reverse("screening:record-history", args=[review.slug, "ta", record.pk])
        ),
    }


@pytest.mark.parametrize("role", SCREENERS_WHO_ADJUDICATE)
def test_an_owner_admin_or_adjudicator_whose_vote_is_due_sees_no_trace_of_the_first(
    client, request, review, ritas_vote, role
):
    client.force_login(request.getfixturevalue(role))
    for name, response in _screening_pages(client, review, ritas_vote).items():
        assert response.status_code == 200, name
        assert not shows_ritas_vote(response.content.decode()), name


@pytest.mark.parametrize("role", SCREENERS_WHO_ADJUDICATE)
def test_an_owner_admin_or_adjudicator_sees_the_first_vote_once_theirs_is_in(
    client, request, review, ritas_vote, role
):
    user = request.getfixturevalue(role)
    vote(user, review, ritas_vote)
    client.force_login(user)
    pages = _screening_pages(client, review, ritas_vote)
    history = pages["history"].content.decode()
    assert DECISION_NOTE in history and REASON in history and TEAM_NOTE in history
    assert "rita: <strong" in pages["revisit"].content.decode()
    conflicts = client.get(reverse("screening:conflict-list", args=[review.slug, "ta"]))
    assert "rita: <strong" in conflicts.content.decode()


def test_an_analyst_who_never_votes_sees_a_vote_still_awaiting_the_second(
    client, review, analyst, ritas_vote
):
    client.force_login(analyst)
    history = client.get(
        reverse("screening:record-history", args=[review.slug, "ta", ritas_vote.pk])
    ).content.decode()
    assert DECISION_NOTE in history and REASON in history and TEAM_NOTE in history
