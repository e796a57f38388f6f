"""Reads on records."""

from django.db.models import Exists, OuterRef, QuerySet

from reviewapp.literature.models import DuplicateLink, Record
from reviewapp.reviews.models import Review


def records_unique(review: Review) -> QuerySet[Record]:
    """The review's records that are not an active duplicate of another: what gets screened."""
    active_links = DuplicateLink.objects.filter(duplicate=OuterRef("pk"), undone_at__isnull=True)
    return Record.objects.filter(review=review).exclude(Exists(active_links))


def duplicates_active_count(review: Review) -> int:
    return DuplicateLink.objects.filter(review=review, undone_at__isnull=True).count()
