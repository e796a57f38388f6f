from celery import shared_task

from reviewapp.core.jobs import task_check_again_if_busy
from reviewapp.literature.searches import search_run
from reviewapp.literature.services import import_run

# Tasks are acks-late (settings): a worker killed mid-job leaves its message to the broker, which
# hands it to the next worker; the service's claim makes that delivery take the job back.


@shared_task(bind=True, name="literature.import_run", soft_time_limit=60 * 50, time_limit=60 * 55)
def import_run_task(self, import_id: int) -> int:
    """Run one queued import (or take back one whose worker died); otherwise a no-op."""
    imp = import_run(import_id=import_id)
    task_check_again_if_busy(self, imp)
    return imp.pk


@shared_task(bind=True, name="literature.search_run", soft_time_limit=60 * 50, time_limit=60 * 55)
def search_run_task(self, search_id: int) -> int:
    """Run one queued PubMed search (or take back one whose worker died); otherwise a no-op."""
    search = search_run(search_id=search_id)
    task_check_again_if_busy(self, search)
    return search.pk
