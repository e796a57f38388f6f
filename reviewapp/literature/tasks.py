from celery import shared_task

from reviewapp.literature.searches import search_run
from reviewapp.literature.services import import_run


@shared_task(name="literature.import_run", soft_time_limit=60 * 50, time_limit=60 * 55)
def import_run_task(import_id: int) -> int:
    """Run one queued import; claiming makes a retried task a no-op."""
    return import_run(import_id=import_id).pk


@shared_task(name="literature.search_run", soft_time_limit=60 * 50, time_limit=60 * 55)
def search_run_task(search_id: int) -> int:
    """Run one queued PubMed search; claiming makes a retried task a no-op."""
    return search_run(search_id=search_id).pk
