"""A real Celery worker process for tests: the broker is Redis, the database the test database.

Tests that use it prove work crosses process boundaries as in production (web -> Redis -> worker
-> PostgreSQL), which an eager, in-process task cannot show.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parents[1]


def services_missing_reason() -> str | None:
    if not os.environ.get("REDIS_URL"):
        return "needs REDIS_URL (a Redis broker) to start a real Celery worker"
    if connection.vendor != "postgresql":
        return (
            "needs DATABASE_URL pointing at PostgreSQL: the worker process must share the database"
        )
    return None


def _database_url() -> str:
    db = connection.settings_dict
    user = db.get("USER") or "postgres"
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    host = db.get("HOST") or "127.0.0.1"
    port = db.get("PORT") or 5432
    return f"postgres://{user}{password}@{host}:{port}/{db['NAME']}"


@pytest.fixture(scope="session")
def celery_worker(django_db_setup, django_db_blocker, media_root, smtp_server):
    """Start one worker for the session on a queue of its own; yield (queue, hostname)."""
    # Mail goes to the test process's SMTP server (tests/smtp_server.py); a refused message is
    # tried again after a second, not thirty.
    mail = {"EMAIL_URL": f"smtp://127.0.0.1:{smtp_server[1]}", "EMAIL_RETRY_BASE_SECONDS": "1"}
    with worker_process(media_root, **mail) as started:
        yield started


@contextmanager
def worker_process(media_root, **extra_env: str) -> Iterator[tuple[str, str]]:
    """A worker on a queue of its own with ``extra_env`` set (e.g. ENTREZ_BASE_URL, which the
    worker reads once, at start); yields (queue, hostname) and stops it afterwards."""
    reason = services_missing_reason()
    if reason:
        pytest.skip(reason)
    from reviewapp.celery import app

    queue = f"test-{uuid.uuid4().hex[:12]}"
    hostname = f"{queue}@testhost"
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "REDIS_URL": settings.REDIS_URL,
        "DJANGO_SECRET_KEY": settings.SECRET_KEY,
        "MEDIA_ROOT": str(media_root),
        # What the worker queues itself (a retry, a mail from a periodic task) goes to the queue
        # it works on, as in production, where CELERY_QUEUE names both.
        "CELERY_QUEUE": queue,
        **extra_env,
    }
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "reviewapp",
            "worker",
            "--pool=solo",
            "--loglevel=INFO",
            "-Q",
            queue,
            "-n",
            hostname,
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"Celery worker exited early:\n{process.stdout.read()}")
            if app.control.ping(destination=[hostname], timeout=1.0):
                break
        else:
            raise RuntimeError("Celery worker did not answer a ping within 60 seconds")
        yield queue, hostname
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
