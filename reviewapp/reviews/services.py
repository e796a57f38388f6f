"""Writes on reviews and their teams. Views, commands and tasks all come through here."""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.text import slugify

from reviewapp.audit.constants import Action
from reviewapp.audit.services import Target, audit_fields, audit_record
from reviewapp.core.errors import ServiceError
from reviewapp.core.permissions import require
from reviewapp.mail.services import email_queue
from reviewapp.reviews.constants import Capability, Role
from reviewapp.reviews.models import Invitation, Membership, Review
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


# Invitations by email -----------------------------------------------------------------------


def _token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _email_normalise(email: str) -> str:
    email = (email or "").strip()
    try:
        validate_email(email)
    except ValidationError:
        raise ServiceError(
            f"'{email}' is not an email address (like name@example.org).", field="email"
        ) from None
    local, _, domain = email.rpartition("@")
    return f"{local}@{domain.lower()}"


def _member_with_email(review: Review, email: str) -> Membership | None:
    from allauth.account.models import EmailAddress

    users = Q(user__email__iexact=email) | Q(
        user__in=EmailAddress.objects.filter(email__iexact=email).values("user")
    )
    return review.memberships.select_related("user").filter(users).first()


def invitation_link(*, site_url: str, token: str) -> str:
    return site_url.rstrip("/") + reverse("invitation-accept", args=[token])


def _invitation_send(*, invitation: Invitation, site_url: str) -> None:
    """A fresh token for the invitation and the email carrying it (the old link stops working)."""
    token = secrets.token_urlsafe(32)
    invitation.token_digest = _token_digest(token)
    context = {
        "invitation": invitation,
        "review": invitation.review,
        "inviter": invitation.invited_by,
        "link": invitation_link(site_url=site_url, token=token),
        "role": invitation.get_role_display(),
    }
    invitation.message = email_queue(
        to=invitation.email,
        subject=render_to_string("reviews/email/invitation_subject.txt", context),
        body=render_to_string("reviews/email/invitation_message.txt", context),
        kind="invitation",
    )
    invitation.save()


@transaction.atomic
def invitation_create(
    *, review: Review, actor: Membership, email: str, role: str, site_url: str
) -> Invitation:
    """Invite someone by email to this review with a role, and send them the link.

    Owners and admins invite; only an owner invites an owner. An address that already belongs to
    a member, or that has an invitation still waiting, is refused with a message saying so.
    """
    require(actor, Capability.ADD_MEMBERS)
    _role_check(role)
    if role == Role.OWNER and actor.role != Role.OWNER:
        raise ServiceError("Only an owner can invite another owner.", field="role")
    email = _email_normalise(email)
    # One invitation at a time per address and review, even when two admins press at once.
    Review.objects.select_for_update().filter(pk=review.pk).first()
    member = _member_with_email(review, email)
    if member is not None:
        raise ServiceError(
            f"{email} already belongs to {member.user.username}, who is a member of this review "
            f"({member.get_role_display().lower()}).",
            field="email",
        )
    waiting = (
        Invitation.objects.filter(
            review=review,
            email__iexact=email,
            accepted_at__isnull=True,
            revoked_at__isnull=True,
            expires_at__gt=timezone.now(),
        )
        .order_by("-created_at")
        .first()
    )
    if waiting is not None:
        raise ServiceError(
            f"{email} was invited on {waiting.created_at:%d %b %Y} and has not answered yet; "
            "send that invitation again from the list of pending invitations.",
            field="email",
        )
    invitation = Invitation(
        review=review,
        email=email,
        role=role,
        invited_by=actor.user,
        expires_at=timezone.now() + timedelta(days=settings.INVITATION_DAYS),
    )
    _invitation_send(invitation=invitation, site_url=site_url)
    audit_record(
        review=review,
        actor=actor,
        action=Action.INVITATION_SENT,
        target=_invited(invitation),
        after={"email": invitation.email, "role": invitation.role},
    )
    return invitation


def _invited(invitation: Invitation) -> Target:
    return Target("invitation", invitation.pk, invitation.email)


def _invitation_of_review(invitation: Invitation, actor: Membership) -> None:
    require(actor, Capability.ADD_MEMBERS)
    if invitation.review_id != actor.review_id:
        raise ServiceError("That invitation belongs to another review.")


@transaction.atomic
def invitation_resend(*, invitation: Invitation, actor: Membership, site_url: str) -> Invitation:
    """Send a waiting (or expired) invitation again, with a new link and a new expiry date."""
    _invitation_of_review(invitation, actor)
    invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
    if invitation.accepted_at or invitation.revoked_at:
        raise ServiceError(f"The invitation to {invitation.email} was {invitation.status}.")
    invitation.expires_at = timezone.now() + timedelta(days=settings.INVITATION_DAYS)
    _invitation_send(invitation=invitation, site_url=site_url)
    audit_record(
        review=invitation.review,
        actor=actor,
        action=Action.INVITATION_SENT,
        target=_invited(invitation),
        # Sent again: a new link, working until then.
        after={"expires_at": _audit_time(invitation.expires_at)},
    )
    return invitation


