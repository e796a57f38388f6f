"""The merge page: a cluster field by field, with Merge, Choose as primary and Undo for those who
screen (htmx answers the panel, or the refusal as text beside the control), read-only for an
analyst; the records list, a record's page and the exports show the merged metadata."""

import pytest
from django.urls import reverse

from reviewapp.audit.models import AuditEvent
from reviewapp.extraction.selectors import included_ris_records, records_wide
from reviewapp.literature.models import DuplicateLink, RecordMerge
from reviewapp.screening.services import decision_record
from tests.conftest import membership_of
from tests.extraction.helpers import study_included
from tests.factories import ImportFactory, RecordFactory

HX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def cluster(review):
    pubmed = ImportFactory(review=review, source_database="PubMed")
    embase = ImportFactory(review=review, source_database="Embase")
    a = RecordFactory(
        review=review, source_import=pubmed, title="Stopping natalizumab", pmid="31000001"
    )
    b = RecordFactory(
        review=review,
        source_import=embase,
        title="Stopping natalizumab",
        doi="10.1000/ms.1",
        abstract="A long abstract from Embase.",
        keywords=["rebound"],
    )
    DuplicateLink.objects.create(review=review, primary=a, duplicate=b, rule="title_year_author")
    return a, b


def _url(name, review, record):
    return reverse(f"literature:duplicate-{name}", args=[review.slug, record.pk])


def test_the_page_shows_each_field_each_records_value_and_the_one_kept(
    client, owner, review, cluster
):
    a, b = cluster
    client.force_login(owner)
    page = client.get(_url("merge", review, a)).content.decode()
    assert "Not merged" in page
    assert 'data-field="doi"' in page and 'data-field="title"' not in page  # titles agree
    assert f"from record {b.number}, by the rule" in page
    assert f'name="keep-doi" value="{b.pk}"' in page
    assert f"Choose record {b.number} as primary" in page
    assert "Undo the last change" not in page
    # The duplicates page leads here.
    listing = client.get(reverse("literature:duplicate-list", args=[review.slug]))
    assert _url("merge", review, a) in listing.content.decode()


def test_a_duplicate_leads_to_its_primary_and_a_lone_record_says_so(client, owner, review, cluster):
    a, b = cluster
    client.force_login(owner)
    assert client.get(_url("merge", review, b)).url == _url("merge", review, a)
    lone = RecordFactory(review=review)
    response = client.get(_url("merge", review, lone))
    assert response.status_code == 200 and "has no duplicates" in response.content.decode()


def test_merge_by_htmx_answers_the_panel_and_shows_it_in_the_records_list(
    client, reviewer, review, cluster
):
    a, b = cluster
    client.force_login(reviewer)
    response = client.post(_url("merge-save", review, a), {"keep-doi": ""}, **HX)
    assert response.status_code == 200
    assert response["HX-Replace-Url"] == _url("merge", review, a)
    panel = response.content.decode()
    assert panel.startswith('\n<div id="merge-panel"') or '<div id="merge-panel"' in panel[:80]
    assert "Merged by rita" in panel and "Undo the last change" in panel
    merge = RecordMerge.objects.get(current=True)
    assert merge.values["doi"] == "10.1000/ms.1" and merge.created_by == reviewer
    assert AuditEvent.objects.filter(action="duplicate.merged", actor=reviewer).exists()
    listing = client.get(reverse("literature:record-list", args=[review.slug]))
    assert "merged</span>" in listing.content.decode()
    detail = client.get(reverse("literature:record-detail", args=[review.slug, a.pk]))
    text = detail.content.decode()
    assert "DOI 10.1000/ms.1" in text and "A long abstract from Embase." in text
    assert "Found in: PubMed, Embase" in text
    # The duplicate's own page keeps its own values.
    own = client.get(reverse("literature:record-detail", args=[review.slug, b.pk]))
    assert "PubMed 31000001" not in own.content.decode()


