"""In a real browser (issue 18): the retrieval report and the bulk upload's review, at 1280x800 and
390x844, as owner, reviewer and analyst, through look() (no sideways scroll, axe, screenshots)."""

from __future__ import annotations

import zipfile

import pytest

from reviewapp.screening.models import Report
from reviewapp.screening.retrieval import retrieval_request, retrieval_run
from reviewapp.screening.services import decision_record
from tests.browser.look import in_viewport, look
from tests.conftest import membership_of
from tests.factories import RecordFactory
from tests.fake_openaccess import running_fake_openaccess
from tests.pdf_builder import pdf_bytes

pytestmark = pytest.mark.django_db(transaction=True)


def _at_full_text(review, reviewer, **fields):
    record = RecordFactory(review=review, **fields)
    decision_record(
        membership=membership_of(reviewer, review), record=record, stage="ta", value="include"
    )
    return record


@pytest.fixture
def full_texts(review, reviewer):
    review.stage_settings.update(reviewers_required=1)
    return [
        _at_full_text(review, reviewer, pmid="111", doi="10.1000/one"),
        _at_full_text(
            review,
            reviewer,
            pmid="",
            doi="10.1000/a-rather-long-doi-that-could-push-the-page-sideways.2026.12345",
        ),
        _at_full_text(review, reviewer, pmid="", doi="", title="Rituximab as an exit strategy"),
    ]


@pytest.mark.parametrize("viewport", ["wide", "phone"])
def test_the_retrieval_report_reads_at_both_widths(
    settings, live_server, login, review, owner, reviewer, analyst, full_texts, viewport
):
    with running_fake_openaccess() as fake:
        for name, value in fake.settings.items():
            setattr(settings, name, value)
        settings.UNPAYWALL_EMAIL = "team@example.org"
        fake.link("111", "PMC1110")
        fake.pmc("PMC1110", "pdf", file="a.pdf")
        fake.file("a.pdf", pdf_bytes("Article A"))
        fake.unpaywall(full_texts[1].doi, "closed")
        run = retrieval_request(membership=membership_of(reviewer, review))
        retrieval_run(retrieval_id=run.pk)
    url = f"{live_server.url}/reviews/{review.slug}/screen/fulltext/retrieve/"
    for user in (owner, reviewer, analyst):
        page = login(user, viewport=viewport)
        page.goto(url)
        assert "PDF attached" in page.inner_text("main")
        assert "not open access according to Unpaywall" in page.inner_text("main")
        has_button = page.locator("button", has_text="Find open-access PDFs").count() == 1
        assert has_button == (user != analyst)
        look(page, f"fulltext-retrieval-{user.username}-{viewport}")


@pytest.mark.parametrize("viewport", ["wide", "phone"])
def test_a_bulk_upload_is_reviewed_assigned_and_attached_in_the_browser(
    tmp_path, live_server, login, review, reviewer, analyst, full_texts, viewport
):
    one, _two, three = full_texts
    archive = tmp_path / "papers.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("PMID_111.pdf", pdf_bytes("Article"))
        z.writestr("scan-0042.pdf", pdf_bytes("An unreadable scan"))
        z.writestr("../../etc/evil.pdf", pdf_bytes("x"))
        z.writestr("notes.docx", b"PK not a pdf")
    page = login(reviewer, viewport=viewport)
    page.goto(f"{live_server.url}/reviews/{review.slug}/screen/fulltext/bulk/")
    look(page, f"fulltext-bulk-form-{viewport}")
    page.set_input_files("#bulk-files", str(archive))
    page.click("button:has-text('Upload and match')")
    page.wait_for_load_state()
    main = page.inner_text("main")
    assert "Matched (1)" in main and "Not matched (1)" in main
    assert "climbs out of the archive" in main and "notes.docx" in main
    look(page, f"fulltext-bulk-review-{viewport}")
    review_url = page.url
    # A record outside the full-text stage is refused beside the control.
    row = page.locator("tr", has_text="scan-0042.pdf")
    row.locator("input[name=record]").fill("999999")
    row.locator("button", has_text="Assign").click()
    page.wait_for_load_state()
    assert "not a record at the full-text stage" in page.inner_text("main")
    look(page, f"fulltext-bulk-review-error-{viewport}")
    row = page.locator("tr", has_text="scan-0042.pdf")
    row.locator("input[name=record]").fill(f"#{three.number} Rituximab")
    row.locator("button", has_text="Assign").click()
    page.wait_for_load_state()
    assert "Matched (2)" in page.inner_text("main")
    analyst_page = login(analyst, viewport=viewport)
    analyst_page.goto(review_url)
    assert analyst_page.locator("button", has_text="Attach").count() == 0
    look(analyst_page, f"fulltext-bulk-review-analyst-{viewport}")
    page.click("button:has-text('Attach 2 PDFs')")
    page.wait_for_load_state()
    assert "2 PDFs attached" in page.inner_text("main")
    assert {r.record_id for r in Report.objects.exclude(file="")} == {one.pk, three.pk}


