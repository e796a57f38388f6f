"""The analyst's downloads, each read back with the library a user would open it with."""

import csv
import io
import json

import openpyxl
import pytest
import rispy
from django.urls import reverse

from reviewapp.extraction.constants import ExportKind
from reviewapp.extraction.forms import builder_initial
from reviewapp.extraction.models import ExportJob, Extraction
from reviewapp.extraction.services import consensus_save, extraction_save, form_version_save
from reviewapp.screening.services import decision_record
from tests.conftest import membership_of
from tests.extraction.helpers import entry_sample, study_included
from tests.factories import RecordFactory

FORMULA = '=HYPERLINK("http://evil.example","x")'


def _extract(user, review, form, study, raw=None, submit=True):
    return extraction_save(
        membership=membership_of(user, review),
        form=form,
        study=study,
        raw=raw or entry_sample(),
        expected_revision=0,
        submit=submit,
    )


@pytest.fixture
def extracted(review, owner, reviewer, reviewer2, dual_form, study):
    """Two extractors and a consensus on one study; the consensus holds a formula-like text."""
    _extract(reviewer, review, dual_form, study)
    _extract(reviewer2, review, dual_form, study, raw=entry_sample(participants_number="118"))
    return consensus_save(
        membership=membership_of(reviewer, review),
        form=dual_form,
        study=study,
        raw=entry_sample(study_design_country=FORMULA, participants_notes="-2+3"),
        expected_revision=0,
    )


def _download(client, user, review, **data):
    client.force_login(user)
    return client.post(reverse("extraction:download", args=[review.slug]), data)


def _body(response) -> bytes:
    if response.streaming:
        return b"".join(response.streaming_content)
    return response.content


def _csv(response):
    return list(csv.DictReader(io.StringIO(_body(response).decode("utf-8"))))


def test_extraction_csv_has_one_row_per_study_and_outcome(
    client, owner, review, dual_form, extracted
):
    response = _download(
        client, owner, review, kind="extraction-csv", form=dual_form.pk, which="final"
    )
    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="natalizumab-extraction.csv"'
    rows = _csv(response)
    assert [(r["outcome_group"], r["outcome_row"]) for r in rows] == [
        ("outcomes_relapse", "1"),
        ("outcomes_relapse", "2"),
        ("outcomes_time_to_relapse", "1"),
    ]
    data = extracted.data
    for row in rows:
        assert row["kind"] == "consensus" and row["decided_by"] == "rita"
        assert row["form_version"] == "1"
        assert row["participants_number"] == str(data["values"]["participants_number"])
        assert row["participants_subtypes"] == "RRMS"
        assert row["participants_women_only"] == "no"
    assert rows[0]["outcomes_relapse__arm1_events"] == "12"
    assert rows[1]["outcomes_relapse__time_point"] == "12 months"
    assert rows[1]["outcomes_relapse__arm2_total"] == "38"
    assert rows[0]["outcomes_time_to_relapse__estimate"] == ""
    assert rows[2]["outcomes_time_to_relapse__estimate"] == "2.1"
    assert rows[2]["outcomes_time_to_relapse__measure"] == "HR"
    assert rows[2]["outcomes_time_to_relapse__ratio_measure"] == "yes"
    assert rows[2]["outcomes_relapse__arm1_events"] == ""


def test_the_csv_neutralises_formulas_but_not_numbers(client, owner, review, dual_form, extracted):
    rows = _csv(_download(client, owner, review, kind="extraction-csv", form=dual_form.pk))
    assert rows[0]["study_design_country"] == "'" + FORMULA
    assert rows[0]["participants_notes"] == "'-2+3"
    assert rows[0]["participants_mean_age"] == "38.5"


def test_every_extractors_version_can_be_downloaded(client, owner, review, dual_form, extracted):
    rows = _csv(
        _download(client, owner, review, kind="extraction-csv", form=dual_form.pk, which="all")
    )
    firsts = [
        (r["kind"], r["extractor"], r["participants_number"])
        for r in rows
        if r["outcome_row"] == "1" and r["outcome_group"] == "outcomes_relapse"
    ]
    assert firsts == [
        ("consensus", "", "120"),
        ("individual", "ravi", "118"),
        ("individual", "rita", "120"),
    ]


def test_the_xlsx_has_one_sheet_per_section_and_matches_the_data(
    client, owner, review, dual_form, extracted
):
    response = _download(client, owner, review, kind="extraction-xlsx", form=dual_form.pk)
    assert response.status_code == 200
    workbook = openpyxl.load_workbook(io.BytesIO(response.content))
    assert workbook.sheetnames == ["Study design", "Participants", "Outcomes", "Codebook"]
    design = list(workbook["Study design"].iter_rows(values_only=True))
    header = design[0]
    assert header[:3] == ("study_id", "study_label", "kind")
    assert len(design) == 2  # one row per study
    row = dict(zip(header, design[1], strict=True))
    assert row["study_design_country"] == "'" + FORMULA  # neutralised, and stored as text
    assert row["study_design_design"] == "Cohort"
    participants = list(workbook["Participants"].iter_rows(values_only=True))
    row = dict(zip(participants[0], participants[1], strict=True))
    assert row["participants_mean_age"] == 38.5  # a number stays a number
    assert row["participants_number"] == 120
    outcomes = list(workbook["Outcomes"].iter_rows(values_only=True))
    assert len(outcomes) == 4  # header + three outcome rows
    first = dict(zip(outcomes[0], outcomes[1], strict=True))
    assert (first["outcomes_relapse__arm1_events"], first["outcomes_relapse__arm1_total"]) == (
        12,
        40,
    )
    cells = [c for sheet in workbook for r in sheet.iter_rows() for c in r]
    assert not any(c.data_type == "f" for c in cells)


