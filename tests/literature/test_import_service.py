"""File imports through the real import service and command, with the real export files."""

import io
import json
from io import StringIO
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.urls import reverse

from reviewapp.literature.constants import JobStatus
from reviewapp.literature.models import DuplicateLink, Import, Record
from reviewapp.literature.parsers import ParsedRecord, Rejection, parse
from reviewapp.literature.services import import_create, import_run
from reviewapp.screening.selectors import stage_counts
from tests.conftest import membership_of

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
EXPORTS = [
    ("entrez/pubmed1.xml", "pubmed-xml"),
    ("entrez/pubmed2.xml", "pubmed-xml"),
    ("entrez/pubmed5.xml", "pubmed-xml"),
    ("medline/pubmed_result1.txt", "medline"),
    ("medline/pubmed_result2.txt", "medline"),
    ("ris/_baseline.ris", "ris"),
    ("ris/embase.ris", "ris"),
    ("ris/scopus.ris", "ris"),
    ("ris/pubmed_zotero.ris", "ris"),
    ("ris/web_of_science.txt", "ris"),
    ("ris/baseline_empty_values.ris", "ris"),
    ("csv/embase.csv", "csv"),
    ("malformed/endnote.xml", "endnote-xml"),
]


def _import(review, user, path: Path, **options):
    with path.open("rb") as fileobj:
        imp = import_create(
            membership=membership_of(user, review), fileobj=fileobj, file_name=path.name, **options
        )
    return import_run(import_id=imp.pk)


@pytest.mark.parametrize(("name", "fmt"), EXPORTS)
def test_every_export_imports_what_its_parser_reads(review, owner, name, fmt):
    path = FIXTURES / name
    with path.open("rb") as fileobj:
        items = list(parse(fileobj, format=fmt, filename=path.name))
    good = [i for i in items if isinstance(i, ParsedRecord)]
    bad = [i for i in items if isinstance(i, Rejection)]

    imp = _import(review, owner, path)

    assert imp.status == JobStatus.DONE, imp.error
    assert imp.format == fmt  # detected, not given
    assert (imp.count_read, imp.count_imported, imp.count_rejected) == (
        len(items),
        len(good),
        len(bad),
    )
    stored = Record.objects.filter(source_import=imp).order_by("source_position")
    assert [r.title for r in stored] == [p.title for p in good]
    assert [r.doi for r in stored] == [p.doi for p in good]


def test_bad_records_are_rejected_one_by_one_and_the_rest_imported(review, owner):
    imp = _import(review, owner, FIXTURES / "ris" / "baseline_empty_values.ris")
    assert imp.count_rejected >= 1
    assert imp.count_imported >= 1
    for rejection in imp.rejections:
        assert rejection["position"] >= 1
        assert rejection["reason"]


def test_a_file_that_cannot_be_read_imports_nothing_and_says_why(review, owner):
    imp = _import(review, owner, FIXTURES / "entrez" / "pubmed3.html")
    assert imp.status == JobStatus.FAILED
    assert "pubmed3.html could not be read, so nothing was imported" in imp.error
    assert not Record.objects.exists()


def test_a_truncated_file_imports_nothing_and_names_where_it_broke(review, owner):
    imp = _import(review, owner, FIXTURES / "malformed" / "pubmed_truncated.xml")
    assert imp.status == JobStatus.FAILED
    assert "record" in imp.error and "line" in imp.error
    assert not Record.objects.exists()


def test_the_same_citations_from_two_databases_are_linked_not_screened_twice(review, owner):
    first = _import(review, owner, FIXTURES / "ris" / "_baseline.ris", source_database="Embase")
    second = _import(review, owner, FIXTURES / "ris" / "_baseline.ris", source_database="Scopus")
    assert second.count_duplicates == second.count_imported == first.count_imported
    links = DuplicateLink.objects.filter(review=review, duplicate__source_import=second)
    assert links.count() == first.count_imported
    assert all(link.primary.source_import_id == first.pk for link in links)
    counts = stage_counts(review, "ta")
    assert counts.eligible == first.count_imported


def test_undoing_a_duplicate_returns_the_record_to_screening(client, review, owner, reviewer):
    _import(review, owner, FIXTURES / "ris" / "scopus.ris")
    second = _import(review, owner, FIXTURES / "ris" / "scopus.ris")
    link = DuplicateLink.objects.filter(duplicate__source_import=second).first()
    before = stage_counts(review, "ta").eligible
    client.force_login(reviewer)
    response = client.post(reverse("literature:duplicate-undo", args=[review.slug, link.pk]))
    assert response.status_code == 302
    link.refresh_from_db()
    assert link.undone_at is not None and link.undone_by == reviewer
    assert stage_counts(review, "ta").eligible == before + 1


