"""What waits for a member of a review, and the emails that tell them (reviewapp/mail sends):
records to vote on, conflicts, invitations accepted, and the new records a living search found.

`digests_send` runs every hour from beat: members who chose "immediately" hear when what waits
for them has changed since their last message; members on the daily digest (the default) hear
once a day, at DIGEST_HOUR UTC or the first run after it, when anything waits. Every message has
a link that turns the review's notifications off without logging in (a signed token).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.core import signing
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from reviewapp.mail.services import email_queue
from reviewapp.notifications.constants import Frequency
from reviewapp.notifications.models import NotificationPreference
from reviewapp.reviews.constants import Capability
from reviewapp.reviews.models import Invitation, Membership

UNSUBSCRIBE_SALT = "notifications.unsubscribe"


@dataclass(frozen=True)
class Item:
    key: str
    text: str
    count: int
    path: str


def preference_get(membership: Membership) -> NotificationPreference:
    preference, _ = NotificationPreference.objects.get_or_create(membership=membership)
    return preference


def preference_set(*, membership: Membership, frequency: str) -> NotificationPreference:
    """Set how often this member hears about this review (each member sets their own)."""
    from reviewapp.core.errors import ServiceError

    if frequency not in Frequency.values:
        raise ServiceError(f"'{frequency}' is not a choice.", field="frequency")
    preference = preference_get(membership)
    preference.frequency = frequency
    preference.save(update_fields=["frequency", "updated_at"])
    return preference


def unsubscribe_token(membership: Membership) -> str:
    return signing.dumps({"m": membership.pk}, salt=UNSUBSCRIBE_SALT, compress=True)


def unsubscribe_membership(token: str) -> Membership | None:
    """The membership an unsubscribe link names, or None for a forged or altered one. The link
    does not expire: an old message's link must still work."""
    try:
        data = signing.loads(token, salt=UNSUBSCRIBE_SALT)
    except signing.BadSignature:
        return None
    return Membership.objects.select_related("review", "user").filter(pk=data.get("m")).first()


def waiting_items(membership: Membership, *, since: datetime | None) -> list[Item]:
    """What waits for this member in the review now: records for their vote, conflicts they may
    resolve, extractions waiting for a consensus they may decide, and, since `since`, records a
    living search found, its scheduled runs that failed (for managers) and invitations accepted
    (for those who invite)."""
    from reviewapp.screening.constants import ScreenState, Stage
    from reviewapp.screening.models import RecordVote
    from reviewapp.screening.selectors import stage_states

    review = membership.review
    items: list[Item] = []
    for stage in Stage:
        needs_vote = {ScreenState.UNSCREENED, ScreenState.AWAITING}
        if not (membership.can(Capability.SCREEN) or membership.can(Capability.ADJUDICATE)):
            continue
        states = stage_states(review, stage)
        if membership.can(Capability.SCREEN):
            mine = set(
                RecordVote.objects.filter(
                    review=review, stage=stage, reviewer_id=membership.user_id
                ).values_list("record_id", flat=True)
            )
            waiting = sum(1 for rid, s in states.items() if s in needs_vote and rid not in mine)
            if waiting:
                items.append(
                    Item(
                        f"vote-{stage}",
                        f"{waiting} record(s) wait for your vote ({stage.label.lower()})",
                        waiting,
                        reverse("screening:screen", args=[review.slug, stage]),
                    )
                )
        if membership.can(Capability.ADJUDICATE):
            conflicts = sum(
                1 for s in states.values() if s in (ScreenState.CONFLICT, ScreenState.MAYBE)
            )
            if conflicts:
                items.append(
                    Item(
                        f"conflicts-{stage}",
                        f"{conflicts} conflict(s) wait to be resolved ({stage.label.lower()})",
                        conflicts,
                        reverse("screening:conflict-list", args=[review.slug, stage]),
                    )
                )
    items.extend(_consensus_items(membership))
    if since is not None:
        items.extend(_living_items(membership, since))
    if membership.can(Capability.ADD_MEMBERS) and since is not None:
        accepted = list(
            Invitation.objects.filter(review=review, accepted_at__gt=since)
            .select_related("accepted_by")
            .order_by("accepted_at")
        )
        if accepted:
            names = ", ".join(
                i.accepted_by.username if i.accepted_by else i.email for i in accepted
            )
            items.append(
                Item(
                    "invitations-accepted",
                    f"{len(accepted)} invitation(s) accepted: {names}",
                    len(accepted),
                    reverse("reviews:member-list", args=[review.slug]),
                )
            )
    return items


