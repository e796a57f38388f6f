"""/healthz reports the database, the broker and the worker heartbeat; /healthz/live the process.

The broker is asked for real: the machine's Redis (REDIS_URL) when it is up, and a port of our own
where nothing listens when it is down.
"""

import os
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from reviewapp.core.models import WorkerHeartbeat
from reviewapp.core.services import worker_heartbeat_record
from tests.own_services import free_port

needs_redis = pytest.mark.skipif(
    not os.environ.get("REDIS_URL"), reason="needs REDIS_URL: the broker /healthz pings is Redis"
)


@pytest.fixture
def broker_down(settings):
    # Nothing listens on a free port: a Redis that is not there.
    settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{free_port()}/0"


@pytest.fixture
def worker_beating(db):
    return worker_heartbeat_record(hostname="celery@worker-1")


@needs_redis
def test_healthz_is_200_when_database_broker_and_worker_are_up(client, worker_beating):
    response = client.get(reverse("healthz"))
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert (body["database"], body["broker"], body["worker"]) == ("ok", "ok", "ok")
    assert body["worker_last_seen"] == worker_beating.last_seen.isoformat()
    assert "errors" not in body


@needs_redis
def test_healthz_is_503_naming_the_broker_when_redis_does_not_answer(
    client, worker_beating, broker_down
):
    response = client.get(reverse("healthz"))
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "down"
    assert body["broker"] == "down"
    assert body["errors"] == {"broker": "ConnectionError"}
    assert (body["database"], body["worker"]) == ("ok", "ok")


@needs_redis
def test_healthz_is_503_naming_the_worker_when_no_heartbeat_was_ever_recorded(client, db):
    response = client.get(reverse("healthz"))
    assert response.status_code == 503
    body = response.json()
    assert body["worker"] == "down"
    assert body["worker_last_seen"] is None
    assert body["broker"] == "ok"


@needs_redis
def test_healthz_is_503_naming_the_worker_when_its_last_heartbeat_is_over_three_minutes_old(
    client, worker_beating
):
    WorkerHeartbeat.objects.update(last_seen=timezone.now() - timedelta(minutes=3, seconds=5))
    body = client.get(reverse("healthz")).json()
    assert body["worker"] == "down"
    assert body["status"] == "down"


@needs_redis
def test_any_worker_beating_within_three_minutes_counts_as_up(client, worker_beating):
    WorkerHeartbeat.objects.update(last_seen=timezone.now() - timedelta(minutes=10))
    worker_heartbeat_record(hostname="celery@worker-2")
    WorkerHeartbeat.objects.filter(hostname="celery@worker-2").update(
        last_seen=timezone.now() - timedelta(minutes=2, seconds=50)
    )
    response = client.get(reverse("healthz"))
    assert response.status_code == 200
    assert response.json()["worker"] == "ok"


def test_without_redis_there_is_no_broker_or_worker_to_report_and_healthz_is_200(
    client, db, settings
):
    # The embedded default: tasks run in the web process.
    settings.REDIS_URL = None
    response = client.get(reverse("healthz"))
    assert response.status_code == 200
    body = response.json()
    assert (body["database"], body["broker"], body["worker"]) == ("ok", "not used", "not used")


def test_liveness_is_200_whatever_the_broker_and_the_worker(client, db, broker_down):
    # Nothing beats and Redis is gone: the web process itself is fine, so compose keeps it.
    response = client.get(reverse("healthz-live"))
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}


def test_liveness_and_readiness_report_a_database_that_cannot_be_reached(client, db, settings):
    from django.db import connection

    # A database call that fails as a dead server would: the health views catch it, not a 500.
    def refuse(execute, sql, params, many, context):
        from django.db import OperationalError

        raise OperationalError("connection refused")

    with connection.execute_wrapper(refuse):
        live = client.get(reverse("healthz-live"))
        ready = client.get(reverse("healthz"))
    assert live.status_code == 503
    assert live.json()["errors"] == {"database": "OperationalError"}
    assert ready.status_code == 503
    assert ready.json()["database"] == "down"
    assert ready.json()["worker"] == "unknown"


@pytest.mark.parametrize("name", ["healthz", "healthz-live"])
def test_health_checks_answer_over_plain_http_when_https_is_enforced(client, db, settings, name):
    settings.SECURE_SSL_REDIRECT = True
    settings.REDIS_URL = None
    response = client.get(reverse(name))
    assert response.status_code == 200
    assert client.get(reverse("login")).status_code == 301