def test_a_field_chosen_by_hand_without_htmx_returns_to_the_page(client, owner, review, cluster):
    a, b = cluster
    client.force_login(owner)
    response = client.post(_url("merge-save", review, a), {"keep-abstract": str(a.pk)})
    assert response.status_code == 302 and response.url == _url("merge", review, a)
    assert RecordMerge.objects.get(current=True).values["abstract"] == ""
    page = client.get(response.url).content.decode()
    assert "Merged:" in page and "chosen by hand" in page
    assert f'name="keep-abstract" value="{a.pk}" checked' in page


def test_choose_as_primary_and_undo_move_the_address_with_the_primary(
    client, owner, review, cluster
):
    a, b = cluster
    client.force_login(owner)
    response = client.post(_url("merge-primary", review, a), {"primary": str(b.pk)}, **HX)
    assert response.status_code == 200 and response["HX-Replace-Url"] == _url("merge", review, b)
    assert DuplicateLink.objects.get(undone_at__isnull=True).primary == b
    response = client.post(_url("merge-undo", review, b), **HX)
    assert response.status_code == 200 and response["HX-Replace-Url"] == _url("merge", review, a)
    assert DuplicateLink.objects.get(undone_at__isnull=True).primary == a
    assert "Undone" in response.content.decode()


def test_a_refusal_is_text_beside_the_control_for_htmx_and_a_message_without(
    client, owner, reviewer, review, cluster
):
    a, b = cluster
    review.stage_settings.update(reviewers_required=1)
    decision_record(
        membership=membership_of(reviewer, review), record=a, stage="ta", value="include"
    )
    client.force_login(owner)
    response = client.post(_url("merge-primary", review, a), {"primary": str(b.pk)}, **HX)
    assert response.status_code == 409 and response["Content-Type"].startswith("text/plain")
    assert "already has screening decisions" in response.content.decode()
    page = client.get(_url("merge", review, a)).content.decode()
    # No control is offered for what would be refused, and the page says why.
    assert "as primary</button>" not in page and "it stays the primary" in page
    response = client.post(_url("merge-undo", review, a), follow=True)
    assert "has no merge to undo" in response.content.decode()


def test_an_analyst_reads_the_merge_but_has_no_controls(client, analyst, owner, review, cluster):
    a, b = cluster
    client.force_login(analyst)
    page = client.get(_url("merge", review, a)).content.decode()
    assert 'type="radio"' not in page and "<button" not in page.split('id="merge-panel"')[1]
    assert "Kept</span>" in page
    assert client.post(_url("merge-save", review, a), **HX).status_code == 403
    assert not RecordMerge.objects.exists()


def test_the_exports_carry_the_merged_metadata_of_the_primary(review, owner, cluster):
    from reviewapp.literature import merges

    a, b = cluster
    merges.cluster_merge(membership=membership_of(owner, review), primary_id=a.pk)
    _header, rows = records_wide(review, membership_of(owner, review))
    by_id = {row["record_id"]: row for row in rows}
    assert by_id[a.pk]["doi"] == "10.1000/ms.1" and by_id[a.pk]["pmid"] == "31000001"
    assert by_id[b.pk]["pmid"] == "" and by_id[b.pk]["duplicate_of"] == a.pk

    # Merging (keeping metadata) needs no screening history; an included study's record is
    # exported to RIS with its cluster's merged metadata.
    study_included(review, owner, record=a)
    (ris,) = included_ris_records(review)
    assert ris["doi"] == "10.1000/ms.1" and ris["keywords"] == ["rebound"]
    assert ris["abstract"] == "A long abstract from Embase." and ris["pmid"] == "31000001"


def test_the_primary_is_screened_with_the_merged_metadata(client, owner, reviewer, review, cluster):
    from reviewapp.literature import merges

    a, b = cluster
    client.force_login(reviewer)
    url = reverse("screening:screen", args=[review.slug, "ta"])
    assert "A long abstract from Embase." not in client.get(url).content.decode()
    merges.cluster_merge(membership=membership_of(owner, review), primary_id=a.pk)
    page = client.get(url).content.decode()
    assert f'data-record-id="{a.pk}"' in page and f'data-record-id="{b.pk}"' not in page
    assert "A long abstract from Embase." in page and "DOI 10.1000/ms.1" in page
