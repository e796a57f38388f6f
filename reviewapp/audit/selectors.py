"""Reading the audit log: the filtered events of one review, a keyset page at a time."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from reviewapp.audit.forms import SYSTEM
from reviewapp.audit.models import AuditEvent
from reviewapp.core.rows import in_review
from reviewapp.reviews.models import Review

PAGE_SIZE = 50


def audit_members(review: Review) -> list[tuple[int, str]]:
    """(user id, username) of the review's members and of those who left it (whose changes stay
    in the log), for the "Who" filter. Former members come from the few "member.removed"
    events, read along the (review, action) index, not from a scan of the whole log."""
    people = dict(review.memberships.values_list("user_id", "user__username"))
    removed = AuditEvent.objects.filter(
        in_review(review.pk), action="member.removed", target_type="user"
    ).values_list("target_id", "target_label")
    for user_id, name in removed:
        if user_id.isdigit():
            people.setdefault(int(user_id), name)
    return sorted(people.items(), key=lambda person: person[1].lower())


def _day_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def audit_events(review: Review, filters: dict[str, Any] | None = None) -> QuerySet[AuditEvent]:
    """The review's events matching ``filters`` (the cleaned AuditFilterForm), newest first.

    Written as a range on review_id and ordered by (review_id, id) so that PostgreSQL walks the
    (review, id) index from the newest event (see reviewapp/core/rows.py).
    """
    filters = filters or {}
    events = AuditEvent.objects.filter(in_review(review.pk))
    who = filters.get("who")
    if who == SYSTEM:
        events = events.filter(actor__isnull=True)
    elif who:
        events = events.filter(actor_id=int(who))
    if filters.get("what"):
        events = events.filter(action__startswith=filters["what"])
    if filters.get("date_from"):
        events = events.filter(created_at__gte=_day_start(filters["date_from"]))
    if filters.get("date_to"):
        # The whole of the last day, in the site's time zone.
        events = events.filter(created_at__lt=_day_start(filters["date_to"] + timedelta(days=1)))
    if filters.get("q"):
        events = events.filter(target_label__icontains=filters["q"].strip())
    return events.order_by("-review_id", "-id")


@dataclass
class Change:
    field: str
    before: str
    after: str

    @property
    def long(self) -> bool:
        """Text of several lines or a long one (criteria): shown as two blocks, not inline."""
        return any("\n" in v or len(v) > 60 for v in (self.before, self.after))


@dataclass
class AuditRow:
    event: AuditEvent
    changes: list[Change] = field(default_factory=list)


@dataclass
class AuditPage:
    rows: list[AuditRow]
    older: int | None = None  # the next (older) page holds events with ids below this
    newer: int | None = None  # the previous (newer) page holds events with ids above this


def value_text(value: Any) -> str:
    """A before/after value as a person reads it."""
    if value is None or value == "" or value == []:
        return "—"
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, list):
        return ", ".join(value_text(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


def field_label(key: str) -> str:
    return key.replace("_", " ").capitalize()


def event_changes(event: AuditEvent) -> list[Change]:
    """Each changed field with its value before and after, in a stable order."""
    keys = list(dict.fromkeys([*event.before, *event.after]))
    return [
        Change(
            field_label(key),
            value_text(event.before.get(key)) if key in event.before else "—",
            value_text(event.after.get(key)) if key in event.after else "—",
        )
        for key in keys
    ]


def audit_page(
    events: QuerySet[AuditEvent],
    *,
    older_than: int | None = None,
    newer_than: int | None = None,
    size: int = PAGE_SIZE,
) -> AuditPage:
    """One page of ``events`` (newest first) by keyset: never a count of the whole log."""
    if newer_than is not None:
        found = list(events.filter(id__gt=newer_than).order_by("review_id", "id")[: size + 1])
        more = len(found) > size
        page = list(reversed(found[:size]))
        newer = page[0].pk if more and page else None
        older = page[-1].pk if page else None
    else:
        if older_than is not None:
            events = events.filter(id__lt=older_than)
        found = list(events[: size + 1])
        page = found[:size]
        older = page[-1].pk if len(found) > size else None
        newer = page[0].pk if older_than is not None and page else None
    return AuditPage(rows=[AuditRow(e, event_changes(e)) for e in page], older=older, newer=newer)


CSV_HEADER = [
    "event_id",
    "time_utc",
    "actor",
    "action",
    "action_label",
    "target_type",
    "target_id",
    "target",
    "before",
    "after",
    "ip",
]


def audit_csv_rows(events: QuerySet[AuditEvent]):
    """The events as rows for CSV, read in chunks so a long log streams in constant memory."""
    for event in events.iterator(chunk_size=2000):
        yield {
            "event_id": event.pk,
            "time_utc": event.created_at.astimezone(UTC).isoformat(),
            "actor": event.actor_label or "system",
            "action": event.action,
            "action_label": event.action_label,
            "target_type": event.target_type,
            "target_id": event.target_id,
            "target": event.target_label,
            "before": json.dumps(event.before, ensure_ascii=False, sort_keys=True),
            "after": json.dumps(event.after, ensure_ascii=False, sort_keys=True),
            "ip": event.request_meta.get("ip", ""),
        }
