"""PRISMA boxes computed from a review's stored data, following Prosperini et al. 2019.

The reference case: one PubMed search found 205 records and 35 articles were included
(Prosperini et al. 2019, Ther Adv Neurol Disord 12:1756286419837809). The intermediate split
(157 excluded on title/abstract, 48 sought, 2 not retrieved, 11 excluded at full text) is
illustrative: the paper reports only the ends of the flow.
"""

import csv
import io
import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from reviewapp.demo.build_demo_records import build
from reviewapp.literature.services import import_create, import_run
from reviewapp.reporting import views
from reviewapp.reporting.prisma import PrismaInconsistent, check
from reviewapp.reporting.selectors import (
    prisma_box_ids,
    prisma_counts_get,
    prisma_counts_recount,
)
from reviewapp.reporting.services import prisma_manual_set
from reviewapp.screening.constants import RetrievalStatus
from reviewapp.screening.fulltext import report_status_set
from reviewapp.screening.models import ExclusionReason, Report
from reviewapp.screening.services import decision_record
from tests.conftest import membership_of

IDENTIFIED, TA_EXCLUDED, NOT_RETRIEVED, FT_EXCLUDED = 205, 157, 2, 11
INCLUDED = IDENTIFIED - TA_EXCLUDED - NOT_RETRIEVED - FT_EXCLUDED  # 35, as published


@pytest.fixture
def prosperini(review, owner, tmp_path):
    """A review taken through the real import and screening services to the published flow."""
    review.stage_settings.update(reviewers_required=1)
    path = tmp_path / "pubmed_natalizumab.xml"
    path.write_text(build(), encoding="utf-8")
    me = membership_of(owner, review)
    with path.open("rb") as fileobj:
        imp = import_create(
            membership=me, fileobj=fileobj, file_name=path.name, source_database="PubMed"
        )
    imp = import_run(import_id=imp.pk)
    records = list(imp.records.order_by("id"))
    assert len(records) == IDENTIFIED
    for record in records[:TA_EXCLUDED]:
        decision_record(membership=me, record=record, stage="ta", value="exclude")
    sought = records[TA_EXCLUDED:]
    for record in sought:
        decision_record(membership=me, record=record, stage="ta", value="include")
    for record in sought[:NOT_RETRIEVED]:
        report_status_set(membership=me, record=record, status=RetrievalStatus.NOT_RETRIEVED)
    reasons = list(ExclusionReason.objects.filter(review=review).order_by("position")[:3])
    assessed = sought[NOT_RETRIEVED:]
    for i, record in enumerate(assessed[:FT_EXCLUDED]):
        decision_record(
            membership=me,
            record=record,
            stage="ft",
            value="exclude",
            reason_ids=[reasons[i % 3].pk],
        )
    for record in assessed[FT_EXCLUDED:]:
        decision_record(membership=me, record=record, stage="ft", value="include")
    return review


def test_every_box_of_the_reference_flow_is_computed_from_the_data(prosperini):
    counts = prisma_counts_get(prosperini)
    check(counts)
    assert counts.databases == {"PubMed": IDENTIFIED}
    assert counts.duplicates == counts.excluded_automatic == counts.excluded_other == 0
    assert counts.records_screened == IDENTIFIED
    assert counts.records_excluded == TA_EXCLUDED
    assert counts.dbr_sought_reports == IDENTIFIED - TA_EXCLUDED
    assert counts.dbr_notretrieved_reports == NOT_RETRIEVED
    assert counts.dbr_assessed == IDENTIFIED - TA_EXCLUDED - NOT_RETRIEVED
    assert counts.dbr_excluded == FT_EXCLUDED
    assert sum(counts.dbr_excluded_reasons.values()) == FT_EXCLUDED
    assert len(counts.dbr_excluded_reasons) == 3
    assert counts.new_reports == counts.total_reports == INCLUDED == 35
    assert counts.new_studies == counts.total_studies == INCLUDED


def test_the_csv_export_carries_every_box_in_the_template_format(prosperini, tmp_path):
    path = tmp_path / "prisma.csv"
    call_command("prisma", prosperini.slug, "--format", "csv", "-o", str(path), stderr=StringIO())
    rows = {r["data"]: r["n"] for r in csv.DictReader(io.StringIO(path.read_text("utf-8")))}
    assert rows["database_results"] == "205"
    assert rows["database_specific_results"] == "PubMed, 205"
    assert rows["records_screened"] == "205"
    assert rows["records_excluded"] == str(TA_EXCLUDED)
    assert rows["dbr_sought_reports"] == "48"
    assert rows["dbr_notretrieved_reports"] == "2"
    assert rows["dbr_assessed"] == "46"
    assert sum(int(part.rsplit(",", 1)[1]) for part in rows["dbr_excluded"].split(";")) == 11
    assert rows["new_studies"] == rows["total_studies"] == "35"


def test_the_json_export_is_keyed_by_the_template_names(client, prosperini, owner):
    client.force_login(owner)
    response = client.get(reverse("reporting:prisma-export", args=[prosperini.slug, "json"]))
    data = json.loads(response.content)
    assert data["records_screened"]["n"] == 205
    assert data["new_reports"]["n"] == 35


