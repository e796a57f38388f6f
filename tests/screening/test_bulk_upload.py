"""Bulk upload of full texts: checks on every file and zip, matching, review, one-transaction confirm.

Test PDFs are written by tests/pdf_builder.py; zips are built here with zipfile.
"""

from __future__ import annotations

import io
import time
import zipfile
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from reviewapp.core.errors import ServiceError
from reviewapp.core.jobs import job_claim
from reviewapp.screening import bulk as bulk_module
from reviewapp.screening.bulk import (
    bulk_assign,
    bulk_confirm,
    bulk_discard,
    bulk_match_progress,
    bulk_match_run,
    bulk_stage,
)
from reviewapp.screening.bulk_match import Candidate, Matcher, ZipRefused, zip_members
from reviewapp.screening.models import BulkMatch, BulkUpload, Report
from reviewapp.screening.services import decision_record
from tests.conftest import membership_of
from tests.factories import RecordFactory, review_make
from tests.pdf_builder import encrypted, pdf_bytes

MB = 1024 * 1024


def _zip(members: dict[str, bytes], *, compression=zipfile.ZIP_DEFLATED) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=compression) as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return out.getvalue()


def _upload(name: str, content: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="application/octet-stream")


# --- matching (pure) ------------------------------------------------------------------------


CANDIDATES = [
    Candidate(
        1, "1", "10.1000/alpha.1", "11111111", "Natalizumab withdrawal and rebound", "Smith", 2019
    ),
    Candidate(
        2,
        "2",
        "10.1000/beta-2",
        "22222222",
        "Fingolimod after natalizumab in a cohort",
        "Jones",
        2020,
    ),
    Candidate(
        3,
        "3",
        "",
        "",
        "Disease activity after stopping natalizumab treatment in relapsing multiple sclerosis",
        "Brown",
        2018,
    ),
]


@pytest.mark.parametrize(
    ("name", "text", "record", "method"),
    [
        ("a.pdf", "Journal X\nhttps://doi.org/10.1000/ALPHA.1.\n", 1, "doi"),
        ("b.pdf", "PMID: 22222222", 2, "pmid"),
        ("PMID_11111111.pdf", "", 1, "filename"),
        ("22222222.pdf", "", 2, "filename"),
        ("10.1000_beta-2.pdf", "", 2, "filename"),
        ("Smith 2019.pdf", "", 1, "filename"),
        ("jones_et_al_2020.pdf", "", 2, "filename"),
        (
            "scan.pdf",
            "Original article\nDisease activity after stopping natalizumab treatment in "
            "relapsing multiple sclerosis\nA. Brown",
            3,
            "title",
        ),
    ],
)
def test_a_file_is_matched_by_the_strongest_evidence(name, text, record, method):
    match = Matcher(CANDIDATES).match(name=name, title="", text=text)
    assert (match.record_id, match.method) == (record, method), match.evidence


def test_a_doi_in_the_pdf_wins_over_a_misleading_file_name():
    match = Matcher(CANDIDATES).match(name="Smith 2019.pdf", title="", text="doi:10.1000/beta-2")
    assert match.record_id == 2 and "10.1000/beta-2" in match.evidence


def test_a_file_that_matches_nothing_says_so():
    match = Matcher(CANDIDATES).match(name="scan 7.pdf", title="", text="An unrelated editorial")
    assert match.record_id is None and "no DOI, PMID, file name or title" in match.evidence


# --- zips (pure) ------------------------------------------------------------------------------


