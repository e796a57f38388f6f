"""PostgreSQL connections cut (pg_terminate_backend): the next requests and tasks succeed.

Web and worker processes keep their connection between requests (CONN_MAX_AGE=60); a connection
that PostgreSQL dropped meanwhile (a restart, a failover, an idle timeout) must be noticed and
replaced (conn_health_checks), not turned into a 500 or a failed task. Only this test database's
own connections are cut, never another database's.
"""

import pytest
from django.db import connection
from django.urls import reverse

from reviewapp.core.models import WorkerHeartbeat
from reviewapp.core.tasks import worker_heartbeat
from reviewapp.screening.constants import Stage
from tests.own_services import PASSWORD, Browser, app_server

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]


def _other_backends() -> list[int]:
    """Connections to this test database other than this test's own."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return [pid for (pid,) in cursor.fetchall()]


def _cut_connections() -> int:
    """pg_terminate_backend every connection to this test database but our own; how many."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return cursor.fetchone()[0]


def test_pages_and_login_work_again_right_after_the_apps_database_connections_are_cut(
    needs_postgresql, cast, tmp_path, media_root, static_root
):
    review = cast["review"]
    own_redis, web = app_server(tmp_path, media_root, static_root)
    pages = [
        reverse("reviews:review-list"),
        reverse("reviews:review-detail", args=[review.slug]),
        reverse("screening:screen", args=[review.slug, Stage.TITLE_ABSTRACT]),
    ]
    try:
        rita = Browser(web.port)
        assert rita.login("rita", PASSWORD).status == 302
        for path in pages:
            assert rita.get(path).status == 200, path
        # gunicorn kept its connection open after the requests: that is what gets cut.
        assert _other_backends(), "gunicorn holds no persistent connection to cut"

        assert _cut_connections() >= 1

        for _ in range(2):  # each of gunicorn's two threads has its own connection
            for path in pages:
                response = rita.get(path)
                assert response.status == 200, f"{path}: {response.status}\n{response.text[:300]}"
        assert _cut_connections() >= 1
        assert Browser(web.port).login("olivia", PASSWORD).status == 302
        assert Browser(web.port).get("/healthz/live").status == 200
    finally:
        log = web.stop()
        own_redis.stop()
    assert "Traceback" not in log, log


def test_a_worker_runs_its_next_task_after_the_database_connections_were_cut(celery_worker):
    # Celery's Django fix-up closes the worker's connection before and after each task (Celery
    # 5.5+; CONN_MAX_AGE only matters to the web), so a cut between tasks finds no connection of
    # the worker's or one the next task replaces; either way the next task must run.
    queue, hostname = celery_worker
    heartbeat_id = worker_heartbeat.apply_async(queue=queue).get(timeout=60)
    beats = WorkerHeartbeat.objects.get(pk=heartbeat_id).beats

    _cut_connections()

    assert worker_heartbeat.apply_async(queue=queue).get(timeout=60) == heartbeat_id
    assert WorkerHeartbeat.objects.get(pk=heartbeat_id).beats == beats + 1
