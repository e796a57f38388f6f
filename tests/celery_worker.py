"""A real Celery worker process for tests: the broker is Redis, the database the test database.

Tests that use it prove work crosses process boundaries as in production (web -> Redis -> worker
-> PostgreSQL), which an eager, in-process task cannot show.

One worker serves the whole session, so a test's tasks can outlive the test: a follow-up it queued
(the text extraction an upload sends on commit, a retry with a countdown) still running when the
test database is flushed deadlocked the flush's TRUNCATE and left rows for the next test. The
``celery_worker`` fixture therefore waits, after each test and before its database is flushed,
until nothing sent to the worker's queue is waiting, held or running; a worker that cannot get
there is stopped and its queue emptied, and the test fails saying what was left.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import redis
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


DRAIN_SECONDS = 60


class Worker:
    """One worker process on a queue of its own, with ``extra_env`` set; restartable."""

    def __init__(self, media_root, **extra_env: str) -> None:
        self.media_root = media_root
        self.extra_env = extra_env
        self.process: subprocess.Popen | None = None
        self.queue = ""
        self.hostname = ""

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> None:
        from reviewapp.celery import app

        # A new queue per start: nothing a stopped worker left behind reaches the next one.
        self.queue = f"test-{uuid.uuid4().hex[:12]}"
        self.hostname = f"{self.queue}@testhost"
        env = {
            **os.environ,
            "DATABASE_URL": _database_url(),
            "REDIS_URL": settings.REDIS_URL,
            "DJANGO_SECRET_KEY": settings.SECRET_KEY,
            "MEDIA_ROOT": str(self.media_root),
            # What the worker queues itself (a retry, a mail from a periodic task) goes to the
            # queue it works on, as in production, where CELERY_QUEUE names both.
            "CELERY_QUEUE": self.queue,
            **self.extra_env,
        }
        self.process = process = subprocess.Popen(
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
                self.queue,
                "-n",
                self.hostname,
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
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"Celery worker exited early:\n{process.stdout.read()}")
            if app.control.ping(destination=[self.hostname], timeout=1.0):
                return
        self.stop()
        raise RuntimeError("Celery worker did not answer a ping within 60 seconds")

    def stop(self) -> None:
        """Stop the process (a warm shutdown finishes the task it is running) and empty its
        queue; when this returns the worker touches the database no more."""
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process = None
        if self.queue:
            queue_purge(self.queue)

    def drain(self, timeout: float = DRAIN_SECONDS) -> list[str]:
        """Wait until every task sent to this worker's queue has finished, follow-ups it queued
        included; return what was still pending at ``timeout`` (empty when all finished)."""
        deadline = time.monotonic() + timeout
        pending: list[str] = []
        while self.running:
            pending = self.pending()
            # Idle twice in a row, a moment apart: a message the worker has just popped from the
            # list is for an instant neither in the list nor among its unacknowledged messages.
            if not pending:
                time.sleep(0.1)
                pending = self.pending()
                if not pending:
                    return []
            if time.monotonic() > deadline:
                return pending
            time.sleep(0.1)
        return []

    def pending(self) -> list[str]:
        """What is not finished: messages waiting in the queue or taken and not acknowledged
        (tasks are acks-late, so that covers running, reserved and countdown tasks), and what
        the worker says it holds; a worker that does not answer is busy (the solo pool answers
        between tasks only)."""
        from reviewapp.celery import app

        pending = broker_pending(self.queue)
        if pending:
            return pending
        inspect = app.control.inspect(destination=[self.hostname], timeout=1.0)
        for state in ("active", "reserved", "scheduled"):
            replies = getattr(inspect, state)()
            if not replies:
                return ["(the worker did not answer: busy with a task)"]
            for task in replies.get(self.hostname, []):
                request = task.get("request", task)
                pending.append(f"{request.get('name')} ({state})")
        return pending


def _redis() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL)


def _queue_keys(client: redis.Redis, queue: str) -> list[bytes]:
    # kombu keeps a queue's messages in a list named after it, plus one list per priority step
    # named "<queue>\x06\x16<priority>".
    return [key for key in client.scan_iter(match=f"{queue}*") if client.type(key) == b"list"]


def broker_pending(queue: str) -> list[str]:
    """Task names of messages for ``queue`` still in Redis: in the queue's lists, or delivered
    to a worker and not yet acknowledged (kombu's "unacked" hash)."""
    client = _redis()
    names = []
    for key in _queue_keys(client, queue):
        for raw in client.lrange(key, 0, -1):
            names.append(f"{_task_name(json.loads(raw))} (waiting)")
    for raw in client.hvals("unacked"):
        message, _exchange, routing_key = json.loads(raw)
        if routing_key == queue:
            names.append(f"{_task_name(message)} (taken, not acknowledged)")
    return names


def queue_purge(queue: str) -> None:
    """Drop every message for ``queue``: its lists and its unacknowledged deliveries."""
    client = _redis()
    for key in _queue_keys(client, queue):
        client.delete(key)
    for tag, raw in client.hgetall("unacked").items():
        if json.loads(raw)[2] == queue:
            client.hdel("unacked", tag)
            client.zrem("unacked_index", tag)


def _task_name(message: dict) -> str:
    return message.get("headers", {}).get("task", "?")


@pytest.fixture(scope="session")
def _celery_worker_process(django_db_setup, django_db_blocker, media_root, smtp_server):
    """The session's worker (started on first use, restarted after a failed drain)."""
    reason = services_missing_reason()
    if reason:
        pytest.skip(reason)
    # Mail goes to the test process's SMTP server (tests/smtp_server.py); a refused message is
    # tried again after a second, not thirty.
    mail = {"EMAIL_URL": f"smtp://127.0.0.1:{smtp_server[1]}", "EMAIL_RETRY_BASE_SECONDS": "1"}
    worker = Worker(media_root, **mail)
    try:
        yield worker
    finally:
        worker.stop()


@pytest.fixture
def celery_worker(request, _celery_worker_process):
    """The session's worker for one test; yield (queue, hostname).

    At teardown, before the test database is flushed, it waits until everything the test sent
    to the worker has finished (see the module docstring).
    """
    # Set up after the test database so torn down before it: the drain runs before the flush.
    if "_django_db_helper" in request.fixturenames:
        request.getfixturevalue("_django_db_helper")
    worker = _celery_worker_process
    if not worker.running:
        worker.start()
    yield worker.queue, worker.hostname
    pending = worker.drain()
    if pending:
        worker.stop()  # the next test starts a fresh one
        pytest.fail(
            f"the Celery worker had not finished this test's tasks after {DRAIN_SECONDS} s, so "
            f"it was stopped and its queue emptied: {', '.join(pending)}"
        )


@contextmanager
def worker_process(media_root, **extra_env: str) -> Iterator[tuple[str, str]]:
    """A worker on a queue of its own with ``extra_env`` set (e.g. ENTREZ_BASE_URL, which the
    worker reads once, at start); yields (queue, hostname). On leaving, it waits for the tasks
    sent to it to finish, then stops it and empties its queue."""
    reason = services_missing_reason()
    if reason:
        pytest.skip(reason)
    worker = Worker(media_root, **extra_env)
    worker.start()
    try:
        yield worker.queue, worker.hostname
        worker.drain()
    finally:
        worker.stop()
