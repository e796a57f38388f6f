"""Claims, heartbeats, attempts, recovery and sending of background jobs (reviewapp/core/jobs.py).

The rows are real (PostgreSQL); the broker is the test Redis, each test on a queue of its own so
the messages it sends can be counted. What a real worker does with them is in test_job_faults.py.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from reviewapp.core.jobs import JobLost, job_claim, job_enqueue, job_send, jobs_recover
from reviewapp.literature.constants import JobStatus
from reviewapp.literature.models import Import, Search
from reviewapp.literature.services import import_create
from reviewapp.screening.constants import RankingStatus
from reviewapp.screening.models import Ranking
from reviewapp.screening.ranking_service import ranking_request
from tests.conftest import membership_of
from tests.core.job_fixtures import broker_down_fixture, queue_fixture  # noqa: F401
from tests.factories import ImportFactory


def _running(model, pk, *, beat_age: timedelta, attempts: int = 1) -> None:
    beat = timezone.now() - beat_age
    model.objects.filter(pk=pk).update(
        status="running", attempts=attempts, claim_token="old", heartbeat_at=beat, started_at=beat
    )


def test_every_job_model_uses_the_statuses_the_job_helpers_write():
    from reviewapp.core import jobs

    for kind in jobs.KINDS:
        choices = set(kind.model._meta.get_field("status").get_choices(include_blank=False))
        values = {value for value, _label in choices}
        assert {jobs.QUEUED, jobs.RUNNING, jobs.DONE, jobs.FAILED} <= values, kind.model_label


def test_a_queued_job_is_claimed_once_with_a_token_and_a_heartbeat(review):
    imp = ImportFactory(review=review)
    claim = job_claim(Import, imp.pk)
    assert claim is not None and claim.attempt == 1
    imp.refresh_from_db()
    assert (imp.status, imp.attempts, imp.claim_token) == ("running", 1, claim.token)
    assert imp.heartbeat_at is not None
    # A second delivery of the same message while the first attempt is alive does nothing.
    assert job_claim(Import, imp.pk) is None
    assert Import.objects.get(pk=imp.pk).attempts == 1


def test_a_running_job_whose_heartbeat_stopped_is_taken_back_and_its_old_attempt_cannot_finish(
    review, settings
):
    imp = ImportFactory(review=review)
    first = job_claim(Import, imp.pk)
    assert first is not None
    stopped = timezone.now() - timedelta(seconds=settings.JOBS_STALE_AFTER_SECONDS + 1)
    Import.objects.filter(pk=imp.pk).update(heartbeat_at=stopped)

    second = job_claim(Import, imp.pk)
    assert second is not None and second.attempt == 2 and second.token != first.token
    with pytest.raises(JobLost):
        first.finish(status=JobStatus.DONE)
    second.finish(status=JobStatus.DONE, finished_at=timezone.now())
    assert Import.objects.get(pk=imp.pk).status == JobStatus.DONE


def test_a_job_whose_worker_died_on_every_attempt_fails_with_a_message_and_runs_again(
    client, review, owner, settings, queue, django_capture_on_commit_callbacks
):
    imp = ImportFactory(review=review, file=ContentFile(b"TY  - JOUR\nER  - \n", name="a.ris"))
    _running(
        Import,
        imp.pk,
        beat_age=timedelta(seconds=settings.JOBS_STALE_AFTER_SECONDS + 5),
        attempts=settings.JOBS_MAX_ATTEMPTS,
    )
    assert job_claim(Import, imp.pk) is None
    imp.refresh_from_db()
    assert imp.status == JobStatus.FAILED and imp.finished_at is not None
    assert f"stopped {settings.JOBS_MAX_ATTEMPTS} times" in imp.error
    assert "It can be run again." in imp.error

    client.force_login(owner)
    detail = reverse("literature:import-detail", args=[review.slug, imp.pk])
    page = client.get(detail).content.decode()
    assert imp.error in page and "Run it again" in page
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("literature:import-retry", args=[review.slug, imp.pk]))
    assert response.status_code == 302 and response["Location"] == detail
    imp.refresh_from_db()
    assert (imp.status, imp.attempts, imp.error, imp.claim_token) == ("queued", 0, "", "")
    assert imp.sent_at is not None and queue() == 1


def test_only_a_failed_import_can_be_run_again_and_only_by_a_manager(
    client, review, owner, reviewer, outsider, queue
):
    imp = ImportFactory(review=review, status=JobStatus.DONE)
    retry = reverse("literature:import-retry", args=[review.slug, imp.pk])
    client.force_login(owner)
    response = client.post(retry, follow=True)
    assert "Only a failed import can be run again." in response.content.decode()
    assert Import.objects.get(pk=imp.pk).status == JobStatus.DONE
    Import.objects.filter(pk=imp.pk).update(status=JobStatus.FAILED)
    for user in (reviewer, outsider):
        client.force_login(user)
        assert client.post(retry).status_code in (403, 404)
    assert Import.objects.get(pk=imp.pk).status == JobStatus.FAILED
    assert queue() == 0


def test_the_recovery_requeues_a_stale_running_job_and_sends_it_again(review, settings, queue):
    imp = ImportFactory(review=review)
    _running(Import, imp.pk, beat_age=timedelta(seconds=settings.JOBS_STALE_AFTER_SECONDS + 5))
    counts = jobs_recover()
    assert counts["requeued"] == 1 and counts["sent"] == 1
    imp.refresh_from_db()
    assert (imp.status, imp.claim_token) == ("queued", "")
    assert "put back in the queue (attempt 2 of" in imp.note
    assert imp.sent_at is not None and queue() == 1
    # The attempt that was given up for dead can no longer take the job or finish it.
    assert not Import.objects.filter(pk=imp.pk, claim_token="old").exists()


def test_the_recovery_leaves_a_live_job_and_a_just_queued_one_alone(review, settings, queue):
    alive = ImportFactory(review=review)
    _running(Import, alive.pk, beat_age=timedelta(seconds=1))
    just_queued = ImportFactory(review=review)
    assert jobs_recover() == {"failed": 0, "requeued": 0, "sent": 0, "unsent": 0}
    assert Import.objects.get(pk=alive.pk).status == "running"
    assert Import.objects.get(pk=just_queued.pk).sent_at is None
    assert queue() == 0


def test_the_recovery_fails_a_stale_job_that_used_up_its_attempts(review, settings, queue):
    ranking = ranking_request(review=review, stage="ta")
    _running(
        Ranking,
        ranking.pk,
        beat_age=timedelta(seconds=settings.JOBS_STALE_AFTER_SECONDS + 5),
        attempts=settings.JOBS_MAX_ATTEMPTS,
    )
    assert jobs_recover()["failed"] == 1
    ranking.refresh_from_db()
    assert ranking.status == RankingStatus.FAILED
    assert "retrain to try again" in ranking.error
    assert queue() == 0


def test_a_running_job_from_before_heartbeats_existed_is_recovered(review, settings, queue):
    # The import: "running" forever, claimed by code that wrote no heartbeat.
    imp = ImportFactory(review=review)
    Import.objects.filter(pk=imp.pk).update(
        status="running", started_at=timezone.now() - timedelta(hours=3), heartbeat_at=None
    )
    assert jobs_recover()["requeued"] == 1
    assert Import.objects.get(pk=imp.pk).status == "queued" and queue() == 1


def test_a_job_asked_for_while_the_broker_is_down_waits_with_a_note_and_is_sent_later(
    client, review, owner, settings, queue, broker_down, django_capture_on_commit_callbacks
):
    client.force_login(owner)
    upload = SimpleUploadedFile("a.ris", b"TY  - JOUR\nTI  - Rebound\nER  - \n")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("literature:import-create", args=[review.slug]),
            {"file": upload, "format": "auto", "source_kind": "database"},
        )
    imp = Import.objects.get(review=review)
    # The request succeeds: the upload is kept and the page says why nothing happens yet.
    assert response.status_code == 302
    assert (imp.status, imp.sent_at) == ("queued", None)
    assert "the task queue could not be reached" in imp.note
    page = client.get(response["Location"]).content.decode()
    assert "sent again automatically" in page

    broker_down()  # the broker is back
    assert jobs_recover(now=timezone.now() + timedelta(minutes=1))["sent"] == 1
    imp.refresh_from_db()
    assert imp.sent_at is not None and imp.note == "" and queue() == 1


def test_a_job_is_sent_only_once_its_row_is_committed(
    review, owner, queue, django_capture_on_commit_callbacks
):
    membership = membership_of(owner, review)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        imp = import_create(
            membership=membership,
            fileobj=ContentFile(b"TY  - JOUR\nTI  - T\nER  - \n", name="t.ris"),
            file_name="t.ris",
        )
        job_enqueue(imp)
        search = Search.objects.create(review=review, query="natalizumab")
        job_enqueue(search)
        assert queue() == 0  # nothing leaves before the rows are committed
    assert len(callbacks) == 2 and queue() == 2
    assert Search.objects.get(pk=search.pk).sent_at is not None
    # Sending a job that is no longer queued still reaches the broker but stamps nothing.
    Import.objects.filter(pk=imp.pk).update(status=JobStatus.DONE, sent_at=None)
    assert job_send(Import, imp.pk) is True
    assert Import.objects.get(pk=imp.pk).sent_at is None
