"""Two reviewers deciding at the same moment never overwrite each other (PostgreSQL only)."""

import threading
import uuid

import pytest
from django.db import connection, connections

from reviewapp.screening.models import Decision, RecordVote
from reviewapp.screening.selectors import stage_events, stage_states
from reviewapp.screening.services import decision_record
from tests.conftest import membership_of

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="needs PostgreSQL (DATABASE_URL): SQLite serialises every write, so there is no race",
    ),
]


def _at_once(calls):
    barrier = threading.Barrier(len(calls))
    errors = []

    def run(call):
        try:
            barrier.wait()
            call()
        except Exception as exc:  # reported below; a thread cannot fail the test itself
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors, errors


def test_two_simultaneous_votes_on_one_record_are_both_stored_and_both_counted(
    review, reviewer, reviewer2, records
):
    record = records[0]
    a, b = membership_of(reviewer, review), membership_of(reviewer2, review)
    for _ in range(5):
        _at_once(
            [
                lambda: decision_record(membership=a, record=record, stage="ta", value="include"),
                lambda: decision_record(membership=b, record=record, stage="ta", value="exclude"),
            ]
        )
    assert Decision.objects.filter(record=record).count() == 10
    assert RecordVote.objects.filter(record=record).count() == 2
    assert stage_states(review, "ta")[record.pk] == "conflict"


def test_many_simultaneous_votes_leave_the_materialised_state_equal_to_the_events(
    review, reviewer, reviewer2, records
):
    from reviewapp.screening.rules import settle

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
