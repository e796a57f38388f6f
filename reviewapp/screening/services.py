"""Writes on screening. Every decision is a new event; nothing here updates or deletes one."""

from __future__ import annotations

import uuid

from django.db import IntegrityError, transaction

from reviewapp.core.errors import ServiceError
from reviewapp.core.permissions import require
from reviewapp.literature.models import Record
from reviewapp.reviews.constants import Capability
from reviewapp.reviews.models import Membership
from reviewapp.screening.constants import DecisionKind, DecisionValue, Stage
from reviewapp.screening.models import Decision, ExclusionReason
from reviewapp.screening.selectors import stage_eligible_ids


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
) -> tuple[Decision, bool]:
    """Record a reviewer's decision on a record at a stage; returns (decision, created).

    The same client_token from the same reviewer returns the first decision instead of adding a
    second (a double click or a retried request). At full text, excluding needs a reason.
    """
    review = membership.review
    require(
        membership,
        Capability.ADJUDICATE if kind == DecisionKind.ADJUDICATION else Capability.SCREEN,
    )
    if stage not in Stage.values:
        raise ServiceError(f"'{stage}' is not a screening stage.", field="stage")
    if value not in DecisionValue.values:
        raise ServiceError(
            f"'{value}' is not a decision; use include, exclude or maybe.", field="value"
        )
    if record.review_id != review.pk:
        raise ServiceError("That record belongs to another review.", field="record")
    if client_token is not None:
        existing = Decision.objects.filter(
            reviewer=membership.user, client_token=client_token
        ).first()
        if existing is not None:
            return existing, False
    if record.pk not in set(stage_eligible_ids(review, stage)):
        raise ServiceError(
            f"Record {record.pk} is not waiting for screening at the {Stage(stage).label.lower()} "
            "stage (it is a duplicate, or was not included at the stage before).",
            field="record",
        )
    reasons = list(
        ExclusionReason.objects.filter(review=review, pk__in=reason_ids or [], active=True)
    )
    if len(reasons) != len(set(reason_ids or [])):
        raise ServiceError(
            "One of the exclusion reasons is not in this review's list.", field="reasons"
        )
    if value == DecisionValue.EXCLUDE and stage == Stage.FULL_TEXT and not reasons:
        raise ServiceError("Excluding a full text needs at least one reason.", field="reasons")
    if value != DecisionValue.EXCLUDE and reasons:
        raise ServiceError("Exclusion reasons go only with an exclude decision.", field="reasons")
    try:
        with transaction.atomic():
            decision = Decision.objects.create(
                review=review,
                record=record,
                stage=stage,
                reviewer=membership.user,
                kind=kind,
                value=value,
                note=note.strip(),
                client_token=client_token,
            )
            decision.reasons.set(reasons)
    except IntegrityError:
        # Two copies of the same request raced past the check above; the first one won.
        existing = Decision.objects.filter(
            reviewer=membership.user, client_token=client_token
        ).first()
        if existing is None:
            raise
        return existing, False
    return decision, True
