"""Full texts: PDF upload checked by content and size, members-only serving, reports and studies."""

import hashlib
import importlib

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from reviewapp.screening.models import Decision, Report, ReportFile, Study
from reviewapp.screening.services import decision_record
from tests.conftest import membership_of

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\n%%EOF\n"
HX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def included(review, reviewer, records):
    """records[0] included at title/abstract (single screening at both stages)."""
    review.stage_settings.update(reviewers_required=1)
    record = records[0]
    record.authors, record.year = ["Prosperini L", "Kinkel RP"], 2019
    record.save()
    decision_record(
        membership=membership_of(reviewer, review), record=record, stage="ta", value="include"
    )
    return record


def update_url(review, record):
    return reverse("screening:report-update", args=[review.slug, record.pk])


def test_only_records_included_at_title_abstract_reach_full_text(
    client, review, reviewer, included, records
):
    client.force_login(reviewer)
    html = client.get(reverse("screening:screen", args=[review.slug, "ft"]), **HX).content.decode()
    assert f'data-record-id="{included.pk}"' in html
    assert f'data-record-id="{records[1].pk}"' not in html


def test_a_pdf_is_stored_and_served_only_to_members(
    client, review, reviewer, analyst, outsider, included
):
    client.force_login(reviewer)
    upload = SimpleUploadedFile("Prosperini 2019.pdf", PDF, content_type="application/pdf")
    response = client.post(update_url(review, included), {"action": "upload", "file": upload}, **HX)
    assert response.status_code == 200
    report = Report.objects.get(record=included)
    assert report.retrieval_status == "retrieved"
    assert report.file.name.startswith(f"fulltext/review-{review.pk}/")
    file_url = reverse("screening:report-file", args=[review.slug, report.pk])
    client.force_login(analyst)
    response = client.get(file_url)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Disposition"].startswith("inline")
    assert b"".join(response.streaming_content) == PDF
    client.force_login(outsider)
    assert client.get(file_url).status_code == 404
    client.logout()
    assert client.get(file_url).status_code == 302


def test_a_file_that_is_not_a_pdf_is_refused_whatever_its_name(client, review, reviewer, included):
    client.force_login(reviewer)
    upload = SimpleUploadedFile(
        "paper.pdf", b"<html>not a pdf</html>", content_type="application/pdf"
    )
    response = client.post(update_url(review, included), {"action": "upload", "file": upload}, **HX)
    assert response.status_code == 422
    assert "not a PDF" in response.content.decode()
    assert not Report.objects.filter(record=included).exclude(file="").exists()


def test_a_pdf_over_the_size_limit_is_refused(client, settings, review, reviewer, included):
    settings.FULLTEXT_MAX_BYTES = 20
    client.force_login(reviewer)
    upload = SimpleUploadedFile("big.pdf", PDF + b"0" * 100, content_type="application/pdf")
    response = client.post(update_url(review, included), {"action": "upload", "file": upload}, **HX)
    assert response.status_code == 422
    assert "the limit is" in response.content.decode()


def test_a_link_and_not_retrieved_are_recorded(client, review, reviewer, included):
    client.force_login(reviewer)
    response = client.post(
        update_url(review, included), {"action": "link", "url": "javascript:alert(1)"}, **HX
    )
    assert response.status_code == 422 and "https://" in response.content.decode()
    client.post(
        update_url(review, included), {"action": "link", "url": "https://example.org/paper"}, **HX
    )
    assert Report.objects.get(record=included).url == "https://example.org/paper"
    client.post(update_url(review, included), {"action": "status", "status": "not_retrieved"}, **HX)
    assert Report.objects.get(record=included).retrieval_status == "not_retrieved"


