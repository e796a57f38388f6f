"""Shared by the literature commands: find the review and act as one of its owners."""

from django.core.management.base import CommandError

from reviewapp.reviews.constants import Role
from reviewapp.reviews.models import Membership


def owner_membership(slug: str, username: str | None = None) -> Membership:
    memberships = Membership.objects.select_related("review", "user").filter(review__slug=slug)
    if not memberships.exists():
        raise CommandError(f"No review has the short name '{slug}'.")
    if username:
        membership = memberships.filter(user__username=username).first()
        if membership is None:
            raise CommandError(f"{username} is not a member of '{slug}'.")
        return membership
    membership = memberships.filter(role=Role.OWNER).order_by("pk").first()
    if membership is None:
        raise CommandError(f"'{slug}' has no owner to act as; pass --user.")
    return membership
