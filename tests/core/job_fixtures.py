"""Fixtures for tests of background jobs: a queue of the test's own, a broker that is down."""

import uuid

import pytest
import redis


@pytest.fixture(name="queue")
def queue_fixture(settings):
    """A queue of this test's own on the test Redis; yields a function counting its messages."""
    if not settings.REDIS_URL:
        pytest.skip("needs REDIS_URL: these tests count the messages sent to the broker")
    name = f"jobs-test-{uuid.uuid4().hex[:10]}"
    settings.CELERY_TASK_DEFAULT_QUEUE = name
    client = redis.Redis.from_url(settings.REDIS_URL)
    yield lambda: client.llen(name)
    # The queue, and the bindings kombu keeps for its exchange of the same name.
    client.delete(name, f"_kombu.binding.{name}", f"_kombu.binding_permanent.{name}")
    client.close()


@pytest.fixture(name="broker_down")
def broker_down_fixture():
    """The Celery app's broker pointed at a port where nothing listens, as when Redis is down."""
    from reviewapp.celery import app

    def point_at(url: str) -> None:
        app.conf.broker_url = url
        app._pool = None  # the connection pool and producers are built again from the new URL
        app.amqp._producer_pool = None

    before = app.conf.broker_url
    point_at("redis://127.0.0.1:9/0")
    yield lambda: point_at(before)
    point_at(before)