def test_the_json_carries_the_stored_data_exactly(client, analyst, review, dual_form, extracted):
    response = _download(client, analyst, review, kind="extraction-json", form=dual_form.pk)
    document = json.loads(response.content)
    assert document["form"]["versions"][0]["number"] == 1
    (entry,) = document["extractions"]
    assert entry["values"] == extracted.data["values"]
    assert entry["outcomes"] == extracted.data["outcomes"]
    assert entry["values"]["study_design_country"] == FORMULA  # JSON is not a spreadsheet
    assert {c["key"] for c in document["columns"]} >= {
        "participants_number",
        "outcomes_relapse__arm1_events",
    }


def test_old_entries_keep_their_own_versions_columns(
    client, owner, reviewer, review, single_form, study
):
    _extract(reviewer, review, single_form, study)
    rows = builder_initial(single_form.versions.get().definition)
    rows = [r for r in rows if r["label"] != "Country"]
    rows.insert(0, {"section": "Study design", "label": "Funding", "type": "text"})
    form_version_save(membership=membership_of(owner, review), form=single_form, items=rows)
    second = study_included(review, owner, label="Zz later study")
    _extract(
        reviewer, review, single_form, second, raw=entry_sample(study_design_funding="Industry")
    )
    result = _csv(_download(client, owner, review, kind="extraction-csv", form=single_form.pk))
    header = list(result[0])
    # Both versions' columns, the old ones where they were.
    assert (
        header.index("study_design_country")
        < header.index("study_design_design")
        < header.index("study_design_funding")
    )
    old = [r for r in result if r["study_label"] == "Prosperini 2019"][0]
    new = [r for r in result if r["study_label"] == "Zz later study"][0]
    assert (old["form_version"], old["study_design_country"], old["study_design_funding"]) == (
        "1",
        "Italy",
        "",
    )
    assert (new["form_version"], new["study_design_country"], new["study_design_funding"]) == (
        "2",
        "",
        "Industry",
    )


def test_single_extractor_forms_export_the_submitted_entry_as_final(
    client, owner, reviewer, review, single_form, study
):
    _extract(
        reviewer,
        review,
        single_form,
        study,
        raw={"values": {"participants_notes": "draft"}},
        submit=False,
    )
    assert _csv(_download(client, owner, review, kind="extraction-csv", form=single_form.pk)) == []
    Extraction.objects.all().delete()
    _extract(reviewer, review, single_form, study)
    rows = _csv(_download(client, owner, review, kind="extraction-csv", form=single_form.pk))
    assert {r["extractor"] for r in rows} == {"rita"}


@pytest.fixture
def screened(review, owner, reviewer, reviewer2):
    """Dual screening at title/abstract: rita includes, ravi excludes record 1; both include 2."""
    from reviewapp.screening.models import ExclusionReason

    r1 = RecordFactory(
        review=review, title="=cmd|' /C calc'!A0", authors=["Rossi A", "Bianchi B"], pmid="111"
    )
    r2 = RecordFactory(review=review, title="Rebound after stopping", year=2019, doi="10.1/x")
    for user, record, value in [
        (reviewer, r1, "include"),
        (reviewer2, r1, "exclude"),
        (reviewer, r2, "include"),
        (reviewer2, r2, "include"),
    ]:
        decision_record(
            membership=membership_of(user, review), record=record, stage="ta", value=value
        )
    reason = ExclusionReason.objects.filter(review=review).first()
    return r1, r2, reason


def test_decisions_long_has_one_row_per_decision_event(client, owner, review, screened):
    r1, r2, _ = screened
    rows = _csv(_download(client, owner, review, kind="decisions-long"))
    assert [(r["record_id"], r["reviewer"], r["value"]) for r in rows] == [
        (str(r1.pk), "rita", "include"),
        (str(r1.pk), "ravi", "exclude"),
        (str(r2.pk), "rita", "include"),
        (str(r2.pk), "ravi", "include"),
    ]
    assert rows[0]["title"] == "'=cmd|' /C calc'!A0"


def test_records_wide_has_one_row_per_record_and_a_column_per_reviewer(
    client, analyst, review, screened
):
    r1, r2, _ = screened
    rows = _csv(_download(client, analyst, review, kind="records-wide"))
    by_id = {r["record_id"]: r for r in rows}
    assert set(by_id) == {str(r1.pk), str(r2.pk)}
    assert (by_id[str(r1.pk)]["ta_vote_rita"], by_id[str(r1.pk)]["ta_vote_ravi"]) == (
        "include",
        "exclude",
    )
    assert by_id[str(r1.pk)]["ta_state"] == "conflict"
    assert by_id[str(r2.pk)]["ta_state"] == "included"
    assert by_id[str(r1.pk)]["first_author"] == "Rossi A"


