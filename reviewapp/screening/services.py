"""Writes on screening. Every decision is a new event; nothing here updates or deletes one.

Each event is written under a row lock on the record's materialised state (see state.py), which is
recomputed from the events in the same transaction.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from reviewapp.audit.constants import Action
from reviewapp.audit.services import Target, audit_fields, audit_record
from reviewapp.core.db import ANALYZE_AFTER_ROWS, tables_analyze
from reviewapp.core.errors import ServiceError
from reviewapp.core.permissions import require
from reviewapp.core.tally import state_key, tally_add
from reviewapp.literature.models import DuplicateLink, Record
from reviewapp.reviews.constants import Capability
from reviewapp.reviews.models import Membership, Review
from reviewapp.screening.constants import (
    DecisionKind,
    DecisionValue,
    QueueOrder,
    RetrievalStatus,
    ScreenState,
    Stage,
)
from reviewapp.screening.models import (
    Decision,
    ExclusionReason,
    RecordNote,
    RecordStageState,
    RecordTag,
    Report,
    StageSettings,
    Study,
    Tag,
)
from reviewapp.screening.queue import LEASE
from reviewapp.screening.ranking_service import ranking_after_decision
from reviewapp.screening.rules import (
    Event,
    Refusal,
    current_vote_index,
    undo_target,
    vote_refusal,
)
from reviewapp.screening.selectors import record_eligible
from reviewapp.screening.state import (
    BATCH,
    EventRow,
    state_events,
    state_lock,
    state_refresh,
    state_rows_sync,
)

NOTE_MAX = 5000


class DecisionRefused(ServiceError):
    """A decision the record cannot take any more (it has its votes, or it is settled).

    The record is left as it was; the page says why and moves on to the next record rather than
    offering this one again.
    """


def _token_existing(user, client_token: uuid.UUID | None) -> Decision | None:
    if client_token is None:
        return None
    # At most one (unique per reviewer): no ordering to add.
    found = list(Decision.objects.filter(reviewer=user, client_token=client_token).order_by()[:1])
    return found[0] if found else None


# A decision's first two checks, which every decision request makes, in one statement: the
# decision this reviewer's client token already made (a retried request), and whether the record
# is an active duplicate of another (not screened). Each was an ORM query of its own.
_TOKEN_AND_DUPLICATE = """
SELECT
    (SELECT d.id FROM {decision} d WHERE d.reviewer_id = %(user)s AND d.client_token = %(token)s
        LIMIT 1),
    EXISTS (SELECT 1 FROM {link} l WHERE l.duplicate_id = %(record)s AND l.undone_at IS NULL)
"""


def _token_existing_and_duplicate(
    user, client_token: uuid.UUID | None, record_id: int
) -> tuple[Decision | None, bool]:
    """(the decision this client token already made, whether the record is an active duplicate)."""
    with connection.cursor() as cursor:
        cursor.execute(
            _TOKEN_AND_DUPLICATE.format(
                decision=Decision._meta.db_table, link=DuplicateLink._meta.db_table
            ),
            {"user": user.pk, "token": client_token, "record": record_id},
        )
        existing_id, duplicate = cursor.fetchone()
    existing = Decision.objects.get(pk=existing_id) if existing_id is not None else None
    return existing, bool(duplicate)


def _refusal_message(refusal: Refusal, *, record_number: int, state: str, required: int) -> str:
    settled = ScreenState(state).label.lower()
    if refusal == Refusal.ADJUDICATED:
        why = f"it was settled by adjudication ({settled})"
    elif refusal == Refusal.AUTOMATED:
        why = "it was excluded by the review's stopping rule"
    elif state in (ScreenState.CONFLICT, ScreenState.MAYBE):
        why = (
            f"it already has the {required} vote{'s' if required > 1 else ''} this stage needs, "
            f"and its {settled} goes to adjudication"
        )
    else:
        why = (
            f"it already has the {required} vote{'s' if required > 1 else ''} this stage needs "
            f"({settled})"
        )
    return f"Your vote on record {record_number} was not stored: {why}."


def _same_vote(
    events: list[EventRow], user_id: int, value: str, note: str, reasons: list[ExclusionReason]
) -> Decision | None:
    """The reviewer's standing vote if this one repeats it exactly (same value, note, reasons)."""
    pure = [Event(reviewer_id, kind, v) for _, reviewer_id, kind, v, _ in events]
    i = current_vote_index(pure, user_id)
    if i is None or pure[i].value != value:
        return None
    # Only a resubmit of the standing vote's value gets this far, so a first vote costs nothing.
    standing = Decision.objects.get(pk=events[i][0])
    if standing.note != note or set(standing.reasons.values_list("pk", flat=True)) != {
        r.pk for r in reasons
    }:
        return None
    return standing


