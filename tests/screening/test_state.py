"""The materialised state always equals the state derived from the events."""

import random

from reviewapp.literature.models import DuplicateLink
from reviewapp.screening.constants import Stage
from reviewapp.screening.models import RecordStageState, RecordVote, StageSettings
from reviewapp.screening.rules import settle, vote_stacks
from reviewapp.screening.selectors import stage_counts, stage_events, stage_states
from reviewapp.screening.services import (
    DecisionRefused,
    conflict_resolve,
    decision_record,
    decision_undo,
)
from reviewapp.screening.state import stage_states_rebuild
from tests.conftest import membership_of
from tests.factories import RecordFactory


def _derived(review, stage):
    required = StageSettings.objects.get(review=review, stage=stage).reviewers_required
    events = stage_events(review, stage)
    return {rid: settle(evs, required) for rid, evs in events.items()}


def _assert_materialised_equals_derived(review, stage):
    stored = dict(
        RecordStageState.objects.filter(
            review=review, stage=stage, record_id__in=_derived(review, stage)
        ).values_list("record_id", "state")
    )
    assert stored == {rid: state.value for rid, state in _derived(review, stage).items()}
    for rid, evs in stage_events(review, stage).items():
        votes = dict(
            RecordVote.objects.filter(record_id=rid, stage=stage).values_list(
                "reviewer_id", "value"
            )
        )
        assert votes == {r: s[-1] for r, s in vote_stacks(evs).items()}


def test_random_decision_sequences_leave_the_materialised_state_equal_to_the_events(
    review, owner, reviewer, reviewer2, review_admin
):
    rng = random.Random(20261125)
    records = RecordFactory.create_batch(12, review=review)
    people = [membership_of(u, review) for u in (reviewer, reviewer2, owner)]
    refused = 0
    for step in range(150):
        who = rng.choice(people)
        action = rng.random()
        if action < 0.12:
            decision_undo(membership=who, stage="ta")
        elif action < 0.18:
            record = rng.choice(records)
            state = (
                RecordStageState.objects.filter(record=record, stage="ta")
                .values_list("state", flat=True)
                .first()
            )
            if state in ("conflict", "maybe"):
                conflict_resolve(
                    membership=membership_of(review_admin, review),
                    record=record,
                    stage="ta",
                    value=rng.choice(["include", "exclude"]),
                )
        else:
            record = rng.choice(records)
            before = stage_states(review, "ta").get(record.pk)
            try:
                decision_record(
                    membership=who,
                    record=record,
                    stage="ta",
                    value=rng.choice(["include", "exclude", "maybe"]),
                )
            except DecisionRefused:
                # A third voter on a record that has its two votes: nothing changes.
                refused += 1
                assert stage_states(review, "ta").get(record.pk) == before
        if step % 50 == 49:
            _assert_materialised_equals_derived(review, "ta")
    _assert_materialised_equals_derived(review, "ta")
    assert refused > 0  # the sequence did try third votes
    before = stage_states(review, "ta")
    stage_states_rebuild(review)
    assert stage_states(review, "ta") == before
    _assert_materialised_equals_derived(review, "ta")


def test_switching_between_single_and_dual_screening_recomputes_the_states(
    review, owner, reviewer, records
):
    decision_record(
        membership=membership_of(reviewer, review), record=records[0], stage="ta", value="include"
    )
    assert stage_states(review, "ta")[records[0].pk] == "awaiting"
    settings = StageSettings.objects.get(review=review, stage="ta")
    settings.reviewers_required = 1
    settings.save()
    assert stage_states(review, "ta")[records[0].pk] == "included"


def test_records_imported_later_are_unscreened_and_join_the_queue(review, reviewer, records):
    from reviewapp.screening.selectors import next_record_for

    for record in records:
        decision_record(
            membership=membership_of(reviewer, review), record=record, stage="ta", value="exclude"
        )
    assert next_record_for(review, "ta", reviewer) is None
    late = RecordFactory(review=review)
    assert stage_states(review, "ta")[late.pk] == "unscreened"
    assert next_record_for(review, "ta", reviewer) == late


def test_duplicates_never_reach_screening_or_the_counts(review, reviewer, records):
    from reviewapp.screening.selectors import next_record_for

    DuplicateLink.objects.create(
        review=review, duplicate=records[0], primary=records[1], rule="doi"
    )
    assert records[0].pk not in stage_states(review, "ta")
    assert stage_counts(review, "ta").eligible == 2
    assert next_record_for(review, "ta", reviewer) == records[1]


def test_full_text_counts_follow_title_abstract_inclusions(review, reviewer, records):
    review.stage_settings.update(reviewers_required=1)
    me = membership_of(reviewer, review)
    decision_record(membership=me, record=records[0], stage="ta", value="include")
    decision_record(membership=me, record=records[1], stage="ta", value="exclude")
    assert stage_counts(review, Stage.FULL_TEXT).eligible == 1
    assert stage_counts(review, Stage.FULL_TEXT).unscreened == 1
    # A change of mind at title/abstract takes the record out of full text again.
    decision_record(membership=me, record=records[0], stage="ta", value="exclude")
    assert stage_counts(review, Stage.FULL_TEXT).eligible == 0
    assert stage_states(review, Stage.FULL_TEXT) == {}


def test_a_report_not_retrieved_is_counted_apart_not_as_waiting_to_be_screened(
    review, reviewer, records
):
    from reviewapp.screening.fulltext import report_status_set

    review.stage_settings.update(reviewers_required=1)
    me = membership_of(reviewer, review)
    for record in records:
        decision_record(membership=me, record=record, stage="ta", value="include")
    report_status_set(membership=me, record=records[0], status="not_retrieved")
    decision_record(membership=me, record=records[1], stage="ft", value="include")

    counts = stage_counts(review, Stage.FULL_TEXT)
    assert (counts.eligible, counts.not_retrieved, counts.unscreened) == (3, 1, 1)
    assert counts.screened == 1 and counts.remaining == 1
    assert counts.percent_done == 50  # 1 of the 2 reports that can be screened
    # The counts add up to the records at the stage, as PRISMA's boxes must.
    decided = counts.awaiting + counts.conflict + counts.maybe + counts.included + counts.excluded
    assert counts.not_retrieved + counts.unscreened + decided == counts.eligible
