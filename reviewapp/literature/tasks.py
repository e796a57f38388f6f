from celery import shared_task

from reviewapp.core.jobs import task_check_again_if_busy
from reviewapp.literature.constants import JobStatus
from reviewapp.literature.living import living_due_queue
from reviewapp.literature.searches import search_retry_delay, search_run
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
    """Run one queued PubMed search (or take back one whose worker died); otherwise a no-op.

    A passing failure (network, a busy PubMed) is retried by this task after a wait
    (searches.SEARCH_RETRY_DELAYS), not by sleeping in it. Run in-process (no broker), it neither
    waits nor retries: the request that asked for it must return at once.
    """
    eager = self.app.conf.task_always_eager
    retry_in = None if eager else search_retry_delay(self.request.retries)
    search = search_run(
        search_id=search_id,
        retry_in=retry_in,
        tries=self.request.retries + 1,
        max_tries=1 if eager else 2,
    )
    if retry_in is not None and search.status == JobStatus.QUEUED and search.retry_at:
        raise self.retry(countdown=retry_in, max_retries=None)
    task_check_again_if_busy(self, search)
    return search.pk


@shared_task(name="literature.living_due_queue", soft_time_limit=5 * 60, time_limit=6 * 60)
def living_due_queue_task() -> list[int]:
    """Beat's one entry for living reviews: queue a run of every stored search that is due."""
    return living_due_queue()