def _event_write(
    *,
    membership: Membership,
    record: Record,
    stage: str,
    kind: str,
    value: str,
    reasons: list[ExclusionReason],
    note: str,
    client_token: uuid.UUID | None,
    settings: StageSettings | None = None,
) -> tuple[Decision, bool]:
    """Write one event under the record's lock; returns (decision, created).

    Under the lock the record's events are complete, so the checks here hold against votes
    sent at the same moment: a vote from someone without a standing vote on a record that has
    its votes (or is settled) is refused, an adjudication on a record no longer in conflict is
    refused, and a vote repeating the reviewer's standing one (a double click or a resubmitted
    form without a client token) returns that one instead of adding an event.
    """
    review = membership.review
    if settings is not None:
        required = settings.reviewers_required
    else:
        required = (
            StageSettings.objects.filter(review=review, stage=stage)
            .values_list("reviewers_required", flat=True)
            .get()
        )
    user_id = membership.user_id
    try:
        with transaction.atomic():
            row = state_lock(review=review, record_id=record.pk, stage=stage)
            events = state_events(row)
            refusal = ""
            if kind == DecisionKind.VOTE and value != DecisionValue.RETRACT:
                pure = [Event(reviewer_id, k, v) for _, reviewer_id, k, v, _ in events]
                why = vote_refusal(pure, required, user_id)
                if why is not None:
                    refusal = _refusal_message(
                        why, record_number=record.number, state=row.state, required=required
                    )
                else:
                    same = _same_vote(events, user_id, value, note, reasons)
                    if same is not None:
                        return same, False
            elif kind == DecisionKind.ADJUDICATION and row.state not in (
                ScreenState.CONFLICT,
                ScreenState.MAYBE,
            ):
                refusal = (
                    f"Record {record.number} is not in conflict at this stage any more (it is "
                    f"{ScreenState(row.state).label.lower()}); the adjudication was not stored."
                )
            if refusal:
                # The same request sent twice at once: the first one's event is what it made.
                existing = _token_existing(membership.user, client_token)
                if existing is not None:
                    return existing, False
                raise DecisionRefused(refusal, field="record")
            decision = Decision.objects.create(
                review=review,
                record=record,
                stage=stage,
                reviewer=membership.user,
                kind=kind,
                value=value,
                note=note,
                client_token=client_token,
            )
            if reasons:
                decision.reasons.set(reasons)
            events.append((decision.pk, user_id, kind, value, decision.created_at))
            new_state = state_refresh(
                row=row, reviewers_required=required, actor_id=user_id, events=events
            )
            if stage == Stage.FULL_TEXT and new_state == ScreenState.INCLUDED:
                report_study_ensure(review=review, record=record, user=membership.user)
    except IntegrityError:
        # Two copies of the same request raced past the token check; the first one won.
        existing = _token_existing(membership.user, client_token)
        if existing is None:
            raise
        return existing, False
    return decision, True


