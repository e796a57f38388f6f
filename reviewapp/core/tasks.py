import celery
from celery import shared_task

from reviewapp.core.services import worker_heartbeat_record


@shared_task(bind=True, name="core.worker_heartbeat", soft_time_limit=20, time_limit=30)
def worker_heartbeat(self) -> int:
    """Prove the chain web -> broker -> worker -> database; returns the heartbeat's id."""
    hostname = self.request.hostname or "in-process"
    return worker_heartbeat_record(hostname=hostname, celery_version=celery.__version__).pk
