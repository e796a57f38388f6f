"""Writing the audit log. Every service that changes a review outside its append-only decisions
and revisions calls ``audit_record`` in its own transaction: the change and its event commit
together or not at all.

    before = audit_fields(reason, ["label", "active"])
    ... change and save reason ...
    audit_record(review=review, actor=membership, action=Action.REASON_RENAMED, target=reason,
                 before=before, after=audit_fields(reason, ["label", "active"]))

Invitations (reviewapp.accounts) call it the same way, with the codes reserved in constants:

    audit_record(review=invitation.review, actor=membership, action=Action.INVITATION_SENT,
                 target=Target("invitation", invitation.pk, invitation.email),
                 after={"email": invitation.email, "role": invitation.role})
    # accepted: actor=the new member's user; revoked: before={"status": "pending"}, after=...

Changes made in the Django admin are copied from its LogEntry (reviewapp.audit.signals).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import User
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, models

from reviewapp.audit.models import AuditEvent
from reviewapp.reviews.models import Membership, Review

# Set by reviewapp.audit.middleware.AuditRequestMiddleware for the request being served.
request_meta: ContextVar[dict[str, str] | None] = ContextVar("audit_request_meta", default=None)


@dataclass(frozen=True)
class Target:
    """What an event is about when it is not one model instance (a PRISMA box, a stage)."""

    type: str
    id: str | int | None
    label: str


def _jsonable(value: Any) -> Any:
    # Dates, decimals and UUIDs as text, as the JSON column will store them; so that a value
    # compares equal to what a later read returns.
    return json.loads(json.dumps(value, cls=DjangoJSONEncoder))


def audit_fields(instance: models.Model, fields: Iterable[str]) -> dict[str, Any]:
    """A snapshot of some fields of an instance, as JSON values (a foreign key as its id)."""
    snapshot = {}
    for name in fields:
        field = instance._meta.get_field(name)
        attname = getattr(field, "attname", name)
        snapshot[name] = _jsonable(getattr(instance, attname))
    return snapshot


def audit_diff(
    before: Mapping[str, Any], after: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Only what changed: the keys whose values differ (or exist on one side only), each side
    keeping its own value. Equal snapshots give two empty dicts."""
    before, after = _jsonable(dict(before)), _jsonable(dict(after))
    changed = [k for k in {**before, **after} if before.get(k, _MISSING) != after.get(k, _MISSING)]
    return (
        {k: before[k] for k in changed if k in before},
        {k: after[k] for k in changed if k in after},
    )


_MISSING = object()


def _target_parts(target: models.Model | Target) -> tuple[str, str, str]:
    if isinstance(target, Target):
        return target.type, "" if target.id is None else str(target.id), target.label
    return target._meta.model_name or "", str(target.pk), str(target)


def audit_record(
    *,
    review: Review,
    actor: Membership | User | None,
    action: str,
    target: models.Model | Target,
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
) -> AuditEvent | None:
    """Append one event to the review's audit log; returns it, or None when nothing changed.

    ``actor`` is the member (or user) who made the change, None for the system. ``before`` and
    ``after`` are snapshots (``audit_fields``); only the fields that differ are stored. An
    event whose snapshots are equal is not written: no event without its change. Must run inside
    the transaction that makes the change, so neither commits without the other.
    """
    if not connection.in_atomic_block:
        raise RuntimeError(f"audit_record({action}) must run in the transaction of the change.")
    given = before is not None or after is not None
    old, new = audit_diff(before or {}, after or {})
    if given and not old and not new:
        return None
    user = actor.user if isinstance(actor, Membership) else actor
    target_type, target_id, target_label = _target_parts(target)
    return AuditEvent.objects.create(
        review=review,
        actor=user,
        actor_label=user.get_username() if user is not None else "",
        action=str(action),
        target_type=target_type[:40],
        target_id=target_id[:64],
        target_label=target_label[:300],
        before=old,
        after=new,
        request_meta=request_meta.get() or {},
    )