def test_a_reviewer_confirms_an_uncertain_duplicate(client, review, owner, reviewer):
    _import(review, owner, FIXTURES / "ris" / "scopus.ris")
    a, b = Record.objects.order_by("id")[:2]
    link = DuplicateLink.objects.create(
        review=review, duplicate=b, primary=a, rule="fuzzy_title", score=0.93, status="needs_review"
    )
    client.force_login(reviewer)
    page = client.get(reverse("literature:duplicate-list", args=[review.slug]) + "?show=uncertain")
    assert b.title in page.content.decode()
    client.post(reverse("literature:duplicate-confirm", args=[review.slug, link.pk]))
    link.refresh_from_db()
    assert (link.status, link.confirmed_by) == ("confirmed", reviewer)


def test_a_reviewer_marks_a_missed_duplicate(client, review, owner, reviewer):
    _import(review, owner, FIXTURES / "ris" / "scopus.ris")
    a, b = Record.objects.order_by("id")[:2]
    client.force_login(reviewer)
    client.post(
        reverse("literature:duplicate-mark", args=[review.slug]),
        {"duplicate": b.pk, "primary": a.pk},
    )
    link = DuplicateLink.objects.get(duplicate=b)
    assert (link.primary, link.rule, link.created_by) == (a, "manual", reviewer)


def test_the_import_command_prints_the_json_the_issue_names(review, owner):
    out = StringIO()
    call_command(
        "import_records",
        review.slug,
        str(FIXTURES / "ris" / "faulty_year.ris"),
        "--source",
        "Embase",
        "--json",
        stdout=out,
    )
    result = json.loads(out.getvalue())
    assert {"format", "read", "imported", "duplicates", "rejected", "rejections"} <= set(result)
    assert (result["format"], result["read"], result["rejected"]) == ("ris", 1, 1)
    (rejection,) = result["rejections"]
    assert rejection["position"] == 1 and "PY" in rejection["reason"]


def test_the_import_command_fails_on_an_unreadable_file(review, owner):
    with pytest.raises(CommandError, match="could not be read"):
        call_command(
            "import_records",
            review.slug,
            str(FIXTURES / "entrez" / "pubmed3.html"),
            stdout=StringIO(),
        )


def test_uploading_in_the_browser_imports_and_shows_the_counts(client, review, owner):
    client.force_login(owner)
    upload = SimpleUploadedFile(
        "embase.ris", (FIXTURES / "ris" / "embase.ris").read_bytes(), content_type="text/plain"
    )
    response = client.post(
        reverse("literature:import-create", args=[review.slug]),
        {"file": upload, "format": "auto", "source_database": "Embase", "source_kind": "database"},
    )
    imp = Import.objects.get(review=review)
    assert response.status_code == 302
    assert response["Location"] == reverse("literature:import-detail", args=[review.slug, imp.pk])
    page = client.get(response["Location"]).content.decode()
    assert imp.status == JobStatus.DONE or "Waiting for a worker" in page


def test_an_upload_spooled_to_disk_is_stored_and_imported_whole(
    client, review, owner, settings, tmp_path
):
    # A browser's large file reaches the view as a temporary file on disk, which the import
    # moves into its storage instead of copying (reviewapp.core.uploads).
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 1024
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path)
    content = (FIXTURES / "ris" / "embase.ris").read_bytes()
    assert len(content) > 1024
    client.force_login(owner)
    response = client.post(
        reverse("literature:import-create", args=[review.slug]),
        {
            "file": SimpleUploadedFile("embase.ris", content, content_type="text/plain"),
            "format": "auto",
            "source_database": "Embase",
            "source_kind": "database",
        },
    )
    assert response.status_code == 302
    imp = Import.objects.get(review=review)
    with imp.file.open("rb") as stored:
        assert stored.read() == content
    assert list(tmp_path.iterdir()) == []  # nothing left behind in the upload folder
    imp = import_run(import_id=imp.pk)
    assert imp.status == JobStatus.DONE
    assert imp.count_imported == Record.objects.filter(review=review).count() > 0


def test_an_empty_upload_is_refused_with_a_message(client, review, owner):
    client.force_login(owner)
    upload = SimpleUploadedFile("empty.ris", b"", content_type="text/plain")
    response = client.post(
        reverse("literature:import-create", args=[review.slug]),
        {"file": upload, "format": "auto", "source_kind": "database"},
    )
    assert response.status_code == 400
    assert "empty" in response.content.decode()
    assert not Import.objects.exists()


