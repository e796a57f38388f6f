from django.db.models import F
from django.utils import timezone

from reviewapp.core.models import WorkerHeartbeat


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
