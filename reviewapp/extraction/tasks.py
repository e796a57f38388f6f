from celery import shared_task

from reviewapp.extraction.services import export_run


@shared_task(name="extraction.export_run", soft_time_limit=60 * 25, time_limit=60 * 30)
def export_run_task(export_id: int) -> int:
    """Write one queued export; claiming makes a retried task a no-op."""
    return export_run(export_id=export_id).pk
