"""The Celery beat schedule: what it sends, that each task runs in a real worker, that beat starts."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from datetime import timedelta

import pytest
import redis
from django.conf import settings
from django.contrib.sessions.models import Session
from django.core.files.base import ContentFile
from django.utils import timezone

from reviewapp.core.models import DuplicateVersion, WorkerHeartbeat
from reviewapp.extraction.models import ExportJob
from reviewapp.literature.constants import JobStatus
from reviewapp.mail.models import OutboundEmail
from tests.celery_worker import ROOT, _database_url, celery_worker  # noqa: F401  (fixture)

SCHEDULED = {
    "worker-heartbeat": "core.worker_heartbeat",
    "jobs-recover": "core.jobs_recover",
    "sessions-clear": "core.sessions_clear",
    "duplicate-versions-prune": "core.duplicate_versions_prune",
    "exports-expire": "extraction.exports_expire",
    "mail-outbox-flush": "mail.outbox_flush",
    "notifications-digests": "notifications.digests_send",
    "living-searches-due": "literature.living_due_queue",
}


def test_the_schedule_sends_the_heartbeat_recovery_session_and_export_cleanup():
    from reviewapp.celery import app

    schedule = settings.CELERY_BEAT_SCHEDULE
    assert {name: entry["task"] for name, entry in schedule.items()} == SCHEDULED
    app.loader.import_default_modules()
    assert set(SCHEDULED.values()) <= set(app.tasks)
    # The heartbeat and the recovery every minute; each expires before the next is due.
    for name in ("worker-heartbeat", "jobs-recover"):
        assert schedule[name]["schedule"] == 60.0
        assert schedule[name]["options"]["expires"] < 60
    # Living searches are checked every 15 minutes; the check expires before the next.
    due = schedule["living-searches-due"]
    assert due["schedule"].minute == {0, 15, 30, 45}
    assert due["options"]["expires"] < 15 * 60


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_every_scheduled_task_runs_by_name_in_the_real_worker(
    celery_worker,  # noqa: F811
    review,
    owner,
    smtp_server,
):
    from reviewapp.celery import app

    queue, hostname = celery_worker
    Session.objects.create(
        session_key="expired" * 4, session_data="", expire_date=timezone.now() - timedelta(days=1)
    )
    old = ExportJob.objects.create(
        review=review, requested_by=owner, kind="decisions-long", status=JobStatus.DONE
    )
    old.file.save("d.csv", ContentFile(b"x\n"), save=False)
    ExportJob.objects.filter(pk=old.pk).update(
        file=old.file.name,
        finished_at=timezone.now() - timedelta(days=settings.EXPORT_KEEP_DAYS + 1),
    )

    def run(task_name: str):
        return app.send_task(task_name, queue=queue).get(timeout=60)

    assert WorkerHeartbeat.objects.filter(pk=run("core.worker_heartbeat"), hostname=hostname)
    assert run("core.jobs_recover") == {"failed": 0, "requeued": 0, "sent": 0, "unsent": 0}
    run("core.sessions_clear")
    assert not Session.objects.filter(session_key="expired" * 4).exists()
    older, latest = (DuplicateVersion.objects.create(review_id=review.pk) for _ in range(2))
    assert run("core.duplicate_versions_prune") >= 1
    assert set(DuplicateVersion.objects.filter(review_id=review.pk)) == {latest}
    assert run("extraction.exports_expire") == 1
    assert ExportJob.objects.get(pk=old.pk).status == JobStatus.EXPIRED
    # A message whose task never reached the broker is handed over, and sent, by the flush.
    lost = OutboundEmail.objects.create(
        from_email="a@example.org", to=["lost.task@example.org"], subject="Lost", body="b"
    )
    OutboundEmail.objects.filter(pk=lost.pk).update(
        created_at=timezone.now() - timedelta(minutes=5)
    )
    assert run("mail.outbox_flush") == 1
    assert run("notifications.digests_send") >= 0
    assert run("literature.living_due_queue") == []  # no stored search is on a schedule
    smtp_server[0].wait_for("lost.task@example.org")


@pytest.mark.services
@pytest.mark.django_db
def test_celery_beat_starts_with_the_schedule(tmp_path):
    if not settings.REDIS_URL:
        pytest.skip("needs REDIS_URL: beat connects to the broker it sends to")
    queue = f"beat-test-{uuid.uuid4().hex[:10]}"
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "REDIS_URL": settings.REDIS_URL,
        "DJANGO_SECRET_KEY": settings.SECRET_KEY,
        "CELERY_QUEUE": queue,
    }
    log = tmp_path / "beat.log"
    with log.open("wb") as out:
        beat = subprocess.Popen(
            [
                sys.executable,
                *("-m", "celery", "-A", "reviewapp", "beat", "--loglevel=DEBUG"),
                *("--schedule", str(tmp_path / "beat-schedule"), "--pidfile="),
            ],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and beat.poll() is None:
                text = log.read_text()
                if all(task in text for task in SCHEDULED.values()):
                    break
                time.sleep(0.3)
            assert beat.poll() is None, f"beat exited:\n{log.read_text()}"
        finally:
            beat.terminate()
            beat.wait(timeout=20)
            redis.Redis.from_url(settings.REDIS_URL).delete(queue)
    text = log.read_text()
    assert "beat: Starting..." in text
    for name, task in SCHEDULED.items():
        assert f"<ScheduleEntry: {name} {task}(" in text, text
