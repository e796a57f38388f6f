"""The audit log's service, its diff, and the append-only guarantees (model and database)."""

import pytest
from django.db import DatabaseError, connection, transaction

from reviewapp.audit.constants import Action
from reviewapp.audit.models import AuditEvent
from reviewapp.audit.services import Target, audit_diff, audit_fields, audit_record
from reviewapp.screening.models import ExclusionReason
from tests.conftest import membership_of


def test_the_diff_keeps_only_the_fields_that_changed():
    before, after = audit_diff(
        {"label": "Wrong population", "active": True, "position": 3},
        {"label": "Wrong population", "active": False, "position": 3},
    )
    assert (before, after) == ({"active": True}, {"active": False})


def test_the_diff_keeps_a_field_present_on_one_side_only():
    assert audit_diff({}, {"role": "reviewer"}) == ({}, {"role": "reviewer"})
    assert audit_diff({"role": "admin"}, {}) == ({"role": "admin"}, {})


def test_a_snapshot_stores_foreign_keys_as_ids_and_json_values(review):
    reason = ExclusionReason.objects.filter(review=review).first()
    assert audit_fields(reason, ["review", "label", "active"]) == {
        "review": review.pk,
        "label": reason.label,
        "active": True,
    }


def test_an_event_records_who_what_on_what_and_the_change(review, owner):
    reason = ExclusionReason.objects.filter(review=review).first()
    event = audit_record(
        review=review,
        actor=membership_of(owner, review),
        action=Action.REASON_RENAMED,
        target=reason,
        before={"label": "Old", "active": True},
        after={"label": "New", "active": True},
    )
    event.refresh_from_db()
    assert (event.actor, event.actor_label, event.action) == (
        owner,
        "olivia",
        "exclusion_reason.renamed",
    )
    assert (event.target_type, event.target_id, event.target_label) == (
        "exclusionreason",
        str(reason.pk),
        reason.label,
    )
    assert (event.before, event.after) == ({"label": "Old"}, {"label": "New"})


def test_no_event_is_written_when_nothing_changed(review, owner):
    n = AuditEvent.objects.count()
    assert (
        audit_record(
            review=review,
            actor=owner,
            action=Action.FORM_CHANGED,
            target=Target("form", 1, "Form"),
            before={"name": "A"},
            after={"name": "A"},
        )
        is None
    )
    assert AuditEvent.objects.count() == n


def test_a_system_event_has_no_actor(review):
    event = audit_record(
        review=review, actor=None, action=Action.SCREENING_STOPPED, target=review, after={"n": 1}
    )
    assert event.actor is None and event.actor_label == ""


def test_recording_outside_a_transaction_is_refused(review, owner):
    # The test runs in one; leave it to see what a service without @transaction.atomic gets.
    atomic = connection.in_atomic_block
    connection.in_atomic_block = False
    try:
        with pytest.raises(RuntimeError, match="transaction of the change"):
            audit_record(review=review, actor=owner, action=Action.FORM_CHANGED, target=review)
    finally:
        connection.in_atomic_block = atomic


@pytest.fixture
def event(review, owner):
    return audit_record(
        review=review, actor=owner, action=Action.CRITERIA_CHANGED, target=review, after={"a": 1}
    )


def test_the_model_refuses_to_change_or_delete_an_event(event):
    event.action = "something.else"
    with pytest.raises(TypeError, match="append-only"):
        event.save()
    with pytest.raises(TypeError, match="append-only"):
        event.delete()
    with pytest.raises(TypeError, match="append-only"):
        AuditEvent.objects.filter(pk=event.pk).update(action="x")
    with pytest.raises(TypeError, match="append-only"):
        AuditEvent.objects.filter(pk=event.pk).delete()


def test_the_database_refuses_update_and_delete(event):
    table = AuditEvent._meta.db_table
    for sql in (
        f"UPDATE {table} SET action = 'forged' WHERE id = %s",
        f"DELETE FROM {table} WHERE id = %s",
    ):
        with (
            pytest.raises(DatabaseError, match="append-only"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(sql, [event.pk])
    event.refresh_from_db()
    assert event.action == "criteria.changed"


def test_a_review_deleted_as_a_whole_takes_its_log_and_no_other(review, event, owner):
    from tests.factories import review_make

    other = review_make(owner=owner, title="Another review", slug="another")
    kept = AuditEvent.objects.filter(review=other).count()
    assert kept and AuditEvent.objects.filter(review=review).exists()
    review.delete()
    assert not AuditEvent.objects.filter(review_id=event.review_id).exists()
    assert AuditEvent.objects.filter(review=other).count() == kept
    # The deletion's note does not open the other review's log within the same transaction.
    table = AuditEvent._meta.db_table
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(f"DELETE FROM {table} WHERE review_id = %s", [other.pk])
    assert AuditEvent.objects.filter(review=other).count() == kept