def test_a_full_text_exclusion_without_a_reason_is_refused_in_the_browser_flow(
    client, review, reviewer, included
):
    client.force_login(reviewer)
    url = reverse("screening:screen-decide", args=[review.slug, "ft", included.pk])
    response = client.post(url, {"value": "exclude"}, **HX)
    assert response.status_code == 422
    assert "needs at least one reason" in response.content.decode()
    assert not Decision.objects.filter(stage="ft").exists()


def test_an_included_full_text_always_gets_a_report_and_a_study(review, reviewer, included):
    decision_record(
        membership=membership_of(reviewer, review), record=included, stage="ft", value="include"
    )
    report = Report.objects.get(record=included)
    assert report.study.label == "Prosperini 2019"


def test_a_study_label_keeps_the_particles_of_the_surname(review, reviewer, included):
    included.authors, included.year = ["van Laarhoven, HWM", "Smith, J"], 2020
    included.save()
    decision_record(
        membership=membership_of(reviewer, review), record=included, stage="ft", value="include"
    )
    assert Report.objects.get(record=included).study.label == "van Laarhoven 2020"


def test_a_second_study_with_the_same_surname_and_year_gets_a_letter(
    review, reviewer, included, records
):
    Study.objects.create(review=review, label="Prosperini 2019")
    decision_record(
        membership=membership_of(reviewer, review), record=included, stage="ft", value="include"
    )
    assert Report.objects.get(record=included).study.label == "Prosperini 2019b"


def test_a_report_is_linked_to_an_existing_study(client, review, reviewer, included, records):
    study = Study.objects.create(review=review, label="AFFIRM")
    client.force_login(reviewer)
    client.post(update_url(review, included), {"action": "study", "study": study.pk}, **HX)
    decision_record(
        membership=membership_of(reviewer, review), record=included, stage="ft", value="include"
    )
    assert Report.objects.get(record=included).study == study
    response = client.post(
        update_url(review, included), {"action": "study", "study": "999999"}, **HX
    )
    assert response.status_code == 422 and "not in this review" in response.content.decode()


def test_a_not_retrieved_report_cannot_be_included_and_leaves_the_queue(review, reviewer, included):
    from reviewapp.core.errors import ServiceError
    from reviewapp.screening.fulltext import report_status_set
    from reviewapp.screening.selectors import next_record_for

    report_status_set(
        membership=membership_of(reviewer, review), record=included, status="not_retrieved"
    )
    assert next_record_for(review, "ft", reviewer) is None
    with pytest.raises(ServiceError, match="not retrieved"):
        decision_record(
            membership=membership_of(reviewer, review), record=included, stage="ft", value="include"
        )


def test_full_text_actions_on_a_record_not_included_are_refused(client, review, reviewer, records):
    client.force_login(reviewer)
    response = client.post(
        update_url(review, records[2]), {"action": "link", "url": "https://x.org"}, **HX
    )
    assert response.status_code == 422 and "not included" in response.content.decode()


PDF_V2 = b"%PDF-1.7\n2 0 obj<<>>endobj\n%%EOF\n"


def upload(client, review, record, name, content):
    return client.post(
        update_url(review, record),
        {"action": "upload", "file": SimpleUploadedFile(name, content, "application/pdf")},
        **HX,
    )


def test_a_re_upload_keeps_the_earlier_pdf_on_disk_and_in_the_history(
    client, review, reviewer, reviewer2, included, django_capture_on_commit_callbacks
):
    client.force_login(reviewer)
    upload(client, review, included, "Prosperini 2019.pdf", PDF)
    first_name = Report.objects.get(record=included).file.name
    client.force_login(reviewer2)
    # Run what would run on commit, as a real request's transaction would.
    with django_capture_on_commit_callbacks(execute=True):
        response = upload(client, review, included, "Prosperini 2019 corrected.pdf", PDF_V2)
    assert response.status_code == 200

    report = Report.objects.get(record=included)
    assert report.file.name != first_name
    assert report.file.storage.exists(first_name)  # nothing deleted, on commit or ever
    versions = list(report.files.all())  # newest first
    assert [(v.original_filename, v.size, v.uploaded_by) for v in versions] == [
        ("Prosperini 2019 corrected.pdf", len(PDF_V2), reviewer2),
        ("Prosperini 2019.pdf", len(PDF), reviewer),
    ]
    assert versions[1].sha256 == hashlib.sha256(PDF).hexdigest()
    assert versions[1].file.name == first_name and versions[0].file.name == report.file.name
    # The panel shows the current one and lists the earlier one with who and when.
    html = response.content.decode()
    assert "Earlier PDFs (1)" in html and "uploaded by rita" in html
    assert "Current PDF: " in html and "uploaded by ravi" in html
    assert (
        reverse("screening:report-file-version", args=[review.slug, report.pk, versions[1].pk])
        in html
    )


