"""A task round-trips through the Redis broker to a real worker process and writes to PostgreSQL."""

import pytest

from reviewapp.core.models import WorkerHeartbeat
from reviewapp.core.tasks import worker_heartbeat


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