def test_zip_members_refuses_traversal_and_non_pdfs_naming_each():
    data = _zip(
        {
            "good.pdf": pdf_bytes("x"),
            "../evil.pdf": pdf_bytes("x"),
            "/abs.pdf": pdf_bytes("x"),
            "notes.txt": b"hello",
            "fake.pdf": b"<html>",
            "__MACOSX/._good.pdf": b"junk",
        }
    )
    members = {
        m.name: m
        for m in zip_members(data, zip_name="b.zip", max_file_bytes=MB, max_total_bytes=10 * MB)
    }
    assert members["good.pdf"].content and not members["good.pdf"].refused
    assert "climbs out" in members["../evil.pdf"].refused
    assert "absolute" in members["/abs.pdf"].refused
    assert "not a PDF" in members["notes.txt"].refused
    assert "does not start with %PDF-" in members["fake.pdf"].refused
    assert "__MACOSX/._good.pdf" not in members


def test_a_zip_bomb_is_refused_by_its_compression_ratio():
    bomb = _zip({"big.pdf": b"%PDF-" + b"\0" * (20 * MB)})
    with pytest.raises(ZipRefused, match="zip bomb"):
        zip_members(bomb, zip_name="bomb.zip", max_file_bytes=100 * MB, max_total_bytes=200 * MB)


def test_a_zip_that_unpacks_beyond_the_total_limit_is_refused():
    data = _zip({f"{n}.pdf": pdf_bytes(str(n)) for n in range(3)}, compression=zipfile.ZIP_STORED)
    with pytest.raises(ZipRefused, match="would unpack to"):
        zip_members(data, zip_name="many.zip", max_file_bytes=MB, max_total_bytes=1000)


def test_a_zip_with_too_many_files_is_refused():
    data = _zip({f"{n}.pdf": b"%PDF-" for n in range(501)}, compression=zipfile.ZIP_STORED)
    with pytest.raises(ZipRefused, match="holds 501 files"):
        zip_members(data, zip_name="many.zip", max_file_bytes=MB, max_total_bytes=100 * MB)


# --- the service --------------------------------------------------------------------------------


@pytest.fixture
def at_full_text(review, reviewer):
    review.stage_settings.update(reviewers_required=1)
    made = [
        RecordFactory(
            review=review,
            doi="10.1000/alpha.1",
            pmid="11111111",
            title="Natalizumab withdrawal and rebound",
        ),
        RecordFactory(
            review=review,
            doi="10.1000/beta-2",
            pmid="22222222",
            title="Fingolimod after natalizumab",
        ),
        RecordFactory(
            review=review,
            doi="",
            pmid="",
            title="Rituximab as an exit strategy from natalizumab therapy",
        ),
    ]
    for record in made:
        decision_record(
            membership=membership_of(reviewer, review), record=record, stage="ta", value="include"
        )
    return made


def test_a_batch_is_staged_matched_and_attached_in_one_go(review, reviewer, at_full_text):
    a, b, c = at_full_text
    membership = membership_of(reviewer, review)
    batch = bulk_stage(
        membership=membership,
        uploads=[
            _upload("one.pdf", pdf_bytes("doi: 10.1000/alpha.1")),
            _upload(
                "papers.zip",
                _zip(
                    {
                        "PMID_22222222.pdf": pdf_bytes("page"),
                        "mystery.pdf": pdf_bytes("?"),
                        "readme.txt": b"hi",
                    }
                ),
            ),
            _upload("locked.pdf", encrypted(pdf_bytes("secret"))),
            _upload("broken.pdf", pdf_bytes("cut")[:150]),
        ],
    )
    files = {f.name: f for f in batch.files.all()}
    assert files["one.pdf"].record_id == a.pk and files["one.pdf"].method == "doi"
    assert files["papers.zip/PMID_22222222.pdf"].record_id == b.pk
    assert files["papers.zip/mystery.pdf"].record_id is None
    assert "not a PDF" in files["papers.zip/readme.txt"].refused
    assert "encrypted" in files["locked.pdf"].refused
    assert "damaged" in files["broken.pdf"].refused
    assert not Report.objects.exclude(file="").exists()  # nothing attached before confirming
    bulk_assign(
        membership=membership,
        batch=batch,
        file_id=files["papers.zip/mystery.pdf"].pk,
        record_ref=f"#{c.number} Rituximab",
    )
    assert bulk_confirm(membership=membership, batch=batch) == 3
    assert {r.record_id for r in Report.objects.exclude(file="")} == {a.pk, b.pk, c.pk}
    batch.refresh_from_db()
    assert batch.status == "confirmed"
    with pytest.raises(ServiceError, match="already attached"):
        bulk_confirm(membership=membership, batch=batch)