def decision_record(
    *,
    membership: Membership,
    record: Record,
    stage: str,
    value: str,
    reason_ids: list[int] | None = None,
    note: str = "",
    client_token: uuid.UUID | None = None,
    kind: str = DecisionKind.VOTE,
    settings: StageSettings | None = None,
) -> tuple[Decision, bool]:
    """Record a reviewer's decision on a record at a stage; returns (decision, created).

    The same client_token from the same reviewer returns the first decision instead of adding a
    second (a double click or a retried request); without a token, a vote that repeats the
    reviewer's standing vote on the record (same value, note and reasons) does the same. A
    reviewer may change their standing vote; anyone else's vote on a record that already has the
    votes the stage requires, or was settled by adjudication or a stopping rule, raises
    DecisionRefused and leaves the record as it was. At full text, excluding needs a reason.
    Adjudications (kind="adjudication") need the adjudicate capability and settle the record.
    settings: the stage's StageSettings when the caller has read them in this request already.
    """
    review = membership.review
    require(
        membership,
        Capability.ADJUDICATE if kind == DecisionKind.ADJUDICATION else Capability.SCREEN,
    )
    if stage not in Stage.values:
        raise ServiceError(f"'{stage}' is not a screening stage.", field="stage")
    if kind not in (DecisionKind.VOTE, DecisionKind.ADJUDICATION):
        raise ServiceError(f"'{kind}' decisions are not recorded here.", field="kind")
    allowed = [DecisionValue.INCLUDE, DecisionValue.EXCLUDE]
    if kind == DecisionKind.VOTE:
        allowed.append(DecisionValue.MAYBE)
    if value not in allowed:
        raise ServiceError(
            f"'{value}' is not a decision here; use {', '.join(allowed)}.", field="value"
        )
    if record.review_id != review.pk:
        raise ServiceError("That record belongs to another review.", field="record")
    existing, duplicate = _token_existing_and_duplicate(membership.user, client_token, record.pk)
    if existing is not None:
        return existing, False
    if duplicate or not record_eligible(review, record.pk, stage, duplicate=False):
        raise ServiceError(
            f"Record {record.number} is not waiting for screening at the {Stage(stage).label.lower()} "
            "stage (it is a duplicate, or was not included at the stage before).",
            field="record",
        )
    reason_ids = list(dict.fromkeys(reason_ids or []))
    # Most votes name no reason: no queryset to build for them.
    reasons = (
        list(ExclusionReason.objects.filter(review=review, pk__in=reason_ids, active=True))
        if reason_ids
        else []
    )
    if len(reasons) != len(reason_ids):
        raise ServiceError(
            "One of the exclusion reasons is not in this review's list.", field="reasons"
        )
    if value == DecisionValue.EXCLUDE and stage == Stage.FULL_TEXT and not reasons:
        raise ServiceError("Excluding a full text needs at least one reason.", field="reasons")
    if value != DecisionValue.EXCLUDE and reasons:
        raise ServiceError("Exclusion reasons go only with an exclude decision.", field="reasons")
    if stage == Stage.FULL_TEXT and value == DecisionValue.INCLUDE:
        status = (
            Report.objects.filter(record=record).values_list("retrieval_status", flat=True).first()
        )
        if status == RetrievalStatus.NOT_RETRIEVED:
            raise ServiceError(
                "This report is marked not retrieved; attach the full text before including it.",
                field="value",
            )
    note = note.strip()
    if len(note) > NOTE_MAX:
        raise ServiceError(f"A note can be at most {NOTE_MAX} characters.", field="note")
    decision, created = _event_write(
        membership=membership,
        record=record,
        stage=stage,
        kind=kind,
        value=value,
        reasons=reasons,
        note=note,
        client_token=client_token,
        settings=settings,
    )
    if created:
        # After the commit; trains in a worker.
        ranking_after_decision(
            review_id=review.pk, stage=stage, queue_order=settings.queue_order if settings else None
        )
    return decision, created


