"""The living update end to end as in production: beat's task runs in a real Celery worker,
finds the stored search due, queues its update, and the same worker runs it against the fake
E-utilities server over HTTP, asking only for records entered since the last run."""

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from reviewapp.literature.constants import JobStatus, LivingSchedule
from reviewapp.literature.living import search_schedule_set
from reviewapp.literature.models import LivingVersion, Record, Search
from reviewapp.literature.searches import search_create
from reviewapp.literature.tasks import living_due_queue_task
from tests.celery_worker import worker_process
from tests.conftest import membership_of
from tests.fake_eutils import running_fake_eutils, spread

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]


@pytest.fixture(scope="module")
def pubmed_worker(django_db_setup, media_root):
    with (
        running_fake_eutils() as fake,
        worker_process(media_root, ENTREZ_BASE_URL=fake.base_url) as (queue, _hostname),
    ):
        yield fake, queue


def _wait(until, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = until()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError("timed out")


def test_beat_queues_the_due_update_and_the_worker_adds_only_the_new_records(
    review, owner, settings, pubmed_worker
):
    fake, queue = pubmed_worker
    settings.CELERY_TASK_DEFAULT_QUEUE = queue
    today = timezone.now().date()
    query = "natalizumab rebound"
    fake.script_search(query, spread(40, today - timedelta(days=40), today - timedelta(days=5)))
    membership = membership_of(owner, review)
    first = search_create(membership=membership, query=query)
    from reviewapp.core.jobs import job_send

    job_send(Search, first.pk, queue=queue)
    _wait(lambda: Search.objects.filter(pk=first.pk, status=JobStatus.DONE).exists())
    Search.objects.filter(pk=first.pk).update(run_at=timezone.now() - timedelta(days=2))
    search_schedule_set(membership=membership, search=first, schedule=LivingSchedule.DAILY)
    fake.script_search(
        query,
        {**spread(40, today - timedelta(days=40), today - timedelta(days=5)), today: 9},
    )

    living_due_queue_task.apply_async(queue=queue)
    run = _wait(
        lambda: Search.objects.filter(rerun_of=first, scheduled=True, status=JobStatus.DONE).first()
    )
    assert (run.count_retrieved, run.count_new) == (9, 9)
    asked = fake.requests_to("esearch")[-1].params
    assert (asked["datetype"], asked["mindate"]) == (
        "edat",
        (today - timedelta(days=3)).strftime("%Y/%m/%d"),
    )
    assert Record.objects.filter(review=review).count() == 49
    assert LivingVersion.objects.get(review=review, number=2).search_id == run.pk

    # The next beat finds nothing due: the update just ran.
    living_due_queue_task.apply_async(queue=queue).get(timeout=30)
    assert Search.objects.filter(rerun_of=first).count() == 1
