from django.apps import apps
from django.db.models import Exists, F, Max, OuterRef, Q
from django.utils import timezone

from reviewapp.core.models import DuplicateVersion, WorkerHeartbeat


def worker_heartbeat_record(*, hostname: str, celery_version: str = "") -> WorkerHeartbeat:
    """Record that a worker on `hostname` reached the database just now."""
    heartbeat, created = WorkerHeartbeat.objects.get_or_create(
        hostname=hostname,
        defaults={"last_seen": timezone.now(), "celery_version": celery_version, "beats": 1},
    )
    if not created:
        WorkerHeartbeat.objects.filter(pk=heartbeat.pk).update(
            last_seen=timezone.now(), celery_version=celery_version, beats=F("beats") + 1
        )
        heartbeat.refresh_from_db()
    return heartbeat


def duplicate_versions_prune() -> int:
    """Delete the duplicate versions no read needs; returns how many rows went.

    The triggers add a row per change and only each review's latest one is read (the version its
    cached duplicate counts are kept under, screening/counts.py), so the older rows, and the rows
    of reviews deleted since (the table has no foreign key), would pile up for nothing. The
    latest row stays, so no cached count is read again. A row added meanwhile by a transaction
    not yet committed is not seen here, and stays.
    """
    review = apps.get_model("reviews", "Review")
    latest = DuplicateVersion.objects.values("review_id").annotate(top=Max("id")).values("top")
    deleted, _ = DuplicateVersion.objects.filter(
        ~Q(id__in=latest) | ~Exists(review.objects.filter(pk=OuterRef("review_id")))
    ).delete()
    return deleted
