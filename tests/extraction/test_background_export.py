"""A large export travels through Redis to a real worker, which writes the file to MEDIA_ROOT."""

import csv
import io
import time

import pytest

from reviewapp.core.progress import progress_read
from reviewapp.extraction.models import ExportJob
from reviewapp.extraction.services import export_request
from reviewapp.literature.constants import JobStatus
from reviewapp.screening.services import decision_record
from tests.celery_worker import celery_worker  # noqa: F401  (fixture)
from tests.conftest import membership_of
from tests.factories import RecordFactory


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_the_worker_writes_the_export_and_reports_progress(celery_worker, review, owner, reviewer):  # noqa: F811
    queue, _hostname = celery_worker
    membership = membership_of(reviewer, review)
    # Single screening: each vote settles its record, so no vote is due from the owner (blinding).
    review.stage_settings.filter(stage="ta").update(reviewers_required=1)
    for record in RecordFactory.create_batch(30, review=review):
        decision_record(membership=membership, record=record, stage="ta", value="include")
    job = export_request(
        membership=membership_of(owner, review), kind="decisions-long", queue=queue
    )
    job.refresh_from_db()
    assert job.rows_total == 30
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        job.refresh_from_db()
        if job.status in (JobStatus.DONE, JobStatus.FAILED):
            break
        time.sleep(0.2)
    assert job.status == JobStatus.DONE, job.error
    assert job.file.name.startswith(f"exports/review-{review.pk}/")
    with job.file.open("rb") as handle:
        rows = list(csv.DictReader(io.StringIO(handle.read().decode())))
    assert len(rows) == 30 and {r["reviewer"] for r in rows} == {"rita"}
    assert job.rows_written == 30
    assert progress_read("export", job.pk) == {"done": 30, "total": 30}
    assert ExportJob.objects.filter(pk=job.pk, started_at__isnull=False).exists()
