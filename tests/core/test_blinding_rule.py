"""The one blinding rule (reviewapp.core.blinding): the rule itself, and its filters' fidelity.

The per-reader tests (screening pages, API, downloads, worker exports, extraction pages) live
beside each reader; here the rule is pinned down on its own, and the queryset filters the bulk
readers use are checked row by row against the rule on a review holding every kind of case.
"""

from __future__ import annotations

import itertools
from collections import defaultdict

import pytest

from reviewapp.core.blinding import (
    DRAFT,
    NONE,
    SUBMITTED,
    Reader,
    decisions_visible,
    entries_visible,
    entry_visible,
    extraction_due,
    extractions_visible,
    others_votes_visible,
    reader_of,
    stages_blinded,
    vote_due,
)
from reviewapp.extraction.models import Extraction, ExtractionForm
from reviewapp.extraction.services import consensus_save, form_version_save
from reviewapp.reviews.constants import Role
from reviewapp.screening.constants import DecisionKind, ScreenState
from reviewapp.screening.models import Decision, RecordStageState, RecordVote
from reviewapp.screening.services import conflict_resolve, decision_record, decision_undo
from tests.blinding import extract
from tests.conftest import membership_of
from tests.extraction.helpers import ROWS, entry_sample, study_included
from tests.factories import MembershipFactory, RecordFactory, UserFactory

ME = 1
OWNER = Reader(user_id=ME, may_screen=True, may_extract=True, sees_all=True)  # owner or admin
ADJUDICATING_REVIEWER = Reader(user_id=ME, may_screen=True, may_extract=True, sees_all=True)
REVIEWER = Reader(user_id=ME, may_screen=True, may_extract=True, sees_all=False)
ANALYST = Reader(user_id=ME, may_screen=False, may_extract=False, sees_all=True)
STILL_NEEDING_VOTES = [ScreenState.UNSCREENED, ScreenState.AWAITING]
ALL_VOTES_IN = [ScreenState.CONFLICT, ScreenState.MAYBE, ScreenState.INCLUDED, ScreenState.EXCLUDED]


# --- the rule -------------------------------------------------------------------------------


@pytest.mark.parametrize("reader", [OWNER, ADJUDICATING_REVIEWER, REVIEWER])
@pytest.mark.parametrize("state", STILL_NEEDING_VOTES)
def test_a_member_with_a_vote_due_sees_no_other_vote_whatever_their_role(reader, state):
    assert vote_due(reader, blinded=True, state=state, i_voted=False)
    assert not others_votes_visible(reader, blinded=True, state=state, i_voted=False)


@pytest.mark.parametrize("reader", [OWNER, ADJUDICATING_REVIEWER, REVIEWER, ANALYST])
@pytest.mark.parametrize("state", ALL_VOTES_IN)
def test_no_vote_is_due_from_anyone_once_every_vote_is_in(reader, state):
    assert not vote_due(reader, blinded=True, state=state, i_voted=False)


@pytest.mark.parametrize("reader", [OWNER, ADJUDICATING_REVIEWER])
@pytest.mark.parametrize("state", ScreenState.values)
def test_an_adjudicator_sees_every_vote_where_they_owe_none(reader, state):
    owes = state in STILL_NEEDING_VOTES
    assert others_votes_visible(reader, blinded=True, state=state, i_voted=False) is not owes
    assert others_votes_visible(reader, blinded=True, state=state, i_voted=True)


@pytest.mark.parametrize("state", ScreenState.values)
@pytest.mark.parametrize("i_voted", [False, True])
def test_an_analyst_who_never_votes_sees_every_vote(state, i_voted):
    assert not vote_due(ANALYST, blinded=True, state=state, i_voted=i_voted)
    assert others_votes_visible(ANALYST, blinded=True, state=state, i_voted=i_voted)


@pytest.mark.parametrize("state", ScreenState.values)
def test_a_reviewer_sees_the_others_votes_once_they_voted_and_every_vote_is_in(state):
    assert others_votes_visible(REVIEWER, blinded=True, state=state, i_voted=True) is (
        state in ALL_VOTES_IN
    )
    assert not others_votes_visible(REVIEWER, blinded=True, state=state, i_voted=False)