def decision_undo(
    *, membership: Membership, stage: str, client_token: uuid.UUID | None = None
) -> Decision | None:
    """Withdraw this reviewer's latest standing vote at a stage; returns the undo event.

    Undo is an event (value "retract"), never a delete: the vote before it, if any, stands again.
    Returns None when there is nothing left to undo. Repeating the same client_token is a no-op.
    """
    require(membership, Capability.SCREEN)
    if stage not in Stage.values:
        raise ServiceError(f"'{stage}' is not a screening stage.", field="stage")
    existing = _token_existing(membership.user, client_token)
    if existing is not None:
        return existing
    # The last few hundred of the reviewer's events are plenty to find what an undo reaches.
    recent = list(
        Decision.objects.filter(
            review=membership.review,
            stage=stage,
            reviewer=membership.user,
            kind=DecisionKind.VOTE,
        )
        .order_by("-created_at", "-id")
        .values_list("record_id", "value")[:500]
    )
    target = undo_target(list(reversed(recent)))
    if target is None:
        return None
    record = Record.objects.get(pk=target)
    decision, _ = _event_write(
        membership=membership,
        record=record,
        stage=stage,
        kind=DecisionKind.VOTE,
        value=DecisionValue.RETRACT,
        reasons=[],
        note="",
        client_token=client_token,
    )
    # The undone record comes back to this reviewer first.
    RecordStageState.objects.filter(
        record=record, stage=stage, state__in=[ScreenState.UNSCREENED, ScreenState.AWAITING]
    ).update(lease_reviewer=membership.user, lease_until=decision.created_at + LEASE)
    # An undo changes the labels a ranking learns from, as a decision does.
    ranking_after_decision(review_id=membership.review_id, stage=stage)
    return decision


def conflict_resolve(
    *,
    membership: Membership,
    record: Record,
    stage: str,
    value: str,
    reason_ids: list[int] | None = None,
    note: str = "",
    client_token: uuid.UUID | None = None,
) -> Decision:
    """Settle a record in conflict (or in the maybe queue) with an adjudication event.

    Owners, admins and designated adjudicators only; who and when are the event's reviewer and
    time. Only records in conflict or maybe can be resolved: an adjudication never overrides a
    blinded vote that is still awaited.
    """
    require(membership, Capability.ADJUDICATE)
    state = (
        RecordStageState.objects.filter(record=record, stage=stage)
        .values_list("state", flat=True)
        .first()
    )
    if state not in (ScreenState.CONFLICT, ScreenState.MAYBE):
        existing = _token_existing(membership.user, client_token)
        if existing is not None:
            return existing
        raise ServiceError(
            f"Record {record.number} is not in conflict at this stage (it is "
            f"{ScreenState(state or ScreenState.UNSCREENED).label.lower()}).",
            field="record",
        )
    decision, _ = decision_record(
        membership=membership,
        record=record,
        stage=stage,
        value=value,
        reason_ids=reason_ids,
        note=note,
        client_token=client_token,
        kind=DecisionKind.ADJUDICATION,
    )
    return decision


def note_add(*, membership: Membership, record: Record, text: str) -> RecordNote:
    """Add a note to a record. Others see it once the record's votes are visible to them."""
    require(membership, Capability.SCREEN)
    if record.review_id != membership.review_id:
        raise ServiceError("That record belongs to another review.", field="record")
    text = text.strip()
    if not text:
        raise ServiceError("Write something in the note first.", field="text")
    if len(text) > NOTE_MAX:
        raise ServiceError(f"A note can be at most {NOTE_MAX} characters.", field="text")
    return RecordNote.objects.create(record=record, author=membership.user, text=text)


def tag_toggle(*, membership: Membership, record: Record, name: str) -> bool:
    """Put a tag on a record, or take it off if it is there; returns whether it is on now."""
    require(membership, Capability.SCREEN)
    if record.review_id != membership.review_id:
        raise ServiceError("That record belongs to another review.", field="record")
    name = " ".join(name.split())
    if not name:
        raise ServiceError("A tag needs a name.", field="tag")
    if len(name) > 60:
        raise ServiceError("A tag name can be at most 60 characters.", field="tag")
    with transaction.atomic():
        tag = Tag.objects.filter(review=membership.review, name__iexact=name).first()
        if tag is None:
            tag, _ = Tag.objects.get_or_create(review=membership.review, name=name)
        removed, _ = RecordTag.objects.filter(record=record, tag=tag).delete()
        if removed:
            return False
        RecordTag.objects.get_or_create(
            record=record, tag=tag, defaults={"added_by": membership.user}
        )
    return True