@pytest.mark.parametrize("fmt", ["svg", "png", "pdf"])
def test_the_diagram_downloads_in_each_format(client, prosperini, analyst, fmt):
    client.force_login(analyst)  # read and export only, which is enough
    response = client.get(reverse("reporting:prisma-export", args=[prosperini.slug, fmt]))
    assert response.status_code == 200
    head = response.content[:8]
    assert {
        "svg": b"<?xml" in head or b"<svg" in head,
        "png": head.startswith(b"\x89PNG"),
        "pdf": head.startswith(b"%PDF"),
    }[fmt]


def test_the_page_links_each_box_to_the_records_it_counts(client, prosperini, owner):
    client.force_login(owner)
    page = client.get(reverse("reporting:prisma-detail", args=[prosperini.slug])).content.decode()
    box_url = reverse("reporting:prisma-box", args=[prosperini.slug, "records_excluded"])
    assert box_url in page
    listing = client.get(box_url)
    assert listing.context["n"] == TA_EXCLUDED
    assert len(listing.context["records"]) == TA_EXCLUDED


def test_a_corrupted_state_raises_the_invariant_error_naming_the_records(prosperini):
    # Corrupt the stored state behind the services' back: a "not retrieved" report for a record
    # that was excluded at title/abstract, so it is counted in a box of a stage it never reached.
    record = prosperini.records.order_by("id").first()
    Report.objects.create(
        review=prosperini, record=record, retrieval_status=RetrievalStatus.NOT_RETRIEVED
    )
    with pytest.raises(PrismaInconsistent):
        check(prisma_counts_get(prosperini))
    # The kept counts see that the flow breaks; naming its records takes the ids of every box.
    with pytest.raises(PrismaInconsistent) as caught:
        check(prisma_counts_get(prosperini, with_ids=True))
    assert record.pk in {rid for v in caught.value.violations for rid in v.record_ids}


def test_an_export_of_inconsistent_counts_is_refused(prosperini, owner, client):
    record = prosperini.records.order_by("id").first()
    Report.objects.create(
        review=prosperini, record=record, retrieval_status=RetrievalStatus.NOT_RETRIEVED
    )
    with pytest.raises(CommandError, match="inconsistent"):
        call_command("prisma", prosperini.slug, "--format", "svg", "-o", "/dev/null")
    client.force_login(owner)
    response = client.get(reverse("reporting:prisma-export", args=[prosperini.slug, "svg"]))
    assert response.status_code == 302


def test_unfinished_screening_is_named_and_nothing_is_drawn(client, review, owner, records):
    client.force_login(owner)
    page = client.get(reverse("reporting:prisma-detail", args=[review.slug]))
    assert page.context["svg"] is None
    assert "still being screened" in page.content.decode()


def test_hand_entered_boxes_keep_who_and_when_and_feed_the_flow(prosperini, owner, reviewer):
    prisma_manual_set(
        membership=membership_of(owner, prosperini),
        values={
            "previous_studies": 4,
            "previous_reports": 5,
            "citations_results": 3,
            "other_sought_reports": 3,
            "other_assessed": 3,
            "other_excluded": 1,
            "other_new_studies": 2,
        },
        note="From the 2015 version and reference lists",
    )
    counts = prisma_counts_get(prosperini)
    check(counts)
    assert counts.is_manual("previous_studies") and not counts.is_manual("records_screened")
    assert counts.manual["previous_studies"].entered_by == owner.username
    assert counts.total_studies == 35 + 2 + 4
    assert counts.total_reports == 35 + (3 - 1) + 5
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        prisma_manual_set(
            membership=membership_of(reviewer, prosperini), values={"previous_studies": 1}
        )


def _listed(client, url) -> list[int]:
    ids, after = [], None
    for _ in range(100):
        page = client.get(url, {"after": after} if after else {})
        assert page.status_code == 200
        ids += [r.pk for r in page.context["records"]]
        after = page.context["next_after"]
        if after is None:
            return ids
    raise AssertionError("the pages never ended")


def test_each_box_lists_exactly_the_records_it_counts_page_by_page(
    client,
    prosperini,
    owner,
    monkeypatch,
):
    monkeypatch.setattr(views, "BOX_PAGE", 40)
    client.force_login(owner)
    recount = prisma_counts_recount(prosperini)
    for box in views.BOX_LABELS:
        url = reverse("reporting:prisma-box", args=[prosperini.slug, box])
        assert _listed(client, url) == sorted(recount.record_ids[box]), box
        assert client.get(url).context["n"] == len(recount.record_ids[box])


def test_an_unknown_box_is_a_404(client, prosperini, owner):
    client.force_login(owner)
    url = reverse("reporting:prisma-box", args=[prosperini.slug, "new_studies"])
    assert client.get(url).status_code == 404
    with pytest.raises(ValueError):
        prisma_box_ids(prosperini, "new_studies")


def test_a_drawing_is_made_again_when_its_numbers_change(client, prosperini, owner):
    client.force_login(owner)
    url = reverse("reporting:prisma-export", args=[prosperini.slug, "svg"])
    first = client.get(url).content
    assert client.get(url).content == first  # the same numbers: the same drawing
    prisma_manual_set(
        membership=membership_of(owner, prosperini),
        values={"previous_studies": 4, "previous_reports": 5},
    )
    changed = client.get(url).content
    assert changed != first