def _consensus_items(membership: Membership) -> list[Item]:
    """Per dual-extraction form (risk-of-bias tools included), the studies whose two entries are
    submitted and whose consensus is not decided yet, counted only for members who may decide it
    (the study's own extractors, or members who resolve conflicts), as consensus_save allows."""
    from django.db.models import Count, Exists, OuterRef, Q

    from reviewapp.extraction.constants import ExtractionKind
    from reviewapp.extraction.models import Extraction, ExtractionForm

    if not membership.can(Capability.EXTRACT):
        return []
    review = membership.review
    consensus = Extraction.objects.filter(
        form=OuterRef("form"), study=OuterRef("study"), kind=ExtractionKind.CONSENSUS
    )
    submitted = Extraction.objects.filter(
        review=review,
        form__extractors_required__gt=1,
        kind=ExtractionKind.INDIVIDUAL,
        submitted_at__isnull=False,
    ).exclude(Exists(consensus))
    waiting = (
        submitted.values("form_id", "study_id")
        .annotate(
            entries=Count("id"),
            mine=Count("id", filter=Q(extractor_id=membership.user_id)),
        )
        .filter(entries__gte=2)
    )
    if not membership.can(Capability.ADJUDICATE):
        waiting = waiting.filter(mine__gt=0)
    per_form: dict[int, int] = {}
    for row in waiting:
        per_form[row["form_id"]] = per_form.get(row["form_id"], 0) + 1
    forms = ExtractionForm.objects.filter(pk__in=per_form).order_by("name")
    return [
        Item(
            f"consensus-{form.pk}",
            f"{per_form[form.pk]} stud{'y waits' if per_form[form.pk] == 1 else 'ies wait'} "
            f"for a consensus on “{form.name}”",
            per_form[form.pk],
            reverse("extraction:form-detail", args=[review.slug, form.pk]),
        )
        for form in forms
    ]


def _living_items(membership: Membership, since: datetime) -> list[Item]:
    """New records a living search found since `since` (each update is a version), for every
    member; and, for those who manage the review, its scheduled runs that failed for good."""
    from reviewapp.literature.constants import JobStatus
    from reviewapp.literature.models import LivingVersion, Search

    review = membership.review
    items: list[Item] = []
    versions = list(
        LivingVersion.objects.filter(
            review=review, search__isnull=False, created_at__gt=since
        ).order_by("number")
    )
    if versions:
        found = sum(v.records_count for v in versions)
        latest = versions[-1]
        numbers = ", ".join(str(v.number) for v in versions)
        items.append(
            Item(
                "living-new-records",
                f"{found} new record(s) found by the living search (version{'s' if len(versions) > 1 else ''} {numbers})",
                found,
                reverse("literature:search-detail", args=[review.slug, latest.search_id]),
            )
        )
    if membership.can(Capability.MANAGE_REVIEW):
        failed = list(
            Search.objects.filter(
                review=review, scheduled=True, status=JobStatus.FAILED, finished_at__gt=since
            ).order_by("pk")
        )
        if failed:
            items.append(
                Item(
                    "living-failed",
                    f"{len(failed)} scheduled update(s) of a living search failed: {failed[-1].error}",
                    len(failed),
                    reverse("literature:search-detail", args=[review.slug, failed[-1].pk]),
                )
            )
    return items


def _due(preference: NotificationPreference, now: datetime) -> bool:
    if preference.frequency == Frequency.OFF:
        return False
    last = preference.last_sent_at
    if preference.frequency == Frequency.IMMEDIATE:
        return True
    today_at = now.replace(hour=settings.DIGEST_HOUR, minute=0, second=0, microsecond=0)
    if now < today_at:
        return False
    return last is None or last < today_at


@transaction.atomic
def digest_send(*, membership: Membership, site_url: str, now: datetime | None = None) -> bool:
    """Email one member what waits for them in one review, if it is time and anything waits.
    Returns whether a message was queued."""
    now = now or timezone.now()
    preference = (
        NotificationPreference.objects.select_for_update()
        .filter(pk=preference_get(membership).pk)
        .get()
    )
    if not _due(preference, now) or not membership.user.email:
        return False
    # The first message counts from when they joined the review.
    since = preference.last_sent_at or membership.created_at
    items = waiting_items(membership, since=since)
    summary = {item.key: item.count for item in items}
    if not items or (
        preference.frequency == Frequency.IMMEDIATE and summary == preference.last_summary
    ):
        return False
    unsubscribe = site_url + reverse(
        "notifications:unsubscribe", args=[unsubscribe_token(membership)]
    )
    context = {
        "membership": membership,
        "review": membership.review,
        "items": items,
        "site_url": site_url,
        "unsubscribe": unsubscribe,
        "settings_url": site_url
        + reverse("notifications:preference", args=[membership.review.slug]),
        "daily": preference.frequency == Frequency.DAILY,
    }
    email_queue(
        to=membership.user.email,
        subject=render_to_string("notifications/email/digest_subject.txt", context),
        body=render_to_string("notifications/email/digest_message.txt", context),
        kind="digest",
        # One-click unsubscribe (RFC 8058): mail clients show their own button for it.
        headers={
            "List-Unsubscribe": f"<{unsubscribe}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
    )
    preference.last_sent_at = now
    preference.last_summary = summary
    preference.save(update_fields=["last_sent_at", "last_summary", "updated_at"])
    return True


def digests_send(*, now: datetime | None = None) -> int:
    """Every member's digest that is due (beat runs this every hour). Returns how many went out."""
    site_url = settings.SITE_URL.rstrip("/")
    sent = 0
    memberships = Membership.objects.select_related("review", "user").exclude(
        notification_preference__frequency=Frequency.OFF
    )
    for membership in memberships.filter(user__is_active=True).order_by("pk").iterator():
        sent += digest_send(membership=membership, site_url=site_url, now=now)
    return sent
