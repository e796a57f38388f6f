"""Writes on reviews and their teams. Views, commands and tasks all come through here."""

from __future__ import annotations

import re

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils.text import slugify

from reviewapp.audit.constants import Action
from reviewapp.audit.services import Target, audit_fields, audit_record
from reviewapp.core.errors import ServiceError
from reviewapp.core.permissions import require
from reviewapp.reviews.constants import Capability, Role
from reviewapp.reviews.models import Membership, Review
from reviewapp.screening.constants import Stage
from reviewapp.screening.models import ExclusionReason, StageSettings

SLUG_PATTERN = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
RESERVED_SLUGS = {"new"}

# The reasons most reviews start from (Covidence's and Cochrane's usual list); admins edit them.
DEFAULT_EXCLUSION_REASONS = [
    "Wrong population",
    "Wrong intervention",
    "Wrong comparator",
    "Wrong outcomes",
    "Wrong study design",
    "Wrong setting",
    "Duplicate or overlapping population",
    "Not a primary study (review, editorial, letter)",
    "Conference abstract only",
]


def review_slug_suggest(title: str) -> str:
    base = slugify(title)[:60].strip("-") or "review"
    slug, n = base, 2
    while slug in RESERVED_SLUGS or Review.objects.filter(slug=slug).exists():
        slug, n = f"{base}-{n}", n + 1
    return slug


@transaction.atomic
def review_create(
    *,
    title: str,
    owner,
    slug: str | None = None,
    question: str = "",
    protocol_registration: str = "",
    inclusion_criteria: str = "",
    exclusion_criteria: str = "",
    is_demo: bool = False,
) -> Review:
    """Create a review with its owner, both screening stages and the default exclusion reasons."""
    title = title.strip()
    if not title:
        raise ServiceError("A review needs a title.", field="title")
    slug = (slug or "").strip() or review_slug_suggest(title)
    if not SLUG_PATTERN.match(slug):
        raise ServiceError(
            f"'{slug}' cannot be a review's short name: use lower-case letters, digits and "
            "hyphens, e.g. natalizumab-discontinuation.",
            field="slug",
        )
    if slug in RESERVED_SLUGS:
        raise ServiceError(f"'{slug}' is reserved; choose another short name.", field="slug")
    if Review.objects.filter(slug=slug).exists():
        raise ServiceError(f"A review called '{slug}' already exists.", field="slug")
    review = Review.objects.create(
        title=title,
        slug=slug,
        question=question,
        protocol_registration=protocol_registration,
        inclusion_criteria=inclusion_criteria,
        exclusion_criteria=exclusion_criteria,
        is_demo=is_demo,
        created_by=owner,
    )
    Membership.objects.create(review=review, user=owner, role=Role.OWNER, added_by=owner)
    for stage in Stage:
        StageSettings.objects.create(review=review, stage=stage, reviewers_required=2, blinded=True)
    ExclusionReason.objects.bulk_create(
        ExclusionReason(review=review, label=label, position=i)
        for i, label in enumerate(DEFAULT_EXCLUSION_REASONS, start=1)
    )
    after = audit_fields(review, ["title", "slug"])
    audit_record(
        review=review, actor=owner, action=Action.REVIEW_CREATED, target=review, after=after
    )
    return review


def _user_find(identifier: str):
    identifier = identifier.strip()
    if not identifier:
        raise ServiceError("Give a username or an email address.", field="user")
    users = list(
        get_user_model().objects.filter(
            Q(username__iexact=identifier) | Q(email__iexact=identifier), is_active=True
        )[:2]
    )
    if not users:
        raise ServiceError(
            f"No active user has the username or email '{identifier}'.", field="user"
        )
    if len(users) > 1:
        raise ServiceError(
            f"More than one user matches '{identifier}'; use the username instead.", field="user"
        )
    return users[0]


def _role_check(role: str) -> None:
    if role not in Role.values:
        raise ServiceError(
            f"'{role}' is not a role; choose one of {', '.join(Role.values)}.", field="role"
        )


@transaction.atomic
def membership_add(*, review: Review, actor: Membership, identifier: str, role: str) -> Membership:
    """Add a user, found by username or email, to the review with a role.

    Owners and admins add members; only an owner may make another owner.
    """
    require(actor, Capability.ADD_MEMBERS)
    _role_check(role)
    if role == Role.OWNER and actor.role != Role.OWNER:
        raise ServiceError("Only an owner can add another owner.", field="role")
    user = _user_find(identifier)
    try:
        with transaction.atomic():
            added = Membership.objects.create(
                review=review, user=user, role=role, added_by=actor.user
            )
    except IntegrityError:
        raise ServiceError(
            f"{user.username} is already a member of this review.", field="user"
        ) from None
    audit_record(
        review=review,
        actor=actor,
        action=Action.MEMBER_ADDED,
        target=_member(added),
        after=audit_fields(added, ["role"]),
    )
    return added