def test_a_merged_primary_is_matched_by_its_duplicates_doi_and_listed_merged(
    client, review, reviewer, at_full_text
):
    from reviewapp.literature import merges
    from reviewapp.literature.models import DuplicateLink

    _a, _b, c = at_full_text
    duplicate = RecordFactory(
        review=review, doi="10.1000/gamma.3", title="Rituximab exit strategy (Embase)"
    )
    DuplicateLink.objects.create(review=review, primary=c, duplicate=duplicate, rule="manual")
    membership = membership_of(reviewer, review)
    merges.cluster_merge(membership=membership, primary_id=c.pk, choices={"title": duplicate.pk})
    batch = bulk_stage(
        membership=membership, uploads=[_upload("three.pdf", pdf_bytes("doi: 10.1000/gamma.3"))]
    )
    (matched,) = batch.files.all()
    assert (matched.record_id, matched.method) == (c.pk, "doi")
    client.force_login(reviewer)
    page = client.get(reverse("screening:fulltext-bulk-review", args=[review.slug, batch.pk]))
    assert "Rituximab exit strategy (Embase)" in page.content.decode()


def test_a_failure_at_confirm_attaches_nothing_and_names_the_file(
    settings, review, reviewer, at_full_text
):
    membership = membership_of(reviewer, review)
    big = pdf_bytes("doi: 10.1000/beta-2\n" + "x" * 3000)
    batch = bulk_stage(
        membership=membership,
        uploads=[_upload("small.pdf", pdf_bytes("doi: 10.1000/alpha.1")), _upload("big.pdf", big)],
    )
    settings.FULLTEXT_MAX_BYTES = len(big) - 1  # the limit was lowered meanwhile
    with pytest.raises(ServiceError, match="big.pdf could not be attached") as caught:
        bulk_confirm(membership=membership, batch=batch)
    assert "Nothing from this upload was attached" in caught.value.message
    assert not Report.objects.exclude(file="").exists()
    batch.refresh_from_db()
    assert batch.status == "staged"


def test_two_files_for_one_record_are_refused_at_confirm(review, reviewer, at_full_text):
    membership = membership_of(reviewer, review)
    batch = bulk_stage(
        membership=membership,
        uploads=[
            _upload("x.pdf", pdf_bytes("doi: 10.1000/alpha.1")),
            _upload("Smith.pdf", pdf_bytes("PMID: 11111111")),
        ],
    )
    with pytest.raises(ServiceError, match="x.pdf and Smith.pdf are both assigned"):
        bulk_confirm(membership=membership, batch=batch)


def test_a_zip_bomb_refuses_the_upload_with_its_name(review, reviewer, at_full_text):
    bomb = _zip({"big.pdf": b"%PDF-" + b"\0" * (20 * MB)})
    with pytest.raises(ServiceError, match="bomb.zip: big.pdf is compressed"):
        bulk_stage(membership=membership_of(reviewer, review), uploads=[_upload("bomb.zip", bomb)])
    assert not BulkUpload.objects.exists()


def test_only_refused_files_means_no_batch(review, reviewer, at_full_text):
    with pytest.raises(ServiceError, match="notes.txt: it is not a PDF"):
        bulk_stage(
            membership=membership_of(reviewer, review), uploads=[_upload("notes.txt", b"hello")]
        )
    assert not BulkUpload.objects.exists()


def test_assigning_a_record_outside_full_text_is_refused(review, reviewer, at_full_text):
    membership = membership_of(reviewer, review)
    batch = bulk_stage(membership=membership, uploads=[_upload("m.pdf", pdf_bytes("?"))])
    outside = RecordFactory(review=review)
    with pytest.raises(ServiceError, match="not a record at the full-text stage"):
        bulk_assign(
            membership=membership,
            batch=batch,
            file_id=batch.files.get().pk,
            record_ref=str(outside.number),
        )