@transaction.atomic
def reason_add(*, membership: Membership, label: str) -> ExclusionReason:
    """Add an exclusion reason to the review's shared list (admins and owners)."""
    require(membership, Capability.MANAGE_REVIEW)
    label = " ".join(label.split())
    if not label:
        raise ServiceError("A reason needs a label.", field="label")
    if len(label) > 200:
        raise ServiceError("A reason can be at most 200 characters.", field="label")
    review = membership.review
    if ExclusionReason.objects.filter(review=review, label__iexact=label).exists():
        raise ServiceError(f"The reason '{label}' is already in the list.", field="label")
    last = ExclusionReason.objects.filter(review=review).order_by("-position").first()
    reason = ExclusionReason.objects.create(
        review=review, label=label, position=(last.position + 1) if last else 1
    )
    audit_record(
        review=review,
        actor=membership,
        action=Action.REASON_ADDED,
        target=reason,
        after=audit_fields(reason, ["label"]),
    )
    return reason


def reason_update(
    *,
    membership: Membership,
    reason: ExclusionReason,
    label: str | None = None,
    active: bool | None = None,
    move: int = 0,
) -> ExclusionReason:
    """Rename, retire/restore or move a reason. Retired reasons stay on the decisions using them."""
    require(membership, Capability.MANAGE_REVIEW)
    if reason.review_id != membership.review_id:
        raise ServiceError("That reason belongs to another review.", field="reason")
    with transaction.atomic():
        before = audit_fields(reason, ["label", "active"])
        if label is not None:
            label = " ".join(label.split())
            if not label:
                raise ServiceError("A reason needs a label.", field="label")
            clash = ExclusionReason.objects.filter(review_id=reason.review_id, label__iexact=label)
            if clash.exclude(pk=reason.pk).exists():
                raise ServiceError(f"The reason '{label}' is already in the list.", field="label")
            reason.label = label
        if active is not None:
            reason.active = active
        reason.save()
        after = audit_fields(reason, ["label", "active"])
        _reason_audit(membership, reason, before, after)
        if move:
            ordered = list(ExclusionReason.objects.filter(review_id=reason.review_id))
            order_before = [r.label for r in ordered]
            i = next(i for i, r in enumerate(ordered) if r.pk == reason.pk)
            j = max(0, min(len(ordered) - 1, i + (1 if move > 0 else -1)))
            ordered.insert(j, ordered.pop(i))
            for position, r in enumerate(ordered, start=1):
                if r.position != position:
                    ExclusionReason.objects.filter(pk=r.pk).update(position=position)
            audit_record(
                review=membership.review,
                actor=membership,
                action=Action.REASON_MOVED,
                target=reason,
                before={"order": order_before},
                after={"order": [r.label for r in ordered]},
            )
    return reason


def _reason_audit(membership: Membership, reason: ExclusionReason, before: dict, after: dict):
    """One event per kind of change: a rename, a retirement, a restoration."""
    if before["label"] != after["label"]:
        audit_record(
            review=membership.review,
            actor=membership,
            action=Action.REASON_RENAMED,
            target=reason,
            before={"label": before["label"]},
            after={"label": after["label"]},
        )
    if before["active"] != after["active"]:
        action = Action.REASON_RESTORED if after["active"] else Action.REASON_REMOVED
        audit_record(
            review=membership.review,
            actor=membership,
            action=action,
            target=reason,
            before={"active": before["active"]},
            after={"active": after["active"]},
        )


@transaction.atomic
def queue_order_set(*, membership: Membership, stage: str, queue_order: str) -> StageSettings:
    """Choose how a stage's queue is ordered (admins and owners)."""
    require(membership, Capability.MANAGE_REVIEW)
    if queue_order not in QueueOrder.values:
        raise ServiceError(
            f"'{queue_order}' is not a queue order; choose {', '.join(QueueOrder.values)}.",
            field="queue_order",
        )
    settings = StageSettings.objects.get(review=membership.review, stage=stage)
    before = audit_fields(settings, ["queue_order"])
    settings.queue_order = queue_order
    settings.save(update_fields=["queue_order", "updated_at"])
    audit_record(
        review=membership.review,
        actor=membership,
        action=Action.STAGE_MODE_CHANGED,
        target=Target("stage", stage, settings.get_stage_display()),
        before=before,
        after=audit_fields(settings, ["queue_order"]),
    )
    return settings


