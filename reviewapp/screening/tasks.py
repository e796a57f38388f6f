from celery import shared_task

from reviewapp.core.jobs import task_check_again_if_busy
from reviewapp.screening.ranking_service import ranking_train


@shared_task(bind=True, name="screening.ranking_train", soft_time_limit=60 * 10, time_limit=60 * 12)
def ranking_train_task(self, ranking_id: int) -> int:
    """Train one queued ranking (or take back one whose worker died); otherwise a no-op."""
    ranking = ranking_train(ranking_id=ranking_id)
    task_check_again_if_busy(self, ranking)
    return ranking.pk
