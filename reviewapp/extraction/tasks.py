from celery import shared_task

from reviewapp.core.jobs import task_check_again_if_busy
from reviewapp.extraction.services import export_run, exports_expire


@shared_task(bind=True, name="extraction.export_run", soft_time_limit=60 * 25, time_limit=60 * 30)
def export_run_task(self, export_id: int) -> int:
    """Write one queued export (or take back one whose worker died); otherwise a no-op."""
    job = export_run(export_id=export_id)
    task_check_again_if_busy(self, job)
    return job.pk


@shared_task(name="extraction.exports_expire", soft_time_limit=60 * 10, time_limit=60 * 12)
def exports_expire_task() -> int:
    """Delete export files older than EXPORT_KEEP_DAYS and mark their jobs expired (beat, daily)."""
    return exports_expire()
