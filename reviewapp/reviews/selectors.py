"""Reads on reviews: the list a user sees and the dashboard of one review."""

from django.db.models import Count

from reviewapp.literature.models import Import, Record, Search
from reviewapp.literature.selectors import duplicates_active_count
from reviewapp.reviews.models import Membership, Review
from reviewapp.screening.constants import Stage
from reviewapp.screening.selectors import agreement_table, stage_counts


def reviews_for_user(user) -> list[Membership]:
    """The user's memberships with their reviews, each annotated with its record count."""
    memberships = list(
        Membership.objects.filter(user=user).select_related("review").order_by("review__title")
    )
    counts = dict(
        Review.objects.filter(memberships__user=user)
        .annotate(n=Count("records"))
        .values_list("id", "n")
    )
    for membership in memberships:
        membership.record_count = counts.get(membership.review_id, 0)
    return memberships


def review_dashboard(review: Review) -> dict:
    """What the review's front page shows: where its records came from, each stage's counts and
    the reviewers' agreement (Cohen's kappa per stage and per pair)."""
    records = Record.objects.filter(review=review).count()
    duplicates = duplicates_active_count(review)
    return {
        "records_total": records,
        "duplicates": duplicates,
        "records_unique": records - duplicates,
        "searches": Search.objects.filter(review=review).order_by("-created_at")[:10],
        "imports": Import.objects.filter(review=review).order_by("-created_at")[:10],
        "stages": [stage_counts(review, stage) for stage in Stage.values],
        "agreement": agreement_table(review),
    }
