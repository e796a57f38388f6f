from celery import shared_task

from reviewapp.screening.ranking_service import ranking_train


@shared_task(name="screening.ranking_train", soft_time_limit=60 * 10, time_limit=60 * 12)
def ranking_train_task(ranking_id: int) -> int:
    """Train one queued ranking; claiming makes a retried task a no-op."""
    return ranking_train(ranking_id=ranking_id).pk
