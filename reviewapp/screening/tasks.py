from celery import shared_task
from celery.signals import worker_process_init

from reviewapp.core.jobs import task_check_again_if_busy
from reviewapp.screening.ranking_service import ranking_train
from reviewapp.screening.retrieval import retrieval_run


@shared_task(bind=True, name="screening.ranking_train", soft_time_limit=60 * 10, time_limit=60 * 12)
def ranking_train_task(self, ranking_id: int) -> int:
    """Train one queued ranking (or take back one whose worker died); otherwise a no-op."""
    ranking = ranking_train(ranking_id=ranking_id)
    task_check_again_if_busy(self, ranking)
    return ranking.pk


@shared_task(bind=True, name="screening.retrieval_run", soft_time_limit=60 * 55, time_limit=60 * 60)
def retrieval_run_task(self, retrieval_id: int) -> int:
    """Retrieve open-access PDFs for one queued run (or take back one whose worker died)."""
    retrieval = retrieval_run(retrieval_id=retrieval_id)
    task_check_again_if_busy(self, retrieval)
    return retrieval.pk


@shared_task(
    bind=True, name="screening.bulk_match_run", soft_time_limit=60 * 25, time_limit=60 * 30
)
def bulk_match_run_task(self, match_id: int) -> int:
    """Check and match the files of one bulk upload (or take back a job whose worker died)."""
    from reviewapp.screening.bulk import bulk_match_run

    job = bulk_match_run(match_id=match_id)
    task_check_again_if_busy(self, job)
    return job.pk


@shared_task(name="screening.report_text_extract", soft_time_limit=60 * 5, time_limit=60 * 6)
def report_text_extract_task(report_file_id: int) -> int | None:
    """Extract and store the text of one uploaded PDF, for search (once only)."""
    from reviewapp.screening.fulltext_text import report_text_extract

    row = report_text_extract(report_file_id=report_file_id)
    return row.pk if row else None


@shared_task(name="screening.report_texts_backfill", soft_time_limit=60 * 50, time_limit=60 * 55)
def report_texts_backfill_task(review_id: int | None = None, batch_size: int = 50) -> dict:
    """Extract the text of uploaded PDFs that have none (those from before extraction existed)."""
    from reviewapp.screening.fulltext_text import report_texts_backfill

    result = report_texts_backfill(review_id=review_id, batch_size=batch_size)
    return {
        "extracted": result.extracted,
        "failures": [list(f) for f in result.failures],
        "remaining": result.remaining,
    }


@worker_process_init.connect
def _ranking_model_load(**_kwargs) -> None:
    """Import scikit-learn and the ranking model when a worker process starts (about a second),
    so the first training a reviewer's decision asks for does not pay it."""
    import reviewapp.screening.ranking  # noqa: F401
