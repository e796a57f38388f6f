from celery import shared_task

from reviewapp.core.jobs import task_check_again_if_busy
from reviewapp.synthesis.services import analysis_run_execute


@shared_task(bind=True, name="synthesis.analysis_run", soft_time_limit=60 * 10, time_limit=60 * 12)
def analysis_run_task(self, run_id: int) -> int:
    """Compute one queued analysis (or take back one whose worker died); otherwise a no-op."""
    run = analysis_run_execute(run_id=run_id)
    task_check_again_if_busy(self, run)
    return run.pk
