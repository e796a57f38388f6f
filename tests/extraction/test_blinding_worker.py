"""Exports written by a real worker apply the blinding rule of the member who asked for them."""

import time

import pytest

from reviewapp.extraction.models import ExportJob
from reviewapp.extraction.services import export_request
from reviewapp.literature.constants import JobStatus
from tests.blinding import DECISION_NOTE, ENTRY_MARK, REASON, extract, shows_ritas_vote, vote
from tests.conftest import membership_of

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]


def _exported(celery_worker, user, review, kind, **options) -> str:
    """The text of the file the worker wrote for this member."""
    queue, _hostname = celery_worker
    job = export_request(membership=membership_of(user, review), kind=kind, queue=queue, **options)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        job.refresh_from_db()
        if job.status in (JobStatus.DONE, JobStatus.FAILED):
            break
        time.sleep(0.2)
    assert job.status == JobStatus.DONE, job.error
    with job.file.open("rb") as handle:
        return handle.read().decode("utf-8")


def test_the_worker_hides_the_first_vote_from_an_owner_whose_vote_is_due_until_it_is_in(
    celery_worker, review, owner, ritas_vote
):
    for kind in ("decisions-long", "records-wide"):
        assert not shows_ritas_vote(_exported(celery_worker, owner, review, kind))
    vote(owner, review, ritas_vote)
    for kind in ("decisions-long", "records-wide"):
        text = _exported(celery_worker, owner, review, kind)
        assert REASON in text, kind
    assert DECISION_NOTE in _exported(celery_worker, owner, review, "decisions-long")
    assert ExportJob.objects.filter(requested_by=owner, status=JobStatus.DONE).count() == 5


def test_the_worker_hides_the_first_vote_from_an_admin_whose_vote_is_due_not_from_an_analyst(
    celery_worker, review, review_admin, analyst, ritas_vote
):
    assert not shows_ritas_vote(_exported(celery_worker, review_admin, review, "decisions-long"))
    assert DECISION_NOTE in _exported(celery_worker, analyst, review, "decisions-long")


def test_the_worker_hides_the_first_entry_from_an_admin_who_is_the_second_extractor(
    celery_worker, review, review_admin, analyst, dual_form, study, ritas_entry
):
    draft = extract(review_admin, review, dual_form, study, submit=False)
    options = {"form": dual_form, "which": "all"}
    text = _exported(celery_worker, review_admin, review, "extraction-csv", **options)
    assert "adam's entry" in text and ENTRY_MARK not in text
    assert ENTRY_MARK in _exported(celery_worker, analyst, review, "extraction-csv", **options)
    extract(review_admin, review, dual_form, study, submit=True, revision=draft.revision)
    assert ENTRY_MARK in _exported(celery_worker, review_admin, review, "extraction-csv", **options)
