from celery import shared_task
from celery.signals import worker_process_init

from reviewapp.core.jobs import task_check_again_if_busy
from reviewapp.screening.ranking_service import ranking_train
from reviewapp.screening.ranking_words import record_words_fill


@shared_task(bind=True, name="screening.ranking_train", soft_time_limit=60 * 10, time_limit=60 * 12)
def ranking_train_task(self, ranking_id: int) -> int:
    """Train one queued ranking (or take back one whose worker died); otherwise a no-op."""
    ranking = ranking_train(ranking_id=ranking_id)
    task_check_again_if_busy(self, ranking)
    return ranking.pk


@shared_task(name="screening.record_words_fill", soft_time_limit=60 * 20, time_limit=60 * 25)
def record_words_fill_task(review_id: int) -> int:
    """Tokenise and keep the words of a review's records that lack them (queued after an import);
    idempotent, so a redelivery only finds nothing left to do."""
    return record_words_fill(review_id=review_id)


@worker_process_init.connect
def _ranking_model_load(**_kwargs) -> None:
    """Import scikit-learn and the ranking model when a worker process starts (about a second),
    so the first training a reviewer's decision asks for does not pay it."""
    import reviewapp.screening.ranking  # noqa: F401
