"""A task round-trips through the Redis broker to a real worker process and writes to PostgreSQL."""

import pytest

from reviewapp.core.models import WorkerHeartbeat
from reviewapp.core.tasks import worker_heartbeat
from tests.celery_worker import broker_pending


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_a_task_travels_through_the_broker_and_the_worker_writes_to_the_database(celery_worker):
    queue, hostname = celery_worker
    result = worker_heartbeat.apply_async(queue=queue)
    heartbeat_id = result.get(timeout=60)
    heartbeat = WorkerHeartbeat.objects.get(pk=heartbeat_id)
    # Written by the worker process, not by this one: it carries the worker's own name.
    assert heartbeat.hostname == hostname
    assert heartbeat.beats == 1
    assert worker_heartbeat.apply_async(queue=queue).get(timeout=60) == heartbeat_id
    heartbeat.refresh_from_db()
    assert heartbeat.beats == 2


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_the_drain_after_a_test_waits_for_queued_tasks_and_those_held_for_a_countdown(
    celery_worker, _celery_worker_process
):
    # What the fixture runs before the test database is flushed (tests/celery_worker.py): a
    # task still running then deadlocked the flush and left rows for the next test.
    queue, hostname = celery_worker
    now = worker_heartbeat.apply_async(queue=queue)
    later = worker_heartbeat.apply_async(queue=queue, countdown=2)
    assert _celery_worker_process.drain() == []
    assert now.ready() and later.ready()
    assert WorkerHeartbeat.objects.get(hostname=hostname).beats == 2


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_a_drain_that_times_out_names_what_the_worker_still_holds(
    celery_worker, _celery_worker_process
):
    queue, _hostname = celery_worker
    worker_heartbeat.apply_async(queue=queue, countdown=60)
    pending = _celery_worker_process.drain(timeout=1)
    assert pending and all(name.startswith("core.worker_heartbeat") for name in pending)
    # What the fixture does next: stop the worker and empty its queue; the next test starts one.
    _celery_worker_process.stop()
    assert broker_pending(queue) == []
    assert not WorkerHeartbeat.objects.exists()


@pytest.fixture
def eager_celery():
    """The embedded default (no REDIS_URL): tasks run in the calling process."""
    from reviewapp.celery import app

    before = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = before


@pytest.mark.django_db
def test_without_a_broker_the_task_runs_in_process(eager_celery):
    heartbeat_id = worker_heartbeat.delay().get()
    assert WorkerHeartbeat.objects.get(pk=heartbeat_id).beats == 1
