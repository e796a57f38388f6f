import celery
from celery import shared_task
from django.core.management import call_command

from reviewapp.core.jobs import jobs_recover
from reviewapp.core.services import duplicate_versions_prune, worker_heartbeat_record


@shared_task(bind=True, name="core.worker_heartbeat", soft_time_limit=20, time_limit=30)
def worker_heartbeat(self) -> int:
    """Prove the chain web -> broker -> worker -> database; returns the heartbeat's id."""
    hostname = self.request.hostname or "in-process"
    return worker_heartbeat_record(hostname=hostname, celery_version=celery.__version__).pk


@shared_task(name="core.jobs_recover", soft_time_limit=50, time_limit=60)
def jobs_recover_task() -> dict[str, int]:
    """Requeue or fail jobs whose worker died; send jobs the broker never got (beat, every minute)."""
    return jobs_recover()


@shared_task(name="core.sessions_clear", soft_time_limit=60 * 10, time_limit=60 * 12)
def sessions_clear_task() -> None:
    """Delete expired sessions from the database (Django's clearsessions; beat, daily)."""
    call_command("clearsessions")


@shared_task(name="core.duplicate_versions_prune", soft_time_limit=60 * 10, time_limit=60 * 12)
def duplicate_versions_prune_task() -> int:
    """Delete the duplicate versions no read needs (beat, daily); returns how many went."""
    return duplicate_versions_prune()
