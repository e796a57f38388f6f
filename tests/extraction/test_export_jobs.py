"""Background exports after they finish: old files expire, a failed export runs again."""

from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.urls import reverse
from django.utils import timezone

from reviewapp.extraction.models import ExportJob
from reviewapp.extraction.services import exports_expire
from reviewapp.literature.constants import JobStatus
from tests.core.job_fixtures import queue_fixture  # noqa: F401


def _done(review, user, *, days_ago: float) -> ExportJob:
    job = ExportJob.objects.create(
        review=review, requested_by=user, kind="decisions-long", status=JobStatus.DONE
    )
    job.file.save("decisions.csv", ContentFile(b"record_id\n1\n"), save=False)
    ExportJob.objects.filter(pk=job.pk).update(
        file=job.file.name, finished_at=timezone.now() - timedelta(days=days_ago)
    )
    job.refresh_from_db()
    return job


@pytest.mark.django_db
def test_export_files_older_than_the_keep_days_are_deleted_and_their_jobs_expire(
    client, review, owner, settings
):
    settings.EXPORT_KEEP_DAYS = 7
    old = _done(review, owner, days_ago=8)
    recent = _done(review, owner, days_ago=6)
    old_path = old.file.name

    assert exports_expire() == 1

    old.refresh_from_db()
    assert (old.status, old.file.name) == (JobStatus.EXPIRED, "")
    assert not default_storage.exists(old_path)
    recent.refresh_from_db()
    assert recent.status == JobStatus.DONE and default_storage.exists(recent.file.name)
    client.force_login(owner)
    page = client.get(reverse("extraction:export-detail", args=[review.slug, old.pk]))
    assert "This file was deleted 7 days after it was made" in page.content.decode()
    assert (
        client.get(reverse("extraction:export-file", args=[review.slug, old.pk])).status_code == 404
    )
    # Running again changes nothing: the expired job has no file left to delete.
    assert exports_expire() == 0


@pytest.mark.django_db
def test_a_failed_export_is_run_again_by_the_member_who_asked_for_it(
    client, review, owner, analyst, django_capture_on_commit_callbacks, queue
):
    job = ExportJob.objects.create(
        review=review,
        requested_by=owner,
        kind="decisions-long",
        status=JobStatus.FAILED,
        attempts=3,
        error="The worker running this export stopped 3 times.",
    )
    detail = reverse("extraction:export-detail", args=[review.slug, job.pk])
    retry = reverse("extraction:export-retry", args=[review.slug, job.pk])
    client.force_login(analyst)
    assert client.post(retry).status_code == 404  # only the member who asked sees the job

    client.force_login(owner)
    assert "Run it again" in client.get(detail).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(retry)
    assert response.status_code == 302 and response["Location"] == detail
    job.refresh_from_db()
    assert (job.status, job.attempts, job.error) == (JobStatus.QUEUED, 0, "")
    assert job.sent_at is not None and queue() == 1
    # A queued (or finished) export is not "run again": the button and the action refuse.
    response = client.post(retry, follow=True)
    assert "Only a failed export can be run again." in response.content.decode()
    assert queue() == 1