@pytest.mark.parametrize("reader", [OWNER, REVIEWER, ANALYST])
@pytest.mark.parametrize("state", ScreenState.values)
def test_at_a_stage_that_is_not_blinded_every_member_sees_every_vote(reader, state):
    assert not vote_due(reader, blinded=False, state=state, i_voted=False)
    assert others_votes_visible(reader, blinded=False, state=state, i_voted=False)


@pytest.mark.parametrize("reader", [OWNER, ADJUDICATING_REVIEWER, REVIEWER])
def test_an_extraction_is_due_from_an_extractor_with_a_draft_whatever_their_role(reader):
    assert extraction_due(reader, required=2, mine=DRAFT, free_place=False)
    for submitted in (False, True):
        assert not entry_visible(
            reader, required=2, submitted=submitted, mine=DRAFT, free_place=False
        )


@pytest.mark.parametrize("reader", [OWNER, ADJUDICATING_REVIEWER, REVIEWER])
def test_an_extraction_is_due_from_a_member_who_may_take_a_free_second_place(reader):
    assert extraction_due(reader, required=2, mine=NONE, free_place=True)
    assert not entry_visible(reader, required=2, submitted=True, mine=NONE, free_place=True)
    assert not extraction_due(reader, required=2, mine=NONE, free_place=False)
    assert not extraction_due(reader, required=2, mine=SUBMITTED, free_place=True)
    assert not extraction_due(reader, required=1, mine=NONE, free_place=True)


def test_without_an_entry_due_adjudicators_and_analysts_see_drafts_and_reviewers_submissions():
    for reader in (OWNER, ANALYST):
        assert entry_visible(reader, required=2, submitted=False, mine=NONE, free_place=False)
    assert entry_visible(ANALYST, required=2, submitted=True, mine=NONE, free_place=True)
    assert entry_visible(REVIEWER, required=2, submitted=True, mine=SUBMITTED, free_place=False)
    assert not entry_visible(
        REVIEWER, required=2, submitted=False, mine=SUBMITTED, free_place=False
    )
    assert not entry_visible(REVIEWER, required=2, submitted=True, mine=NONE, free_place=False)


# --- the bulk readers' filters agree with the rule, row by row ------------------------------


@pytest.fixture
def cast(review, owner, review_admin, reviewer, reviewer2, analyst, adjudicator):
    tess = MembershipFactory(review=review, user=UserFactory(username="tess"), role=Role.REVIEWER)
    return [owner, review_admin, reviewer, reviewer2, analyst, adjudicator, tess.user]


@pytest.fixture
def every_screening_case(review, owner, reviewer, reviewer2):
    """Title/abstract blinded, dual; full text not blinded. A record in every state, some with
    votes undone."""
    review.stage_settings.filter(stage="ft").update(blinded=False)
    rita, ravi, olivia = (membership_of(u, review) for u in (reviewer, reviewer2, owner))
    r = {
        name: RecordFactory(review=review)
        for name in [
            "undone",
            "awaiting",
            "conflict",
            "included",
            "adjudicated",
            "owners",
            "maybes",
            "untouched",
        ]
    }

    def votes(*cast):
        for membership, record, value in cast:
            decision_record(membership=membership, record=record, stage="ta", value=value)

    votes((rita, r["undone"], "include"))
    decision_undo(membership=rita, stage="ta")
    votes(
        (rita, r["awaiting"], "exclude"),
        (rita, r["conflict"], "include"),
        (ravi, r["conflict"], "exclude"),
        (rita, r["included"], "include"),
        (ravi, r["included"], "include"),
        (rita, r["adjudicated"], "include"),
        (ravi, r["adjudicated"], "exclude"),
        (olivia, r["owners"], "include"),
        (rita, r["maybes"], "maybe"),
        (ravi, r["maybes"], "maybe"),
    )
    conflict_resolve(membership=olivia, record=r["adjudicated"], stage="ta", value="include")
    decision_record(membership=rita, record=r["included"], stage="ft", value="include")
    return r


