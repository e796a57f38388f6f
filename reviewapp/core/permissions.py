"""Review membership: the one place that decides who sees what inside a review.

Outsiders get a 404 (a review's existence is itself private); members whose role lacks the
capability get a 403 that says which role they have.
"""

from __future__ import annotations

from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404

from reviewapp.core.compiled import CompiledQuery
from reviewapp.reviews.constants import Capability
from reviewapp.reviews.models import Membership, Review

# Asked on every request to a review's pages: compiled once (reviewapp.core.compiled). At most
# one row (unique per review and user): no ordering, which would join the user again and sort.
_MEMBERSHIP = CompiledQuery(
    lambda slug, user_id: (
        Membership.objects.select_related("review")
        .filter(review__slug=slug, user_id=user_id)
        .order_by()[:1]
    ),
    slug="\x00slug stand-in\x00",
    user_id=-1_903_000_017,
)


def membership_get(*, user, slug: str) -> Membership:
    """The user's membership of the review with this slug, or Http404 for anyone else."""
    if not user.is_authenticated:
        raise Http404("No such review.")
    found = _MEMBERSHIP.fetch(slug=slug, user_id=user.pk)
    if not found:
        raise Http404("No such review.")
    membership = found[0]
    # The user is loaded already (the request's); joining it again costs every request.
    membership.user = user
    return membership


def require(membership: Membership, capability: str) -> None:
    if not membership.can(capability):
        raise PermissionDenied(
            f"Your role in this review is {membership.get_role_display().lower()}, "
            f"which does not allow this ({Capability(capability).label.replace('_', ' ')})."
        )


def review_view(capability: str = Capability.VIEW):
    """Decorate a view taking (request, slug, ...): log-in required, membership resolved.

    The view receives `review` and `membership` instead of `slug`.
    """

    def decorator(view):
        @login_required
        @wraps(view)
        def wrapper(request, slug: str, *args, **kwargs):
            membership = membership_get(user=request.user, slug=slug)
            # Set before the check: a refused member's 403 page keeps the review's header.
            request.membership = membership
            require(membership, capability)
            review: Review = membership.review
            return view(request, *args, review=review, membership=membership, **kwargs)

        return wrapper

    return decorator
