"""The text backfill: PDFs stored before text extraction existed get their text, once each."""

from __future__ import annotations

import io
import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError

from reviewapp.screening.fulltext import report_upload
from reviewapp.screening.models import ReportText
from reviewapp.screening.services import decision_record
from tests.conftest import membership_of
from tests.pdf_builder import pdf_bytes


@pytest.fixture
def uploaded(review, reviewer, records):
    """Three records' PDFs uploaded without their text (the extraction task never ran)."""
    review.stage_settings.update(reviewers_required=1)
    versions = []
    for i, record in enumerate(records[:3]):
        decision_record(
            membership=membership_of(reviewer, review), record=record, stage="ta", value="include"
        )
        report = report_upload(
            membership=membership_of(reviewer, review),
            record=record,
            upload=SimpleUploadedFile(
                f"paper{i}.pdf", pdf_bytes(f"Backfilled paper {i} on washout"), "application/pdf"
            ),
        )
        versions.append(report.files.get())
    assert not ReportText.objects.exists()
    return versions


def _command(*args) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("fulltext_text_backfill", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_the_command_extracts_each_missing_text_and_names_each_failure(uploaded, review):
    lost = uploaded[1]
    lost.file.storage.delete(lost.file.name)
    out, err = _command("--batch-size", "2")
    assert "3 PDF(s) without text" in out
    assert "Done: 2 extracted, 1 failed, 0 still without text." in out
    assert f"file {lost.pk} (paper1.pdf): FileNotFoundError" in err
    texts = {t.report_file_id: t for t in ReportText.objects.all()}
    assert "Backfilled paper 0 on washout" in texts[uploaded[0].pk].text
    assert texts[uploaded[0].pk].review_id == review.pk
    assert texts[uploaded[0].pk].record_id == uploaded[0].report.record_id
    assert texts[lost.pk].text == "" and "FileNotFoundError" in texts[lost.pk].error


def test_a_second_run_does_nothing_again(uploaded):
    _command()
    first = dict(ReportText.objects.values_list("report_file_id", "pk"))
    out, err = _command()
    assert "0 PDF(s) without text" in out
    assert "Done: 0 extracted, 0 failed" in out and not err
    assert dict(ReportText.objects.values_list("report_file_id", "pk")) == first


def test_limit_stops_early_and_the_rest_is_left_for_the_next_run(uploaded):
    out, _ = _command("--limit", "1")
    assert "Done: 1 extracted, 0 failed, 2 still without text." in out
    out, _ = _command()
    assert "Done: 2 extracted" in out
    assert ReportText.objects.count() == 3


def test_failed_files_are_tried_again_only_when_asked(uploaded):
    lost = uploaded[2]
    content = lost.file.read()
    lost.file.close()
    lost.file.storage.delete(lost.file.name)
    _command()
    # The file is put back; a plain run leaves its failure alone, --retry-failed extracts it.
    lost.file.storage.save(lost.file.name, io.BytesIO(content))
    assert "Done: 0 extracted, 0 failed" in _command()[0]
    out, err = _command("--retry-failed")
    assert "Done: 1 extracted, 0 failed" in out and not err
    assert "Backfilled paper 2" in ReportText.objects.get(report_file=lost).text


def test_only_the_named_review_is_backfilled(uploaded, owner):
    from tests.factories import RecordFactory, review_make

    other = review_make(owner=owner, slug="other")
    other.stage_settings.update(reviewers_required=1)
    record = RecordFactory(review=other)
    membership = membership_of(owner, other)
    decision_record(membership=membership, record=record, stage="ta", value="include")
    report_upload(
        membership=membership,
        record=record,
        upload=SimpleUploadedFile("other.pdf", pdf_bytes("Other review"), "application/pdf"),
    )
    out, _ = _command("--review", "other")
    assert "Done: 1 extracted, 0 failed, 0 still without text." in out
    assert list(ReportText.objects.values_list("review_id", flat=True)) == [other.pk]


def test_bad_arguments_are_refused_plainly(db):
    with pytest.raises(CommandError, match="No review has the short name 'nope'"):
        _command("--review", "nope")
    with pytest.raises(CommandError, match="--batch-size must be at least 1"):
        _command("--batch-size", "0")


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_the_worker_backfills_through_the_task(celery_worker, uploaded):
    from reviewapp.screening.tasks import report_texts_backfill_task

    queue, _hostname = celery_worker
    result = report_texts_backfill_task.apply_async(kwargs={"batch_size": 2}, queue=queue)
    summary = result.get(timeout=60)
    assert summary == {"extracted": 3, "failures": [], "remaining": 0}
    deadline = time.monotonic() + 5
    while ReportText.objects.count() < 3 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert sorted(ReportText.objects.values_list("report_file_id", flat=True)) == sorted(
        v.pk for v in uploaded
    )