def test_a_reviewer_cannot_import(client, review, reviewer):
    client.force_login(reviewer)
    upload = SimpleUploadedFile("e.ris", b"TY  - JOUR\nTI  - T\nER  - \n")
    response = client.post(
        reverse("literature:import-create", args=[review.slug]),
        {"file": upload, "format": "auto", "source_kind": "database"},
    )
    assert response.status_code == 403
    assert not Import.objects.exists()


def test_the_rejection_report_downloads_as_csv_safe_for_spreadsheets(client, review, owner):
    imp = _import(review, owner, FIXTURES / "ris" / "faulty_year.ris")
    Import.objects.filter(pk=imp.pk).update(
        rejections=[
            *imp.rejections,
            {"position": 2, "line": 9, "field": "TI", "reason": "=HYPERLINK(1)"},
        ]
    )
    client.force_login(owner)
    response = client.get(reverse("literature:import-rejections-csv", args=[review.slug, imp.pk]))
    lines = response.content.decode().splitlines()
    assert lines[0] == "file,record,line,field,reason"
    assert lines[1].startswith("faulty_year.ris,1,1,PY,")
    assert lines[2].endswith(",'=HYPERLINK(1)")


def test_the_progress_partial_keeps_polling_while_the_import_runs(client, review, owner):
    from reviewapp.core.progress import progress_write
    from tests.factories import ImportFactory

    imp = ImportFactory(review=review, status=JobStatus.RUNNING, progress_total=None)
    progress_write("import", imp.pk, done=3000)
    client.force_login(owner)
    url = reverse("literature:import-detail", args=[review.slug, imp.pk])
    partial = client.get(url, HTTP_HX_REQUEST="true").content.decode()
    assert 'hx-trigger="every 1s"' in partial
    assert "3000 records so far" in partial
    assert "<html" not in partial
    Import.objects.filter(pk=imp.pk).update(status=JobStatus.DONE)
    assert "hx-trigger" not in client.get(url, HTTP_HX_REQUEST="true").content.decode()


def test_structure_warnings_are_stored_and_shown_on_the_import_page(client, review, owner):
    imp = _import(review, owner, FIXTURES / "malformed" / "ris_missing_er.ris")
    assert imp.status == JobStatus.DONE
    assert (imp.count_imported, imp.count_rejected, imp.count_warnings) == (4, 0, 2)
    assert [(w["position"], w["line"]) for w in imp.warnings] == [(2, 6), (4, 15)]
    client.force_login(owner)
    page = client.get(reverse("literature:import-detail", args=[review.slug, imp.pk]))
    html = page.content.decode()
    assert "Check the file: 2 warnings" in html
    assert "record 2 (line 6): the record has no &#x27;ER  - &#x27; line" in html


def test_only_the_first_warnings_are_kept_and_the_page_counts_the_rest(client, review, owner):
    # Every record without ER: one warning each, beyond what a page should list.
    data = "".join(f"TY  - JOUR\nTI  - Record {n}\n" for n in range(150)).encode()
    with io.BytesIO(data) as fileobj:
        imp = import_create(
            membership=membership_of(owner, review), fileobj=fileobj, file_name="no_er.ris"
        )
    imp = import_run(import_id=imp.pk)
    assert (imp.count_imported, imp.count_warnings, len(imp.warnings)) == (150, 150, 100)
    client.force_login(owner)
    page = client.get(reverse("literature:import-detail", args=[review.slug, imp.pk]))
    assert "and 50 more warnings like these" in page.content.decode()


def test_a_title_over_the_cap_is_rejected_in_the_downloadable_report_naming_the_field(
    client, review, owner
):
    data = f"TY  - JOUR\nTI  - Fine\nER  - \nTY  - JOUR\nTI  - {'x' * 5000}\nER  - \n".encode()
    with io.BytesIO(data) as fileobj:
        imp = import_create(
            membership=membership_of(owner, review), fileobj=fileobj, file_name="long.ris"
        )
    imp = import_run(import_id=imp.pk)
    assert (imp.count_imported, imp.count_rejected) == (1, 1)
    assert not Record.objects.filter(title__startswith="xxx").exists()
    client.force_login(owner)
    response = client.get(reverse("literature:import-rejections-csv", args=[review.slug, imp.pk]))
    row = response.content.decode().splitlines()[1]
    assert row.startswith('long.ris,2,4,title,"record 2 (line 4): the title is 5,000 characters')


