"""Reads on reviews: the list a user sees and the dashboard of one review."""

from django.db.models import Sum

from reviewapp.core.models import Tally
from reviewapp.literature.models import Import, Search
from reviewapp.reviews.models import Membership
from reviewapp.screening.constants import Stage
from reviewapp.screening.counts import review_counts
from reviewapp.screening.selectors import agreement_table
from reviewapp.screening.stopping import recall_estimates_get


def reviews_for_user(user) -> list[Membership]:
    """The user's memberships with their reviews, each annotated with its record count (from
    the counts the imports keep, not by counting the records)."""
    memberships = list(
        Membership.objects.filter(user=user).select_related("review").order_by("review__title")
    )
    counts = dict(
        Tally.objects.filter(
            review_id__in=[m.review_id for m in memberships], name__startswith="src:"
        )
        .values("review_id")
        .annotate(n=Sum("n"))
        .values_list("review_id", "n")
    )
    for membership in memberships:
        membership.record_count = counts.get(membership.review_id, 0)
    return memberships


def review_dashboard(review) -> dict:
    """What the review's front page shows: where its records came from, each stage's counts and
    the reviewers' agreement (Cohen's kappa per stage and per pair), and the recall estimate
    with its interval of each stage screened in ranked order or under a stopping rule.

    Every number comes from the counts the writes keep (screening.counts): a fixed number of
    small queries on a review of any size.
    """
    counts = review_counts(review)
    return {
        "records_total": counts.records,
        "duplicates": counts.duplicates,
        "records_unique": counts.records - counts.duplicates,
        "searches": Search.objects.filter(review=review).order_by("-created_at")[:10],
        "imports": Import.objects.filter(review=review).order_by("-created_at")[:10],
        "stages": [counts.stage(stage) for stage in Stage.values],
        "agreement": agreement_table(review, counts),
        "recall": recall_estimates_get(review, counts),
    }
