"""Two reviewers deciding at the same moment never overwrite each other (PostgreSQL only)."""

import threading
import uuid

import pytest
from django.db import connection, connections

from reviewapp.reviews.constants import Role
from reviewapp.screening.models import Decision, RecordVote
from reviewapp.screening.rules import settle
from reviewapp.screening.selectors import stage_events, stage_states
from reviewapp.screening.services import DecisionRefused, decision_record
from tests.conftest import membership_of
from tests.factories import MembershipFactory, UserFactory

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="needs PostgreSQL (DATABASE_URL): SQLite serialises every write, so there is no race",
    ),
]


def _outcomes_at_once(calls) -> list:
    """Run the calls in threads (one connection each) released together; what each returned or
    raised, in the order of the calls."""
    barrier = threading.Barrier(len(calls))
    outcomes: list = [None] * len(calls)

    def run(i, call):
        try:
            barrier.wait()
            outcomes[i] = call()
        except Exception as exc:  # reported to the caller; a thread cannot fail the test itself
            outcomes[i] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i, call)) for i, call in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not any(t.is_alive() for t in threads), "a vote was still waiting after 30 s"
    return outcomes


def _at_once(calls):
    errors = [o for o in _outcomes_at_once(calls) if isinstance(o, Exception)]
    assert not errors, errors


def test_two_simultaneous_votes_on_one_record_are_both_stored_and_both_counted(
    review, reviewer, reviewer2, records
):
    record = records[0]
    a, b = membership_of(reviewer, review), membership_of(reviewer2, review)
    # Each round both change their minds, so every vote is a new decision, not a repeat.
    for i in range(5):
        first, second = ("include", "exclude") if i % 2 == 0 else ("exclude", "include")
        _at_once(
            [
                lambda v=first: decision_record(membership=a, record=record, stage="ta", value=v),
                lambda v=second: decision_record(membership=b, record=record, stage="ta", value=v),
            ]
        )
    assert Decision.objects.filter(record=record).count() == 10
    assert RecordVote.objects.filter(record=record).count() == 2
    assert stage_states(review, "ta")[record.pk] == "conflict"


def test_many_simultaneous_votes_leave_the_materialised_state_equal_to_the_events(
    review, reviewer, reviewer2, records
):
    a, b = membership_of(reviewer, review), membership_of(reviewer2, review)
    calls = []
    for i, record in enumerate(records * 3):
        for membership, value in ((a, "include"), (b, "include" if i % 2 else "exclude")):
            calls.append(
                lambda m=membership, r=record, v=value: decision_record(
                    membership=m, record=r, stage="ta", value=v
                )
            )
    _at_once(calls)
    derived = {rid: settle(evs, 2) for rid, evs in stage_events(review, "ta").items()}
    assert {rid: stage_states(review, "ta")[rid] for rid in derived} == derived


def test_the_same_request_sent_twice_at_once_is_stored_once(review, reviewer, records):
    a = membership_of(reviewer, review)
    token = uuid.uuid4()
    _at_once(
        [
            lambda: decision_record(
                membership=a, record=records[0], stage="ta", value="include", client_token=token
            )
        ]
        * 4
    )
    assert Decision.objects.filter(reviewer=reviewer).count() == 1


def test_three_reviewers_voting_at_once_on_a_dual_record_store_two_votes_and_refuse_the_third(
    review, reviewer, reviewer2, records
):
    third = MembershipFactory(review=review, user=UserFactory(username="rosa"), role=Role.REVIEWER)
    people = [membership_of(reviewer, review), membership_of(reviewer2, review), third]
    for record in records:
        outcomes = _outcomes_at_once(
            [
                lambda m=m, v=v, r=record: decision_record(
                    membership=m, record=r, stage="ta", value=v
                )
                for m, v in zip(people, ["include", "exclude", "include"], strict=True)
            ]
        )
        refused = [o for o in outcomes if isinstance(o, Exception)]
        assert len(refused) == 1 and isinstance(refused[0], DecisionRefused), outcomes
        assert f"Your vote on record {record.number} was not stored" in refused[0].message
        assert Decision.objects.filter(record=record).count() == 2
        assert RecordVote.objects.filter(record=record).count() == 2
    stored = stage_states(review, "ta")
    derived = {rid: settle(evs, 2).value for rid, evs in stage_events(review, "ta").items()}
    assert {r.pk: stored[r.pk] for r in records} == derived


def test_the_same_vote_sent_four_times_at_once_without_a_token_is_stored_once(
    review, reviewer, records
):
    a = membership_of(reviewer, review)
    outcomes = _outcomes_at_once(
        [lambda: decision_record(membership=a, record=records[0], stage="ta", value="exclude")] * 4
    )
    assert Decision.objects.filter(reviewer=reviewer).count() == 1
    # Every copy is answered with the one stored decision: one created, three acknowledged.
    assert sorted(created for _, created in outcomes) == [False, False, False, True]
    assert len({decision.pk for decision, _ in outcomes}) == 1


def test_two_adjudications_of_one_conflict_at_once_store_one_and_refuse_the_other(
    review, owner, review_admin, reviewer, reviewer2, records
):
    from reviewapp.screening.services import conflict_resolve

    record = records[0]
    decision_record(
        membership=membership_of(reviewer, review), record=record, stage="ta", value="include"
    )
    decision_record(
        membership=membership_of(reviewer2, review), record=record, stage="ta", value="exclude"
    )
    adjudicators = [
        (membership_of(owner, review), "include"),
        (membership_of(review_admin, review), "exclude"),
    ]
    outcomes = _outcomes_at_once(
        [
            lambda m=m, v=v: conflict_resolve(membership=m, record=record, stage="ta", value=v)
            for m, v in adjudicators
        ]
    )
    refused = [o for o in outcomes if isinstance(o, Exception)]
    assert len(refused) == 1 and "not in conflict" in refused[0].message, outcomes
    assert Decision.objects.filter(record=record, kind="adjudication").count() == 1