def test_a_csv_with_only_a_header_fails_the_import_with_a_message(review, owner):
    imp = _import(review, owner, FIXTURES / "malformed" / "csv_header_only.csv")
    assert imp.status == JobStatus.FAILED
    assert "csv_header_only.csv could not be read" in imp.error
    assert "header row but no records" in imp.error


def test_a_csv_header_with_a_carriage_return_imports_without_an_internal_error(review, owner):
    imp = _import(review, owner, FIXTURES / "malformed" / "csv_cr_in_header.csv")
    assert imp.status == JobStatus.DONE, imp.error
    assert imp.count_warnings == 1 and "lone carriage return" in imp.warnings[0]["reason"]


def test_the_import_command_prints_a_parser_error_and_fails_without_a_traceback(review, owner):
    err = StringIO()
    with pytest.raises(CommandError, match="header row but no records"):
        call_command(
            "import_records",
            review.slug,
            str(FIXTURES / "malformed" / "csv_header_only.csv"),
            stdout=StringIO(),
            stderr=err,
        )
    assert "Traceback" not in err.getvalue()


def test_the_import_command_turns_an_internal_error_into_a_message(review, owner, monkeypatch):
    from reviewapp.literature import services

    def broken_parse(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(services, "parse", broken_parse)
    with pytest.raises(CommandError, match="stopped on an internal error"):
        call_command(
            "import_records",
            review.slug,
            str(FIXTURES / "ris" / "embase.ris"),
            stdout=StringIO(),
            stderr=StringIO(),
        )
    assert Import.objects.get().status == JobStatus.FAILED


def test_the_import_command_lists_warnings(review, owner):
    out = StringIO()
    call_command(
        "import_records",
        review.slug,
        str(FIXTURES / "malformed" / "medline_run_together.txt"),
        stdout=out,
        stderr=StringIO(),
    )
    text = out.getvalue()
    assert "3 imported, 0 duplicates, 0 rejected, 1 warnings." in text
    assert "warning: record 2 (line 5): the record follows record 1" in text


def test_a_fault_inside_a_parser_fails_the_import_with_record_and_line_and_is_logged(
    review, owner, monkeypatch, caplog
):
    from reviewapp.literature.parsers import ris

    def broken_build(position, line, record, first_tag):
        raise IndexError("list index out of range")

    monkeypatch.setattr(ris, "_build", broken_build)
    imp = _import(review, owner, FIXTURES / "ris" / "embase.ris")
    assert imp.status == JobStatus.FAILED
    assert imp.error.startswith("embase.ris could not be read, so nothing was imported: record 1")
    assert "IndexError" in imp.error and "internal error" not in imp.error
    assert any("IndexError" in r.getMessage() and r.levelname == "ERROR" for r in caplog.records)
    assert not Record.objects.exists()


SAME_DOI_TITLE = (
    "Occupational pesticide exposure and subclinical hypothyroidism among male applicators"
)


def _medline(pmid: str, doi: str, title: str = SAME_DOI_TITLE) -> str:
    lines = [f"PMID- {pmid}", "DP  - 2018 Jan", f"TI  - {title}", "AU  - Lerro CC"]
    if doi:
        lines.append(f"LID - {doi} [doi]")
    return "\n".join(lines) + "\n\n"


def test_an_import_offers_a_same_doi_copy_with_another_pmid_to_a_reviewer(review, owner):
    from reviewapp.literature.constants import DuplicateRule, DuplicateStatus

    text = (
        _medline("29187505", "10.1136/oemed-2017-104431")
        + _medline("30012345", "10.1136/OEMED-2017-104431", SAME_DOI_TITLE + ".")
        + _medline("31000001", "10.1136/oemed-other", "A different study of something else")
    )
    upload = SimpleUploadedFile("two_pmids.txt", text.encode())
    imp = import_create(
        membership=membership_of(owner, review), fileobj=upload, file_name="two_pmids.txt"
    )
    imp = import_run(import_id=imp.pk)
    assert imp.status == JobStatus.DONE, imp.error
    assert imp.count_imported == 3
    (link,) = DuplicateLink.objects.filter(review=review)
    assert (link.rule, link.status) == (DuplicateRule.DOI_OTHER_PMID, DuplicateStatus.NEEDS_REVIEW)
    assert {link.primary.pmid, link.duplicate.pmid} == {"29187505", "30012345"}
    assert link.primary_id < link.duplicate_id