@pytest.mark.parametrize("viewport", ["wide", "phone"])
def test_the_records_list_searches_full_texts(
    live_server, login, review, reviewer, full_texts, viewport
):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from reviewapp.screening.fulltext import report_upload
    from reviewapp.screening.fulltext_text import report_text_extract

    report = report_upload(
        membership=membership_of(reviewer, review),
        record=full_texts[0],
        upload=SimpleUploadedFile(
            "a.pdf", pdf_bytes("Washout with ocrelizumab"), "application/pdf"
        ),
    )
    report_text_extract(report_file_id=report.files.first().pk)
    page = login(reviewer, viewport=viewport)
    page.goto(f"{live_server.url}/reviews/{review.slug}/records/")
    page.fill("#q", "ocrelizumab")
    page.check("input[name=in]")
    page.click("button:has-text('Search')")
    page.wait_for_load_state()
    main = page.inner_text("main")
    assert "whose PDF contains" in main and full_texts[0].title in main
    assert full_texts[1].title not in main
    if viewport == "wide":
        look(page, f"records-fulltext-search-{viewport}")
    else:
        # The records table itself is wider than 390 px on main already (the layout work
        # owns it); what this feature adds, the search form, must fit.
        for selector in ("#q", "input[name=in]", "button:has-text('Search')"):
            in_viewport(page, selector)


@pytest.mark.parametrize("viewport", ["wide", "phone"])
def test_a_large_upload_shows_its_progress_then_its_matches(
    monkeypatch, tmp_path, live_server, login, review, reviewer, analyst, full_texts, viewport
):
    from reviewapp.screening import bulk as bulk_module
    from reviewapp.screening.bulk import bulk_match_run
    from reviewapp.screening.models import BulkMatch

    monkeypatch.setattr(bulk_module, "INLINE_MAX_FILES", 1)  # two PDFs go to the worker
    archive = tmp_path / "papers.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("PMID_111.pdf", pdf_bytes("Article"))
        z.writestr("scan-0042.pdf", pdf_bytes("An unreadable scan"))
    page = login(reviewer, viewport=viewport)
    page.goto(f"{live_server.url}/reviews/{review.slug}/screen/fulltext/bulk/")
    page.set_input_files("#bulk-files", str(archive))
    page.click("button:has-text('Upload and match')")
    page.wait_for_load_state()
    assert "Waiting for a worker to read the 2 PDFs" in page.inner_text("main")
    assert page.locator("button", has_text="Attach").count() == 0
    look(page, f"fulltext-bulk-matching-{viewport}")
    # No worker consumes this test's queue: the job is run here, and the polling page notices.
    bulk_match_run(match_id=BulkMatch.objects.get().pk)
    page.wait_for_selector("text=Matched (1)", timeout=10_000)
    main = page.inner_text("main")
    assert "Not matched (1)" in main and "Waiting for a worker" not in main
    assert page.locator("button", has_text="Attach 1 PDF").count() == 1
    look(page, f"fulltext-bulk-matched-after-polling-{viewport}")
