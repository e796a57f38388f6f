"""Who may read what through the API: the same membership rules as the pages.

Anonymous requests get 401; members of other reviews and strangers get 404 for anything inside
a review (its existence is private); every role may read (the API is read-only), with blinding
applied by the selectors through ``reviewapp.core.blinding``.
"""

from rest_framework.permissions import BasePermission

from reviewapp.core.permissions import membership_get


class ReviewMember(BasePermission):
    """Resolves the review in the URL to the caller's membership, or raises 404."""

    def has_permission(self, request, view) -> bool:
        slug = view.kwargs.get("slug")
        if slug is None:
            return True
        view.membership = membership_get(user=request.user, slug=slug)
        return True