def test_every_version_is_downloadable_by_members_and_no_one_else(
    client, review, reviewer, analyst, outsider, included, records
):
    client.force_login(reviewer)
    upload(client, review, included, "v1.pdf", PDF)
    upload(client, review, included, "v2.pdf", PDF_V2)
    report = Report.objects.get(record=included)
    new, old = report.files.all()
    current_url = reverse("screening:report-file", args=[review.slug, report.pk])
    urls = {
        content: reverse("screening:report-file-version", args=[review.slug, report.pk, v.pk])
        for content, v in ((PDF_V2, new), (PDF, old))
    }
    client.force_login(analyst)
    assert b"".join(client.get(current_url).streaming_content) == PDF_V2
    for content, url in urls.items():
        response = client.get(url)
        assert response.status_code == 200 and response["X-Content-Type-Options"] == "nosniff"
        assert b"".join(response.streaming_content) == content
    assert 'filename="v1.pdf"' in client.get(urls[PDF])["Content-Disposition"]
    client.force_login(outsider)
    for url in (current_url, *urls.values()):
        assert client.get(url).status_code == 404
    # A version reached through another report of the review is not found either.
    client.force_login(reviewer)
    other = Report.objects.create(review=review, record=records[1])
    url = reverse("screening:report-file-version", args=[review.slug, other.pk, old.pk])
    assert client.get(url).status_code == 404


def test_uploading_the_current_pdf_again_adds_no_version(client, review, reviewer, included):
    client.force_login(reviewer)
    upload(client, review, included, "paper.pdf", PDF)
    upload(client, review, included, "paper.pdf", PDF)
    assert ReportFile.objects.filter(report__record=included).count() == 1


def test_an_uploaded_version_cannot_be_edited_or_deleted(client, review, reviewer, included):
    client.force_login(reviewer)
    upload(client, review, included, "paper.pdf", PDF)
    version = ReportFile.objects.get()
    version.original_filename = "other.pdf"
    for attempt in (
        version.save,
        version.delete,
        lambda: ReportFile.objects.all().delete(),
        lambda: ReportFile.objects.update(size=0),
    ):
        with pytest.raises(TypeError):
            attempt()


def test_a_pdf_uploaded_before_the_history_becomes_its_first_version(review, reviewer, included):
    from django.core.files.base import ContentFile
    from django.db import connection
    from django.db.migrations.loader import MigrationLoader

    migration = importlib.import_module("reviewapp.screening.migrations.0005_report_file_history")
    report = Report(
        review=review, record=included, original_filename="old.pdf", updated_by=reviewer
    )
    report.file.save("old.pdf", ContentFile(PDF), save=False)
    report.save()
    state = MigrationLoader(connection).project_state(("screening", "0005_report_file_history"))
    migration.files_as_first_versions(state.apps, None)

    version = ReportFile.objects.get(report=report)
    assert (version.file.name, version.original_filename, version.uploaded_by) == (
        report.file.name,
        "old.pdf",
        reviewer,
    )
    assert (version.size, version.sha256) == (len(PDF), hashlib.sha256(PDF).hexdigest())
    assert version.uploaded_at == report.updated_at
