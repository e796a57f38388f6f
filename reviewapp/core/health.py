"""What /healthz reports: can the database, the broker and a worker each be reached just now.

Each check is quick and bounded (a second at most), and reports a state instead of raising, so
the health endpoint itself never fails while what it reports on does.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import redis
from django.conf import settings
from django.db import connection
from django.utils import timezone

from reviewapp.core.models import WorkerHeartbeat

OK = "ok"
DOWN = "down"
NOT_USED = "not used"  # no REDIS_URL: tasks run in the web process, no broker, no worker
UNKNOWN = "unknown"

# Beat sends the heartbeat every 60 s: three missed beats and the worker (or beat, or the broker
# between them) is down.
WORKER_HEARTBEAT_STALE_AFTER = timedelta(minutes=3)
BROKER_TIMEOUT_SECONDS = 1.0


def database_health_get() -> tuple[str, str | None]:
    """(state, error class) of the default database, asked with SELECT 1."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # any database failure means 'down', whatever its class
        return DOWN, exc.__class__.__name__
    return OK, None


def broker_health_get() -> tuple[str, str | None]:
    """(state, error class) of the Celery broker (Redis), asked with PING on a fresh connection.

    A fresh connection with short timeouts, not Celery's pooled one: the answer must be about
    the broker now, and must come within a second even when Redis is unreachable.
    """
    if not settings.REDIS_URL:
        return NOT_USED, None
    client = redis.Redis.from_url(
        settings.CELERY_BROKER_URL,
        socket_connect_timeout=BROKER_TIMEOUT_SECONDS,
        socket_timeout=BROKER_TIMEOUT_SECONDS,
    )
    try:
        client.ping()
    except redis.RedisError as exc:
        return DOWN, exc.__class__.__name__
    finally:
        client.close()
    return OK, None


def worker_health_get(*, now: datetime | None = None) -> tuple[str, datetime | None]:
    """(state, last heartbeat) of the Celery workers: ok when any beat in the last 3 minutes."""
    if not settings.REDIS_URL:
        return NOT_USED, None
    latest = WorkerHeartbeat.objects.order_by("-last_seen").values_list("last_seen", flat=True)
    try:
        last_seen = latest.first()
    except Exception:  # the database went away since database_health_get asked
        return UNKNOWN, None
    now = now or timezone.now()
    if last_seen is None or now - last_seen > WORKER_HEARTBEAT_STALE_AFTER:
        return DOWN, last_seen
    return OK, last_seen


def health_report() -> tuple[bool, dict]:
    """(healthy, body) for /healthz: each component's state; healthy when none is down."""
    database, database_error = database_health_get()
    broker, broker_error = broker_health_get()
    errors = {
        name: error
        for name, error in (("database", database_error), ("broker", broker_error))
        if error
    }
    if database == OK:
        worker, last_seen = worker_health_get()
    else:
        worker, last_seen = UNKNOWN, None  # the heartbeat lives in the database
    states = {"database": database, "broker": broker, "worker": worker}
    healthy = all(state in (OK, NOT_USED) for state in states.values())
    body: dict[str, Any] = {
        "status": OK if healthy else DOWN,
        **states,
        "worker_last_seen": last_seen.isoformat() if last_seen else None,
    }
    if errors:
        body["errors"] = errors
    return healthy, body
