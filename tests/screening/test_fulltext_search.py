"""The text of each uploaded PDF is extracted once, stored, and searchable from the records list."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from reviewapp.screening.fulltext import report_upload
from reviewapp.screening.fulltext_text import report_text_extract
from reviewapp.screening.models import ReportText
from reviewapp.screening.services import decision_record
from tests.conftest import membership_of
from tests.pdf_builder import pdf_bytes


@pytest.fixture
def included(review, reviewer, records):
    review.stage_settings.update(reviewers_required=1)
    for record in records[:2]:
        decision_record(
            membership=membership_of(reviewer, review), record=record, stage="ta", value="include"
        )
    return records[:2]


def _upload(review, reviewer, record, content, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        report = report_upload(
            membership=membership_of(reviewer, review),
            record=record,
            upload=SimpleUploadedFile("paper.pdf", content, "application/pdf"),
        )
    assert callbacks, "the upload queues the extraction of its text once it commits"
    return report.files.first()


def test_the_text_is_extracted_once_and_found_from_the_records_list(
    client, review, reviewer, included, django_capture_on_commit_callbacks
):
    first, second = included
    version = _upload(
        review,
        reviewer,
        first,
        pdf_bytes("Methods", "Patients received ocrelizumab after washout"),
        django_capture_on_commit_callbacks,
    )
    _upload(review, reviewer, second, pdf_bytes("Unrelated"), django_capture_on_commit_callbacks)
    row = report_text_extract(report_file_id=version.pk)
    assert row.pages == 2 and "ocrelizumab" in row.text and not row.error
    assert report_text_extract(report_file_id=version.pk).pk == row.pk
    assert ReportText.objects.count() == 1
    client.force_login(reviewer)
    url = reverse("literature:record-list", args=[review.slug])
    html = client.get(url, {"q": "OCRELIZUMAB", "in": "fulltext"}).content.decode()
    assert "whose PDF contains" in html
    assert first.title in html and second.title not in html
    # Without the box ticked, the search is on titles, PMIDs and DOIs as before.
    assert first.title not in client.get(url, {"q": "ocrelizumab"}).content.decode()


def test_only_the_current_pdf_is_searched(
    review, reviewer, included, django_capture_on_commit_callbacks
):
    from reviewapp.screening.fulltext_text import records_with_text

    record = included[0]
    old = _upload(
        review,
        reviewer,
        record,
        pdf_bytes("natalizumab rebound"),
        django_capture_on_commit_callbacks,
    )
    new = _upload(
        review, reviewer, record, pdf_bytes("fingolimod switch"), django_capture_on_commit_callbacks
    )
    report_text_extract(report_file_id=old.pk)
    report_text_extract(report_file_id=new.pk)
    assert not list(records_with_text(review.pk, "rebound"))
    assert [r["record_id"] for r in records_with_text(review.pk, "fingolimod")] == [record.pk]


def test_a_pdf_whose_text_cannot_be_read_keeps_the_reason(
    review, reviewer, included, django_capture_on_commit_callbacks
):
    version = _upload(
        review, reviewer, included[0], b"%PDF-1.4\nnot really\n", django_capture_on_commit_callbacks
    )
    row = report_text_extract(report_file_id=version.pk)
    assert row.text == "" and row.error