def _decisions_by_rule(membership) -> set[int]:
    reader = reader_of(membership)
    blinded = stages_blinded(membership.review_id)
    states = {
        (rid, stage): state
        for rid, stage, state in RecordStageState.objects.values_list("record_id", "stage", "state")
    }
    mine = set(
        RecordVote.objects.filter(reviewer_id=reader.user_id).values_list("record_id", "stage")
    )
    return {
        d.pk
        for d in Decision.objects.filter(review_id=membership.review_id)
        if d.reviewer_id == reader.user_id
        or d.kind != DecisionKind.VOTE
        or others_votes_visible(
            reader,
            blinded=blinded[d.stage],
            state=states.get((d.record_id, d.stage), ScreenState.UNSCREENED),
            i_voted=(d.record_id, d.stage) in mine,
        )
    }


def test_the_decisions_filter_agrees_with_the_rule_for_every_member_and_every_case(
    review, cast, every_screening_case
):
    r = every_screening_case
    assert set(RecordStageState.objects.filter(stage="ta").values_list("state", flat=True)) >= {
        "unscreened",
        "awaiting",
        "conflict",
        "included",
    }
    for user in cast:
        membership = membership_of(user, review)
        filtered = set(decisions_visible(membership).values_list("pk", flat=True))
        assert filtered == _decisions_by_rule(membership), user.username
    # And the rule says what it should on this review: the owner, whose vote is due on the
    # records still needing votes, sees none of rita's votes there, and all the rest.
    hidden = set(Decision.objects.values_list("pk", flat=True)) - _decisions_by_rule(
        membership_of(cast[0], review)
    )
    assert hidden == set(
        Decision.objects.filter(record__in=[r["undone"], r["awaiting"]]).values_list(
            "pk", flat=True
        )
    )


def _form(review, owner, name, required):
    form = ExtractionForm.objects.create(review=review, name=name, extractors_required=required)
    form_version_save(membership=membership_of(owner, review), form=form, items=ROWS)
    return form


@pytest.fixture
def every_extraction_case(review, owner, review_admin, reviewer, reviewer2, adjudicator):
    dual, single = _form(review, owner, "Outcomes", 2), _form(review, owner, "Design", 1)
    s = {name: study_included(review, owner, label=name) for name in "ABCDE"}
    extract(reviewer, review, dual, s["A"], submit=True)  # the second place is free
    extract(reviewer, review, dual, s["B"], submit=True)
    extract(review_admin, review, dual, s["B"], submit=False)
    extract(reviewer, review, dual, s["C"], submit=True)
    extract(reviewer2, review, dual, s["C"], submit=True)
    consensus_save(
        membership=membership_of(reviewer, review),
        form=dual,
        study=s["C"],
        raw=entry_sample(),
        expected_revision=0,
    )
    extract(reviewer, review, dual, s["D"], submit=False)
    extract(reviewer2, review, dual, s["D"], submit=False)
    extract(adjudicator, review, dual, s["E"], submit=False)
    extract(reviewer, review, dual, s["E"], submit=True)
    extract(reviewer, review, single, s["A"], submit=True)
    extract(reviewer2, review, single, s["B"], submit=False)
    return dual, single


def test_the_extractions_filter_agrees_with_the_rule_for_every_member_and_every_case(
    review, cast, every_extraction_case
):
    places = defaultdict(list)
    for entry in Extraction.objects.select_related("form"):
        places[(entry.study_id, entry.form_id)].append(entry)
    for user in cast:
        membership = membership_of(user, review)
        by_rule = {
            e.pk
            for entries in places.values()
            for e in entries_visible(membership, entries, entries[0].form.extractors_required)
        }
        filtered = set(extractions_visible(membership).values_list("pk", flat=True))
        assert filtered == by_rule, user.username
    # The admin drafting study B's second entry sees only their own there; the analyst all.
    admin = membership_of(cast[1], review)
    dual, _single = every_extraction_case
    seen_by_admin = extractions_visible(admin).filter(form=dual)
    assert set(
        seen_by_admin.filter(study__label="B").values_list("extractor__username", flat=True)
    ) == {"adam"}
    analyst = membership_of(cast[4], review)
    assert extractions_visible(analyst).count() == len(list(itertools.chain(*places.values())))