def test_the_record_picker_offers_and_takes_record_numbers_not_database_ids(
    client, owner, review, reviewer, at_full_text
):
    # Records of another review come first, so this one's database id is not its number.
    RecordFactory.create_batch(5, review=review_make(owner=owner, slug="other-review"))
    record = RecordFactory(review=review, title="Ocrelizumab after natalizumab")
    decision_record(
        membership=membership_of(reviewer, review), record=record, stage="ta", value="include"
    )
    assert record.pk != record.number
    client.force_login(reviewer)
    response = client.post(
        reverse("screening:fulltext-bulk", args=[review.slug]),
        {"files": [_upload("mystery.pdf", pdf_bytes("?"))]},
    )
    page = client.get(response["Location"]).content.decode()
    assert f'<option value="#{record.number} Ocrelizumab after natalizumab">' in page
    assert f'value="#{record.pk} ' not in page
    batch = BulkUpload.objects.get()
    membership = membership_of(reviewer, review)
    file_id = batch.files.get().pk
    with pytest.raises(ServiceError, match="not a record at the full-text stage"):
        bulk_assign(membership=membership, batch=batch, file_id=file_id, record_ref=f"#{record.pk}")
    row = bulk_assign(
        membership=membership,
        batch=batch,
        file_id=file_id,
        record_ref=f"#{record.number} Ocrelizumab after natalizumab",
    )
    assert row.record_id == record.pk


def test_a_discarded_upload_attaches_nothing(review, reviewer, at_full_text):
    membership = membership_of(reviewer, review)
    batch = bulk_stage(
        membership=membership, uploads=[_upload("a.pdf", pdf_bytes("doi: 10.1000/alpha.1"))]
    )
    bulk_discard(membership=membership, batch=batch)
    batch.refresh_from_db()
    assert batch.status == "discarded"
    with pytest.raises(ServiceError, match="already discarded"):
        bulk_confirm(membership=membership, batch=batch)


# --- the pages ----------------------------------------------------------------------------------


def test_the_pages_take_files_show_evidence_and_confirm(
    client, review, reviewer, analyst, at_full_text
):
    a = at_full_text[0]
    client.force_login(reviewer)
    url = reverse("screening:fulltext-bulk", args=[review.slug])
    response = client.post(
        url,
        {
            "files": [
                _upload("one.pdf", pdf_bytes("doi: 10.1000/alpha.1")),
                _upload("notes.txt", b"x"),
            ]
        },
    )
    assert response.status_code == 302
    page = client.get(response["Location"]).content.decode()
    assert "DOI in the PDF" in page and "10.1000/alpha.1 printed in the PDF" in page
    assert "notes.txt" in page and "it is not a PDF" in page
    response = client.post(response["Location"], {"action": "confirm"})
    assert response.status_code == 302
    assert Report.objects.get(record=a).file
    client.force_login(analyst)
    assert client.post(url, {"files": [_upload("one.pdf", pdf_bytes("x"))]}).status_code == 403


def test_an_upload_with_nothing_usable_shows_the_error_beside_the_input(
    client, review, reviewer, at_full_text
):
    client.force_login(reviewer)
    url = reverse("screening:fulltext-bulk", args=[review.slug])
    response = client.post(
        url, {"files": [_upload("evil.zip", _zip({"../x.pdf": pdf_bytes("x")}))]}
    )
    assert response.status_code == 422
    html = response.content.decode()
    assert 'aria-invalid="true"' in html and "climbs out of the archive" in html


# --- matching as a background job -------------------------------------------------------------


@pytest.fixture
def to_the_worker(monkeypatch):
    """Every upload is matched by its job, as a large one is (not in the request)."""
    monkeypatch.setattr(bulk_module, "INLINE_MAX_FILES", 0)