def _audit_time(when) -> str:
    return when.isoformat(timespec="seconds")


@transaction.atomic
def invitation_revoke(*, invitation: Invitation, actor: Membership) -> Invitation:
    """Withdraw an invitation: its link stops working at once."""
    _invitation_of_review(invitation, actor)
    invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
    if invitation.accepted_at:
        raise ServiceError(f"{invitation.email} has accepted already; remove the member instead.")
    if not invitation.revoked_at:
        invitation.revoked_at = timezone.now()
        invitation.revoked_by = actor.user
        invitation.save(update_fields=["revoked_at", "revoked_by", "updated_at"])
        audit_record(
            review=invitation.review,
            actor=actor,
            action=Action.INVITATION_REVOKED,
            target=_invited(invitation),
            before={"email": invitation.email, "role": invitation.role},
        )
    return invitation


def invitation_get(*, token: str) -> Invitation | None:
    """The invitation a link's token stands for, in whatever state, or None."""
    if not token or len(token) > 200:
        return None
    return (
        Invitation.objects.select_related("review", "invited_by")
        .filter(token_digest=_token_digest(token))
        .first()
    )


def invitation_find(*, token: str) -> Invitation | None:
    """The invitation of a link that can still be accepted, or None."""
    invitation = invitation_get(token=token)
    return invitation if invitation is not None and invitation.status == "pending" else None


@transaction.atomic
def invitation_accept(*, token: str, user) -> Membership:
    """Accept an invitation as `user`: they join its review, and only it, with its role.

    The link is used up. A user who is a member already keeps the role they have. Accepting
    proves the user reads mail at the invited address; if it is theirs it counts as verified.
    """
    from allauth.account.models import EmailAddress

    found = invitation_get(token=token)
    if found is None:
        raise ServiceError("This invitation link is not valid.")
    invitation = Invitation.objects.select_for_update().select_related("review").get(pk=found.pk)
    if invitation.status != "pending":
        raise ServiceError(INVITATION_UNUSABLE[invitation.status])
    membership, created = Membership.objects.get_or_create(
        review=invitation.review,
        user=user,
        defaults={"role": invitation.role, "added_by": invitation.invited_by},
    )
    invitation.accepted_at = timezone.now()
    invitation.accepted_by = user
    invitation.save(update_fields=["accepted_at", "accepted_by", "updated_at"])
    audit_record(
        review=invitation.review,
        actor=user,
        action=Action.INVITATION_ACCEPTED,
        target=_invited(invitation),
        after={"user": user.get_username()},
    )
    if created:
        membership.user = user
        audit_record(
            review=invitation.review,
            actor=user,
            action=Action.MEMBER_ADDED,
            target=_member(membership),
            after=audit_fields(membership, ["role"]),
        )
    if (user.email or "").lower() == invitation.email.lower():
        EmailAddress.objects.filter(user=user, email__iexact=invitation.email).update(verified=True)
    return membership


INVITATION_UNUSABLE = {
    "accepted": "This invitation has been used already. Log in to open the review.",
    "revoked": "This invitation was withdrawn. Ask the review's owner for a new one.",
    "expired": "This invitation has expired. Ask the review's owner to send it again.",
}


@transaction.atomic
def invitation_signup(*, token: str, username: str, password: str):
    """Create the account an invitation is for (with the invited address, verified) and accept
    the invitation with it. Returns the new user."""
    from allauth.account.models import EmailAddress

    invitation = invitation_find(token=token)
    if invitation is None:
        raise ServiceError("This invitation can no longer be used to create an account.")
    username = username.strip()
    User = get_user_model()
    if User.objects.filter(username__iexact=username).exists():
        raise ServiceError(f"The username '{username}' is taken; choose another.", field="username")
    if _users_with_email(invitation.email).exists():
        raise ServiceError(
            f"An account with the address {invitation.email} exists already; log in to accept."
        )
    user = User(username=username, email=invitation.email)
    try:
        validate_password(password, user)
    except ValidationError as exc:
        raise ServiceError(" ".join(exc.messages), field="password1") from None
    user.set_password(password)
    user.save()
    EmailAddress.objects.create(user=user, email=invitation.email, primary=True, verified=True)
    invitation_accept(token=token, user=user)
    return user


def _users_with_email(email: str):
    from allauth.account.models import EmailAddress

    return get_user_model().objects.filter(
        Q(email__iexact=email)
        | Q(pk__in=EmailAddress.objects.filter(email__iexact=email).values("user"))
    )


def invitation_user_exists(*, invitation: Invitation) -> bool:
    """Whether someone has an account with the invited address (they log in to accept)."""
    return _users_with_email(invitation.email).exists()