def report_study_ensure(*, review: Review, record: Record, user=None) -> Report:
    """Make sure a record has a report linked to a study (the contract PRISMA and extraction use).

    A record settled as included at full text always ends here. Without a study chosen by the
    reviewers, a new one is made, labelled "Surname Year" (with a, b, ... when taken).
    """
    from reviewapp.screening.fulltext import report_get_or_create, study_label_free

    report = report_get_or_create(review=review, record=record, user=user)
    if report.study_id is None:
        study = Study.objects.create(
            review=review, label=study_label_free(review, record), created_by=user
        )
        report.study = study
        report.save(update_fields=["study", "updated_at"])
    return report


def decisions_automation_exclude(
    *,
    membership: Membership,
    stage: str,
    record_ids: list[int],
    details: dict,
    token_for: Callable[[int], uuid.UUID],
) -> int:
    """Exclude, by a declared stopping rule, the records among record_ids nobody has voted on;
    returns how many. All of them or none: one transaction.

    Each gets an event of kind "automation", value "exclude", with the rule and recall estimate
    in `details` and the client token `token_for(record_id)`, and its state row the state its
    events settle to (rules.settle: an automation decision is the last word): excluded. Owners
    and admins only. A few statements per 5,000 records, not a locked write per record, so
    stopping a 100,000-record review neither outlasts the request nor stops halfway. A vote
    sent while this runs waits for the lock: on a record excluded here it is then refused
    (rules.vote_refusal), on one voted on first it stands and the record is left for the team.
    Run again, it finds nothing left to exclude.
    """
    require(membership, Capability.MANAGE_REVIEW)
    review = membership.review
    if not details:
        raise ServiceError("An automation decision must say which rule made it.", field="details")
    # Records imported since the queue last looked may have no state row yet.
    state_rows_sync(review, full=True)
    excluded = 0
    counted: Counter = Counter()
    with transaction.atomic():
        for start in range(0, len(record_ids), BATCH):
            rows = list(
                RecordStageState.objects.select_for_update()
                .filter(
                    review=review,
                    stage=stage,
                    record_id__in=record_ids[start : start + BATCH],
                    state=ScreenState.UNSCREENED,
                )
                .order_by("record_id")
                .values_list("id", "record_id")
            )
            Decision.objects.bulk_create(
                [
                    Decision(
                        review=review,
                        record_id=record_id,
                        stage=stage,
                        reviewer=membership.user,
                        kind=DecisionKind.AUTOMATION,
                        value=DecisionValue.EXCLUDE,
                        client_token=token_for(record_id),
                        details=details,
                    )
                    for _, record_id in rows
                ]
            )
            RecordStageState.objects.filter(pk__in=[pk for pk, _ in rows]).update(
                state=ScreenState.EXCLUDED,
                lease_reviewer=None,
                lease_until=None,
                updated_at=timezone.now(),
            )
            # Unscreened rows are not counted; each is now excluded by the rule.
            counted.update(
                state_key(stage, ScreenState.EXCLUDED, True, record_id) for _, record_id in rows
            )
            excluded += len(rows)
        # Once, after every state row is locked: a decision holding a record's row while it
        # waits for a count row this transaction holds would otherwise deadlock with it.
        tally_add(review.pk, counted)
        if excluded:
            audit_record(
                review=review,
                actor=membership,
                action=Action.SCREENING_STOPPED,
                target=Target("stage", stage, Stage(stage).label),
                after={"excluded_by_rule": excluded, "rule": details.get("rule")},
            )
        if excluded >= ANALYZE_AFTER_ROWS:
            tables_analyze(Decision, RecordStageState)
    return excluded
