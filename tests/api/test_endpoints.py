"""What each endpoint returns, with blinding of votes and entries applied per role."""

import pytest
from django.urls import reverse

from reviewapp.extraction.services import extraction_save
from reviewapp.screening.services import decision_record
from tests.conftest import membership_of
from tests.extraction.helpers import entry_sample
from tests.factories import RecordFactory


@pytest.fixture
def votes(review, reviewer, reviewer2, records):
    """rita and ravi both vote on record 0; only ravi on record 1."""
    for user, record, value in [
        (reviewer, records[0], "include"),
        (reviewer2, records[0], "exclude"),
        (reviewer2, records[1], "include"),
    ]:
        decision_record(
            membership=membership_of(user, review), record=record, stage="ta", value=value
        )
    return records


def test_records_are_paginated_with_their_states(api, owner, review, votes):
    api.force_authenticate(owner)
    RecordFactory.create_batch(3, review=review)
    response = api.get(reverse("api:record-list", args=[review.slug]), {"page_size": 4})
    body = response.json()
    assert len(body["results"]) == 4 and body["next"] and body["previous"] is None
    first = body["results"][0]
    assert first["id"] == votes[0].pk
    assert first["ta_state"] == "conflict"
    assert first["ft_state"] is None
    assert api.get(body["next"]).json()["results"][-1]["ta_state"] == "unscreened"


def test_the_record_list_costs_a_fixed_number_of_queries(
    api, owner, review, votes, django_assert_max_num_queries
):
    api.force_authenticate(owner)
    RecordFactory.create_batch(20, review=review)
    with django_assert_max_num_queries(20):
        api.get(reverse("api:record-list", args=[review.slug]))


def test_an_analyst_sees_every_decision(api, analyst, review, votes):
    api.force_authenticate(analyst)
    results = api.get(reverse("api:decision-list", args=[review.slug])).json()["results"]
    assert [(d["reviewer"], d["value"]) for d in results] == [
        ("rita", "include"),
        ("ravi", "exclude"),
        ("ravi", "include"),
    ]


@pytest.mark.parametrize("role", ["owner", "review_admin"])
def test_owners_and_admins_see_every_decision_except_where_their_own_vote_is_due(
    api, request, review, votes, role
):
    api.force_authenticate(request.getfixturevalue(role))
    results = api.get(reverse("api:decision-list", args=[review.slug])).json()["results"]
    # Record 1 waits for a second vote, which they may cast: ravi's vote there stays hidden.
    assert [(d["reviewer"], d["value"], d["record"]) for d in results] == [
        ("rita", "include", votes[0].pk),
        ("ravi", "exclude", votes[0].pk),
    ]


def test_a_reviewer_sees_the_others_votes_only_where_they_voted_and_every_vote_is_in(
    api, reviewer, review, votes
):
    api.force_authenticate(reviewer)
    results = api.get(reverse("api:decision-list", args=[review.slug])).json()["results"]
    assert [(d["reviewer"], d["record"]) for d in results] == [
        ("rita", votes[0].pk),
        ("ravi", votes[0].pk),
    ]


def test_decisions_filter_by_stage_and_record(api, analyst, review, votes):
    api.force_authenticate(analyst)
    url = reverse("api:decision-list", args=[review.slug])
    assert api.get(url, {"stage": "ft"}).json()["results"] == []
    assert len(api.get(url, {"record": votes[1].pk}).json()["results"]) == 1


def test_prisma_says_the_flow_does_not_add_up_while_screening_goes_on(api, analyst, review, votes):
    api.force_authenticate(analyst)
    body = api.get(reverse("api:prisma", args=[review.slug])).json()
    assert body["consistent"] is False and body["counts"] is None
    assert body["pending"]["ta"] == 3 and body["violations"]


def test_prisma_counts_come_keyed_by_the_template_fields(api, analyst, owner, review):
    from tests.extraction.helpers import study_included

    study_included(review, owner)
    api.force_authenticate(analyst)
    body = api.get(reverse("api:prisma", args=[review.slug])).json()
    assert body["consistent"] is True, body["violations"]
    assert body["counts"]["records_screened"]["n"] == 1
    assert body["counts"]["new_studies"]["n"] == 1


def _submit(user, review, form, study, **kw):
    return extraction_save(
        membership=membership_of(user, review),
        form=form,
        study=study,
        raw=entry_sample(**kw),
        expected_revision=0,
        submit=True,
    )


def test_extractions_are_blinded_for_reviewers_until_both_submit(
    api,
    review,
    reviewer,
    reviewer2,
    analyst,
    dual_form,
    study,
):
    _submit(reviewer, review, dual_form, study)
    url = reverse("api:extraction-list", args=[review.slug])
    api.force_authenticate(reviewer2)
    assert api.get(url).json()["count"] == 0
    _submit(reviewer2, review, dual_form, study, participants_number="118")
    results = api.get(url).json()["results"]
    assert [(e["extractor"], e["data"]["values"]["participants_number"]) for e in results] == [
        ("ravi", 118),
        ("rita", 120),
    ]
    api.force_authenticate(analyst)
    assert api.get(url, {"form": dual_form.pk, "kind": "individual"}).json()["count"] == 2


def test_an_analyst_sees_drafts_and_the_stored_data(
    api, review, reviewer, analyst, dual_form, study
):
    extraction = extraction_save(
        membership=membership_of(reviewer, review),
        form=dual_form,
        study=study,
        raw=entry_sample(),
        expected_revision=0,
    )
    api.force_authenticate(analyst)
    (entry,) = api.get(reverse("api:extraction-list", args=[review.slug])).json()["results"]
    assert entry["data"] == extraction.data
    assert (entry["form_version"], entry["kind"], entry["submitted_at"]) == (1, "individual", None)
    assert entry["study_label"] == "Prosperini 2019"


def test_forms_come_with_every_version(api, owner, review, dual_form):
    api.force_authenticate(owner)
    (form,) = api.get(reverse("api:form-list", args=[review.slug])).json()["results"]
    assert form["name"] == "Outcomes" and form["extractors_required"] == 2
    assert form["versions"][0]["definition"] == dual_form.versions.get().definition