def _member(membership: Membership) -> Target:
    # The user, not the membership row, is what the log names: the row goes when they leave.
    return Target("user", membership.user_id, membership.user.get_username())


def _owners_left_after(membership: Membership) -> int:
    return (
        Membership.objects.select_for_update()
        .filter(review=membership.review, role=Role.OWNER)
        .exclude(pk=membership.pk)
        .count()
    )


@transaction.atomic
def membership_change_role(*, membership: Membership, actor: Membership, role: str) -> Membership:
    """Change a member's role (owners only). A review always keeps at least one owner."""
    require(actor, Capability.MANAGE_MEMBERS)
    _role_check(role)
    if membership.review_id != actor.review_id:
        raise ServiceError("That member belongs to another review.")
    if membership.role == Role.OWNER and role != Role.OWNER and _owners_left_after(membership) == 0:
        raise ServiceError("A review needs at least one owner; make someone else owner first.")
    before = audit_fields(membership, ["role"])
    membership.role = role
    membership.save(update_fields=["role", "updated_at"])
    audit_record(
        review=membership.review,
        actor=actor,
        action=Action.MEMBER_ROLE_CHANGED,
        target=_member(membership),
        before=before,
        after=audit_fields(membership, ["role"]),
    )
    return membership


@transaction.atomic
def membership_remove(*, membership: Membership, actor: Membership) -> None:
    """Remove a member (owners only). Their decisions and extractions stay in the review."""
    require(actor, Capability.MANAGE_MEMBERS)
    if membership.review_id != actor.review_id:
        raise ServiceError("That member belongs to another review.")
    if membership.role == Role.OWNER and _owners_left_after(membership) == 0:
        raise ServiceError("A review needs at least one owner; make someone else owner first.")
    audit_record(
        review=membership.review,
        actor=actor,
        action=Action.MEMBER_REMOVED,
        target=_member(membership),
        before=audit_fields(membership, ["role"]),
    )
    membership.delete()


# review_update's fields, one event per kind of change so the log can be filtered by it.
REVIEW_AUDIT_GROUPS = [
    (Action.REVIEW_SETTINGS_CHANGED, ["title", "question", "protocol_registration"]),
    (Action.CRITERIA_CHANGED, ["inclusion_criteria", "exclusion_criteria"]),
    (Action.KEYWORDS_CHANGED, ["keywords_include", "keywords_exclude"]),
]
REVIEW_AUDITED = [f for _, fields in REVIEW_AUDIT_GROUPS for f in fields]
STAGE_AUDITED = ["reviewers_required", "blinded"]


def _keywords_parse(text: str) -> list[str]:
    """One keyword or phrase per line or comma; blank items dropped, order kept, no repeats."""
    seen: dict[str, None] = {}
    for item in re.split(r"[\n,;]", text):
        item = item.strip()
        if item and item.lower() not in (key.lower() for key in seen):
            seen[item] = None
    return list(seen)


@transaction.atomic
def review_update(
    *,
    review: Review,
    actor: Membership,
    title: str,
    question: str,
    protocol_registration: str,
    inclusion_criteria: str,
    exclusion_criteria: str,
    keywords_include: str,
    keywords_exclude: str,
    stages: dict[str, dict],
) -> Review:
    """Update a review's description, criteria, keywords and per-stage screening settings."""
    require(actor, Capability.MANAGE_REVIEW)
    if not title.strip():
        raise ServiceError("A review needs a title.", field="title")
    before = audit_fields(review, REVIEW_AUDITED)
    review.title = title.strip()
    review.question = question
    review.protocol_registration = protocol_registration.strip()
    review.inclusion_criteria = inclusion_criteria
    review.exclusion_criteria = exclusion_criteria
    review.keywords_include = _keywords_parse(keywords_include)
    review.keywords_exclude = _keywords_parse(keywords_exclude)
    review.save()
    after = audit_fields(review, REVIEW_AUDITED)
    for action, fields in REVIEW_AUDIT_GROUPS:
        audit_record(
            review=review,
            actor=actor,
            action=action,
            target=review,
            before={f: before[f] for f in fields},
            after={f: after[f] for f in fields},
        )
    for stage, values in stages.items():
        required = int(values["reviewers_required"])
        if required not in (1, 2):
            raise ServiceError("Reviewers per record must be 1 or 2.", field=f"{stage}-reviewers")
        settings = StageSettings.objects.filter(review=review, stage=stage).first()
        old = audit_fields(settings, STAGE_AUDITED) if settings else {}
        settings, _ = StageSettings.objects.update_or_create(
            review=review,
            stage=stage,
            defaults={"reviewers_required": required, "blinded": bool(values["blinded"])},
        )
        audit_record(
            review=review,
            actor=actor,
            action=Action.STAGE_MODE_CHANGED,
            target=Target("stage", stage, settings.get_stage_display()),
            before=old,
            after=audit_fields(settings, STAGE_AUDITED),
        )
    return review