def _match(batch):
    return bulk_match_run(match_id=BulkMatch.objects.get(batch=batch).pk)


def test_a_large_upload_is_stored_then_matched_by_its_job_once(
    review, reviewer, at_full_text, to_the_worker
):
    a, b, _c = at_full_text
    membership = membership_of(reviewer, review)
    batch = bulk_stage(
        membership=membership,
        uploads=[
            _upload("one.pdf", pdf_bytes("doi: 10.1000/alpha.1")),
            _upload("papers.zip", _zip({"PMID_22222222.pdf": pdf_bytes("p"), "x.txt": b"x"})),
            _upload("locked.pdf", encrypted(pdf_bytes("secret"))),
            _upload("again.pdf", pdf_bytes("doi: 10.1000/alpha.1")),
        ],
    )
    job = BulkMatch.objects.get(batch=batch)
    assert (job.status, job.total) == ("queued", 4)
    files = {f.name: f for f in batch.files.all()}
    # What the request could judge is refused at once; the PDFs wait for the job.
    assert "not a PDF" in files["papers.zip/x.txt"].refused
    assert files["one.pdf"].pending and files["one.pdf"].record_id is None
    with pytest.raises(ServiceError, match="still being matched"):
        bulk_confirm(membership=membership, batch=batch)
    with pytest.raises(ServiceError, match="still being matched"):
        bulk_assign(membership=membership, batch=batch, file_id=files["one.pdf"].pk)
    job = _match(batch)
    assert (job.status, job.attempts) == ("done", 1)
    files = {f.name: f for f in batch.files.all()}
    assert not any(f.pending for f in files.values())
    assert (files["one.pdf"].record_id, files["one.pdf"].method) == (a.pk, "doi")
    assert files["papers.zip/PMID_22222222.pdf"].record_id == b.pk
    assert "encrypted" in files["locked.pdf"].refused and not files["locked.pdf"].file
    assert files["again.pdf"].refused == "it is the same file as one.pdf"
    assert bulk_match_progress(job) == {"done": 4, "total": 4}
    # A second delivery of the task finds the job done and changes nothing.
    assert _match(batch).attempts == 1
    assert bulk_confirm(membership=membership, batch=batch) == 2
    assert {r.record_id for r in Report.objects.exclude(file="")} == {a.pk, b.pk}


def test_a_job_whose_worker_died_is_taken_back_and_matches_once(
    settings, review, reviewer, at_full_text, to_the_worker
):
    batch = bulk_stage(
        membership=membership_of(reviewer, review),
        uploads=[_upload("one.pdf", pdf_bytes("doi: 10.1000/alpha.1"))],
    )
    job = BulkMatch.objects.get(batch=batch)
    assert job_claim(BulkMatch, job.pk) is not None  # an attempt that then died
    assert _match(batch).status == "running"  # its heartbeat is still fresh: left alone
    stale = timezone.now() - timedelta(seconds=settings.JOBS_STALE_AFTER_SECONDS + 1)
    BulkMatch.objects.filter(pk=job.pk).update(heartbeat_at=stale)
    job = _match(batch)
    assert (job.status, job.attempts) == ("done", 2)
    assert batch.files.get().record_id == at_full_text[0].pk


def test_a_large_upload_with_no_usable_pdf_fails_and_keeps_nothing(
    review, reviewer, at_full_text, to_the_worker
):
    membership = membership_of(reviewer, review)
    batch = bulk_stage(
        membership=membership,
        uploads=[
            _upload("locked.pdf", encrypted(pdf_bytes("secret"))),
            _upload("broken.pdf", pdf_bytes("cut")[:150]),
        ],
    )
    job = _match(batch)
    assert job.status == "failed"
    assert "No PDF could be taken" in job.error
    assert "locked.pdf: it is encrypted" in job.error and "broken.pdf" in job.error
    batch.refresh_from_db()
    assert batch.status == "discarded"
    assert not batch.files.exclude(file="").exists()
    assert not Report.objects.exclude(file="").exists()


