"""What base.html needs on every page of a review: the review and what the viewer's role may do.

Computed once per request from the membership the permission check resolved
(``reviewapp.core.permissions.review_view``), so the header and every page's links ask
``can.<capability>`` without another query, and a link a role cannot use is simply not shown.
"""

from __future__ import annotations

from reviewapp.reviews.constants import Capability


def review_nav(request) -> dict:
    membership = getattr(request, "membership", None)
    if membership is None:
        return {"nav_review": None, "can": {}}
    return {
        "nav_review": membership.review,
        "can": {capability: membership.can(capability) for capability in Capability.values},
    }
