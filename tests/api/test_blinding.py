"""The API applies the one blinding rule: no vote or entry shows to a member whose own is due."""

import json

import pytest
from django.urls import reverse

from tests.blinding import (
    DECISION_NOTE,
    ENTRY_MARK,
    REASON,
    SCREENERS_WHO_ADJUDICATE,
    extract,
    shows_ritas_vote,
    vote,
)


def _decisions(api, review):
    response = api.get(reverse("api:decision-list", args=[review.slug]))
    assert response.status_code == 200
    return response.json()["results"]


def _ritas(decisions):
    return [(d["value"], d["reasons"], d["note"]) for d in decisions if d["reviewer"] == "rita"]


@pytest.mark.parametrize("role", SCREENERS_WHO_ADJUDICATE)
def test_decisions_hide_the_first_vote_from_an_owner_admin_or_adjudicator_whose_vote_is_due(
    api, request, review, ritas_vote, role
):
    api.force_authenticate(request.getfixturevalue(role))
    decisions = _decisions(api, review)
    assert _ritas(decisions) == []
    assert not shows_ritas_vote(json.dumps(decisions))
    filtered = api.get(reverse("api:decision-list", args=[review.slug]), {"record": ritas_vote.pk})
    assert filtered.json()["results"] == []


@pytest.mark.parametrize("role", SCREENERS_WHO_ADJUDICATE)
def test_decisions_show_the_first_vote_once_their_own_is_in(api, request, review, ritas_vote, role):
    user = request.getfixturevalue(role)
    vote(user, review, ritas_vote)
    api.force_authenticate(user)
    assert _ritas(_decisions(api, review)) == [("exclude", [REASON], DECISION_NOTE)]


def test_decisions_show_an_analyst_a_vote_still_awaiting_the_second(
    api, review, analyst, ritas_vote
):
    api.force_authenticate(analyst)
    assert _ritas(_decisions(api, review)) == [("exclude", [REASON], DECISION_NOTE)]


@pytest.mark.parametrize("role", SCREENERS_WHO_ADJUDICATE)
def test_records_carry_no_vote_to_a_member_whose_vote_is_due(
    api, request, review, ritas_vote, role
):
    api.force_authenticate(request.getfixturevalue(role))
    response = api.get(reverse("api:record-list", args=[review.slug]))
    (record,) = response.json()["results"]
    assert record["id"] == ritas_vote.pk and record["ta_state"] == "awaiting"
    assert not shows_ritas_vote(response.content.decode())


def _entries(api, review):
    response = api.get(reverse("api:extraction-list", args=[review.slug]))
    assert response.status_code == 200
    return {
        (e["extractor"], e["data"]["values"]["participants_notes"])
        for e in response.json()["results"]
    }


def test_an_admin_who_is_the_second_extractor_sees_the_first_entry_only_once_theirs_is_in(
    api, review, review_admin, dual_form, study, ritas_entry
):
    draft = extract(review_admin, review, dual_form, study, submit=False)
    api.force_authenticate(review_admin)
    assert _entries(api, review) == {("adam", "adam's entry")}
    extract(review_admin, review, dual_form, study, submit=True, revision=draft.revision)
    assert _entries(api, review) == {("adam", "adam's entry"), ("rita", ENTRY_MARK)}


@pytest.mark.parametrize("role", ["owner", "review_admin"])
def test_an_owner_or_admin_who_may_take_the_free_second_place_does_not_see_the_first_entry(
    api, request, review, ritas_entry, role
):
    api.force_authenticate(request.getfixturevalue(role))
    assert _entries(api, review) == set()


def test_an_analyst_sees_the_first_entry_and_the_second_extractors_draft(
    api, review, review_admin, analyst, dual_form, study, ritas_entry
):
    extract(review_admin, review, dual_form, study, submit=False)
    api.force_authenticate(analyst)
    assert _entries(api, review) == {("adam", "adam's entry"), ("rita", ENTRY_MARK)}