def test_a_small_upload_with_no_usable_pdf_is_refused_at_once(review, reviewer, at_full_text):
    with pytest.raises(ServiceError, match="locked.pdf: it is encrypted"):
        bulk_stage(
            membership=membership_of(reviewer, review),
            uploads=[_upload("locked.pdf", encrypted(pdf_bytes("secret")))],
        )
    assert BulkUpload.objects.get().status == "discarded"


def test_an_upload_discarded_before_its_job_ran_is_not_matched(
    review, reviewer, at_full_text, to_the_worker
):
    membership = membership_of(reviewer, review)
    batch = bulk_stage(
        membership=membership, uploads=[_upload("a.pdf", pdf_bytes("doi: 10.1000/alpha.1"))]
    )
    bulk_discard(membership=membership, batch=batch)
    job = _match(batch)
    assert job.status == "failed" and "discarded before it was matched" in job.error
    assert batch.files.get().record_id is None


def test_the_review_page_polls_until_the_job_is_done(
    client, review, reviewer, analyst, at_full_text, to_the_worker
):
    client.force_login(reviewer)
    url = reverse("screening:fulltext-bulk", args=[review.slug])
    response = client.post(url, {"files": [_upload("one.pdf", pdf_bytes("doi: 10.1000/alpha.1"))]})
    assert response.status_code == 302
    page = client.get(response["Location"]).content.decode()
    assert "Waiting for a worker to read the 1 PDF" in page
    assert 'hx-trigger="every 1s"' in page and "Attach" not in page
    status = client.get(response["Location"], {"part": "status"}, HTTP_HX_REQUEST="true")
    assert "HX-Refresh" not in status
    batch = BulkUpload.objects.get()
    _match(batch)
    status = client.get(response["Location"], {"part": "status"}, HTTP_HX_REQUEST="true")
    assert status["HX-Refresh"] == "true"
    page = client.get(response["Location"]).content.decode()
    assert "Matched (1)" in page and "Attach 1 PDF" in page and "every 1s" not in page
    client.force_login(analyst)
    page = client.get(response["Location"]).content.decode()
    assert "Matched (1)" in page and "Attach" not in page and "Discard the whole" not in page


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_matches_a_large_upload_sent_from_the_page(
    celery_worker, settings, client, review, reviewer, at_full_text, to_the_worker
):
    queue, _hostname = celery_worker
    settings.CELERY_TASK_DEFAULT_QUEUE = queue
    a, b, c = at_full_text
    client.force_login(reviewer)
    archive = _zip(
        {
            "first.pdf": pdf_bytes("doi: 10.1000/alpha.1"),
            "PMID_22222222.pdf": pdf_bytes("page"),
            "third.pdf": pdf_bytes("Rituximab as an exit strategy from natalizumab therapy"),
            "../evil.pdf": pdf_bytes("x"),
        }
    )
    response = client.post(
        reverse("screening:fulltext-bulk", args=[review.slug]),
        {"files": [_upload("papers.zip", archive)]},
    )
    assert response.status_code == 302
    job = BulkMatch.objects.get()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        job.refresh_from_db()
        if job.status in ("done", "failed"):
            break
        time.sleep(0.2)
    assert (job.status, job.attempts) == ("done", 1), job.error
    found = dict(job.batch.files.values_list("name", "record_id"))
    assert found == {
        "papers.zip/first.pdf": a.pk,
        "papers.zip/PMID_22222222.pdf": b.pk,
        "papers.zip/third.pdf": c.pk,
        "papers.zip/../evil.pdf": None,
    }
    page = client.get(response["Location"]).content.decode()
    assert "Matched (3)" in page and "climbs out of the archive" in page
    client.post(response["Location"], {"action": "confirm"})
    assert {r.record_id for r in Report.objects.exclude(file="")} == {a.pk, b.pk, c.pk}
