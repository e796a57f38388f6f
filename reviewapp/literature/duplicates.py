"""Writes on duplicate links: confirming, undoing, marking (the page reads them through
``selectors.duplicate_clusters_page``).

A link is never deleted: undoing it records who and when, and the record returns to screening.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from reviewapp.audit.constants import Action
from reviewapp.audit.services import Target, audit_fields, audit_record
from reviewapp.core.errors import ServiceError
from reviewapp.core.permissions import require
from reviewapp.literature.constants import DuplicateRule, DuplicateStatus
from reviewapp.literature.models import DuplicateLink, Record, RecordMerge
from reviewapp.reviews.constants import Capability
from reviewapp.reviews.models import Membership


def _link_for(membership: Membership, link_id: int) -> DuplicateLink:
    link = (
        DuplicateLink.objects.select_for_update()
        .filter(pk=link_id, review=membership.review)
        .first()
    )
    if link is None:
        raise ServiceError("No such duplicate link in this review.")
    return link


@transaction.atomic
def duplicate_confirm(*, membership: Membership, link_id: int) -> DuplicateLink:
    """A reviewer agrees that the two records are the same citation."""
    require(membership, Capability.SCREEN)
    link = _link_for(membership, link_id)
    if link.undone_at is not None:
        raise ServiceError("This link was undone; mark the records as duplicates again instead.")
    before = audit_fields(link, ["status"])
    link.status = DuplicateStatus.CONFIRMED
    link.confirmed_by = membership.user
    link.save(update_fields=["status", "confirmed_by"])
    _audit(membership, Action.DUPLICATE_CONFIRMED, link, before, audit_fields(link, ["status"]))
    return link


@transaction.atomic
def duplicate_undo(*, membership: Membership, link_id: int) -> DuplicateLink:
    """The records are different citations: the duplicate returns to screening."""
    require(membership, Capability.SCREEN)
    link = _link_for(membership, link_id)
    if link.undone_at is not None:
        return link
    link.undone_at = timezone.now()
    link.undone_by = membership.user
    link.save(update_fields=["undone_at", "undone_by"])
    _audit(membership, Action.DUPLICATE_UNLINKED, link, {"linked": True}, {"linked": False})
    _merge_retire(membership, primary_id=link.primary_id, leaving_id=link.duplicate_id)
    return link


def _merge_retire(membership: Membership, *, primary_id: int, leaving_id: int) -> None:
    """A record left a merged cluster (or its primary became a duplicate): the merge may hold
    values taken from it, so it stops being in effect, undone by the same person at the same
    time; the primary shows its own values until the cluster is merged again."""
    merge = (
        RecordMerge.objects.select_for_update()
        .filter(primary_id=primary_id, current=True)
        .select_related("primary")
        .first()
    )
    if merge is None or leaving_id not in merge.records:
        return
    merge.current = False
    merge.undone_at = timezone.now()
    merge.undone_by = membership.user
    merge.save(update_fields=["current", "undone_at", "undone_by"])
    audit_record(
        review=membership.review,
        actor=membership,
        action=Action.DUPLICATE_MERGE_UNDONE,
        target=Target("record", primary_id, f"Record {merge.primary.number} and its duplicates"),
        before={"merged": True},
        after={"merged": False, "left": _numbers(leaving_id)[leaving_id]},
    )


@transaction.atomic
def duplicate_mark(*, membership: Membership, duplicate_id: int, primary_id: int) -> DuplicateLink:
    """A reviewer marks a record as a duplicate the matcher missed."""
    require(membership, Capability.SCREEN)
    review = membership.review
    records = {
        r.pk: r for r in Record.objects.filter(review=review, pk__in=[duplicate_id, primary_id])
    }
    if duplicate_id == primary_id or len(records) != 2:
        raise ServiceError("Choose two different records of this review.")
    if DuplicateLink.objects.filter(duplicate_id=duplicate_id, undone_at__isnull=True).exists():
        raise ServiceError(
            f"Record {records[duplicate_id].number} is already marked as a duplicate."
        )
    primary_id = (
        DuplicateLink.objects.filter(duplicate_id=primary_id, undone_at__isnull=True)
        .values_list("primary_id", flat=True)
        .first()
        or primary_id
    )
    # A merged cluster's primary that becomes a duplicate no longer shows its merge.
    _merge_retire(membership, primary_id=duplicate_id, leaving_id=duplicate_id)
    link = DuplicateLink.objects.create(
        review=review,
        duplicate_id=duplicate_id,
        primary_id=primary_id,
        rule=DuplicateRule.MANUAL,
        score=1.0,
        status=DuplicateStatus.CONFIRMED,
        created_by=membership.user,
        confirmed_by=membership.user,
    )
    _audit(membership, Action.DUPLICATE_LINKED, link, {"linked": False}, {"linked": True})
    return link


def _numbers(*record_ids: int) -> dict[int, int]:
    """The records' numbers in their review: what people see and cite, never the database id."""
    return dict(Record.objects.filter(pk__in=record_ids).values_list("pk", "number"))


def _audit(membership: Membership, action: str, link: DuplicateLink, before, after) -> None:
    numbers = _numbers(link.duplicate_id, link.primary_id)
    label = (
        f"Record {numbers[link.duplicate_id]} as a duplicate of record {numbers[link.primary_id]}"
    )
    audit_record(
        review=membership.review,
        actor=membership,
        action=action,
        target=Target("duplicate_link", link.pk, label),
        before=before,
        after=after,
    )