def test_a_reviewer_downloads_the_others_votes_only_where_every_vote_is_in_and_theirs_too(
    client, reviewer, reviewer2, review, screened
):
    r1, r2, _ = screened
    waiting = RecordFactory(review=review)
    decision_record(
        membership=membership_of(reviewer2, review), record=waiting, stage="ta", value="exclude"
    )
    long_rows = _csv(_download(client, reviewer, review, kind="decisions-long"))
    assert {(r["reviewer"], r["record_id"]) for r in long_rows} == {
        ("rita", str(r1.pk)),
        ("ravi", str(r1.pk)),
        ("rita", str(r2.pk)),
        ("ravi", str(r2.pk)),
    }
    wide = {
        r["record_id"]: r for r in _csv(_download(client, reviewer, review, kind="records-wide"))
    }
    assert wide[str(r1.pk)]["ta_vote_ravi"] == "exclude"
    assert wide[str(waiting.pk)]["ta_vote_ravi"] == ""


def test_included_studies_as_ris(client, owner, review):
    record = RecordFactory(
        review=review,
        title="Disease reactivation after natalizumab",
        authors=["Prosperini L", "Kinkel RP"],
        year=2019,
        journal="Mult Scler",
        volume="25",
        issue="1",
        pages="16-27",
        doi="10.1177/1352458518803981",
        pmid="30375930",
    )
    study_included(review, owner, label="Prosperini 2019", record=record)
    RecordFactory(review=review, title="Never included")
    response = _download(client, owner, review, kind="included-ris")
    (entry,) = rispy.loads(response.content.decode("utf-8"))
    assert entry["title"] == record.title
    assert entry["authors"] == record.authors
    assert (entry["year"], entry["volume"], entry["number"]) == ("2019", "25", "1")
    assert (entry["start_page"], entry["end_page"]) == ("16", "27")
    assert entry["doi"] == record.doi
    assert "Study: Prosperini 2019" in entry["notes"]


@pytest.mark.parametrize("role", ["owner", "review_admin", "reviewer", "analyst"])
def test_every_member_may_download(client, request, review, role, dual_form):
    user = request.getfixturevalue(role)
    response = _download(client, user, review, kind="extraction-csv", form=dual_form.pk)
    assert response.status_code == 200
    client.force_login(user)
    assert client.get(reverse("extraction:download-list", args=[review.slug])).status_code == 200


def test_an_outsider_gets_404(client, outsider, review, dual_form):
    assert (
        _download(client, outsider, review, kind="extraction-csv", form=dual_form.pk).status_code
        == 404
    )


def test_a_form_of_another_review_is_refused(client, owner, review, dual_form):
    from tests.factories import review_make

    other = review_make(owner=owner, slug="other")
    response = _download(client, owner, other, kind="extraction-csv", form=dual_form.pk)
    assert response.status_code == 302  # back to the downloads page with the message


@pytest.fixture
def eager_celery():
    from reviewapp.celery import app

    before = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = before


def test_a_large_export_goes_to_the_background_and_only_its_requester_sees_it(
    client,
    owner,
    analyst,
    review,
    screened,
    monkeypatch,
    eager_celery,
    django_capture_on_commit_callbacks,
):
    monkeypatch.setattr("reviewapp.extraction.services.EXPORT_BACKGROUND_ROWS", 1)
    with django_capture_on_commit_callbacks(execute=True):
        response = _download(client, owner, review, kind="decisions-long")
    job = ExportJob.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("extraction:export-detail", args=[review.slug, job.pk])
    page = client.get(response["Location"])
    assert "Download (4 rows)" in page.content.decode()
    file_response = client.get(reverse("extraction:export-file", args=[review.slug, job.pk]))
    rows = list(csv.DictReader(io.StringIO(b"".join(file_response.streaming_content).decode())))
    assert len(rows) == 4
    assert job.kind == ExportKind.DECISIONS_LONG
    client.force_login(analyst)
    assert client.get(response["Location"]).status_code == 404


def test_the_status_page_polls_while_the_export_waits(client, owner, review):
    from reviewapp.core.progress import progress_write

    job = ExportJob.objects.create(
        review=review, requested_by=owner, kind="records-wide", rows_total=5000
    )
    # Overwrite whatever an earlier test left under this id in the cache.
    progress_write("export", job.pk, done=0, total=5000)
    client.force_login(owner)
    response = client.get(
        reverse("extraction:export-detail", args=[review.slug, job.pk]),
        headers={"HX-Request": "true"},
    )
    body = response.content.decode()
    assert 'hx-trigger="every 1s"' in body
    assert "0 of about 5000 rows" in body
    assert "<html" not in body
    assert (
        client.get(reverse("extraction:export-file", args=[review.slug, job.pk])).status_code == 404
    )
