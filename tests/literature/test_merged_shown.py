"""Every reader shows a merged cluster's primary with the cluster's merged metadata (through
literature.selectors.records_merged / merged_annotate): the record history, the conflicts
workspace and its recent resolutions, the API's records, the PRISMA box lists, the study label
made at inclusion. Blinding of votes is untouched by it; a record showing merged values is never
saved; duplicate links are audited by the records' numbers in the review."""

import pytest
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from reviewapp.audit.constants import Action
from reviewapp.audit.models import AuditEvent
from reviewapp.extraction.selectors import decisions_long_rows
from reviewapp.literature import duplicates, merges, selectors
from reviewapp.literature.models import DuplicateLink, Record, RecordMerge
from reviewapp.screening.models import RecordNote, Study
from reviewapp.screening.services import conflict_resolve, decision_record
from tests.conftest import membership_of
from tests.extraction.helpers import single_screening
from tests.factories import ImportFactory, RecordFactory, review_make

EMBASE_TITLE = "Stopping natalizumab in relapsing multiple sclerosis"
EMBASE_ABSTRACT = "Background: disease returns after stopping natalizumab (Embase abstract)."
DOI = "10.1000/ms.1"


def other_review_records(owner, n):
    """Records of another review, made first: this review's ids then differ from its numbers."""
    RecordFactory.create_batch(n, review=review_make(owner=owner, slug="other-review"))


@pytest.fixture
def cluster(review, owner):
    """Record A (PubMed: PMID only, no abstract, DOI nor authors) kept, B (Embase: DOI, abstract,
    authors, a longer title) its duplicate; merged with B's title chosen by hand. Records of
    another review come first so that database ids and record numbers differ."""
    other_review_records(owner, 3)
    pubmed = ImportFactory(review=review, source_database="PubMed")
    embase = ImportFactory(review=review, source_database="Embase")
    a = RecordFactory(
        review=review,
        source_import=pubmed,
        title="Stopping natalizumab",
        pmid="31000001",
        authors=[],
        year=2019,
    )
    b = RecordFactory(
        review=review,
        source_import=embase,
        title=EMBASE_TITLE,
        doi=DOI,
        abstract=EMBASE_ABSTRACT,
        authors=["Prosperini, L", "Kinkel, RP"],
        year=2019,
    )
    DuplicateLink.objects.create(review=review, primary=a, duplicate=b, rule="title_year_author")
    merges.cluster_merge(
        membership=membership_of(owner, review), primary_id=a.pk, choices={"title": b.pk}
    )
    assert a.pk != a.number
    return a, b


def _conflict_on(review, reviewer, reviewer2, record):
    decision_record(
        membership=membership_of(reviewer, review), record=record, stage="ta", value="exclude"
    )
    decision_record(
        membership=membership_of(reviewer2, review), record=record, stage="ta", value="include"
    )


def _shows_merged(page: str) -> None:
    assert EMBASE_ABSTRACT in page
    assert f"DOI {DOI}" in page and "PubMed 31000001" in page
    assert EMBASE_TITLE in page


def test_the_record_history_shows_the_merged_citation(client, reviewer, review, cluster):
    a, _b = cluster
    client.force_login(reviewer)
    page = client.get(reverse("screening:record-history", args=[review.slug, "ta", a.pk]))
    _shows_merged(page.content.decode())


def test_the_merged_citation_leaves_the_votes_blinded(client, reviewer, reviewer2, review, cluster):
    a, _b = cluster
    decision_record(
        membership=membership_of(reviewer2, review),
        record=a,
        stage="ta",
        value="include",
        note="ravi-private-reasoning",
    )
    RecordNote.objects.create(record=a, author=reviewer2, text="ravi-team-note")
    client.force_login(reviewer)  # rita's vote is still due: ravi's stays hidden
    page = client.get(reverse("screening:record-history", args=[review.slug, "ta", a.pk]))
    text = page.content.decode()
    _shows_merged(text)
    assert "Blinded" in text and "ravi-private-reasoning" not in text
    screen = client.get(reverse("screening:screen", args=[review.slug, "ta"])).content.decode()
    assert EMBASE_ABSTRACT in screen and "ravi-private-reasoning" not in screen


def test_the_conflicts_workspace_lists_and_shows_the_merged_record(
    client, owner, reviewer, reviewer2, review, cluster
):
    a, _b = cluster
    _conflict_on(review, reviewer, reviewer2, a)
    client.force_login(owner)
    listing = client.get(reverse("screening:conflict-list", args=[review.slug, "ta"]))
    _shows_merged(listing.content.decode())  # the row's title and the focused citation
    focus = client.get(
        reverse("screening:conflict-detail", args=[review.slug, "ta", a.pk]),
        HTTP_HX_REQUEST="true",
    )
    _shows_merged(focus.content.decode())


def test_the_recent_resolutions_name_the_merged_title(
    client, owner, reviewer, reviewer2, review, cluster
):
    a, _b = cluster
    _conflict_on(review, reviewer, reviewer2, a)
    conflict_resolve(membership=membership_of(owner, review), record=a, stage="ta", value="include")
    client.force_login(owner)
    page = client.get(reverse("screening:conflict-list", args=[review.slug, "ta"]))
    assert EMBASE_TITLE in page.content.decode()


def test_the_api_gives_the_primary_merged_and_the_duplicate_its_own(owner, review, cluster):
    a, b = cluster
    api = APIClient()
    api.force_authenticate(owner)
    rows = api.get(reverse("api:record-list", args=[review.slug])).json()["results"]
    by_id = {row["id"]: row for row in rows}
    assert by_id[a.pk]["doi"] == DOI and by_id[a.pk]["abstract"] == EMBASE_ABSTRACT
    assert by_id[a.pk]["title"] == EMBASE_TITLE and by_id[a.pk]["pmid"] == "31000001"
    assert by_id[a.pk]["authors"] == ["Prosperini, L", "Kinkel, RP"]
    assert by_id[b.pk]["pmid"] == "" and by_id[b.pk]["duplicate_of"] == a.pk


def test_the_prisma_box_lists_the_merged_record_by_its_number(client, owner, review, cluster):
    a, _b = cluster
    client.force_login(owner)
    page = client.get(reverse("reporting:prisma-box", args=[review.slug, "records_screened"]))
    text = page.content.decode()
    assert EMBASE_TITLE in text and "Prosperini, L" in text
    assert f'<td class="num">{a.number}</td>' in text


def test_a_study_made_at_inclusion_is_labelled_from_the_merged_authors(owner, review, cluster):
    a, _b = cluster
    single_screening(review)
    membership = membership_of(owner, review)
    decision_record(membership=membership, record=a, stage="ta", value="include")
    decision_record(membership=membership, record=a, stage="ft", value="include")
    assert list(Study.objects.filter(review=review).values_list("label", flat=True)) == [
        "Prosperini 2019"
    ]
    assert Record.objects.get(pk=a.pk).authors == []  # the record keeps its own


def test_a_record_showing_merged_values_is_never_saved(review, cluster):
    a, _b = cluster
    (shown,) = selectors.records_merged(review, [Record.objects.get(pk=a.pk)])
    assert shown.doi == DOI
    with pytest.raises(ValueError, match="merged values"):
        shown.save()
    assert Record.objects.get(pk=a.pk).doi == ""


def test_the_one_rule_agrees_for_rows_and_annotated_records(review, owner, cluster):
    """merged_values (exports) and merged_annotate (screening, API) apply one in-effect rule: a
    record that joins keeps the merge; one that leaves ends it, for both."""
    a, b = cluster

    def both():
        rows = selectors.merged_values(review, [a.pk])
        (annotated,) = selectors.merged_annotate(Record.objects.filter(pk=a.pk))
        return a.pk in rows, selectors.merged_apply(annotated).merged

    assert both() == (True, True)
    c = RecordFactory(review=review, title="Stopping natalizumab")
    DuplicateLink.objects.create(review=review, primary=a, duplicate=c, rule="title_year_author")
    assert both() == (True, True)
    DuplicateLink.objects.filter(duplicate=b).update(undone_at="2026-01-01T00:00Z")
    assert both() == (False, False)


def test_duplicate_links_are_audited_by_record_number(owner, review):
    other_review_records(owner, 4)
    a, b = RecordFactory.create_batch(2, review=review)
    membership = membership_of(owner, review)
    link = duplicates.duplicate_mark(membership=membership, duplicate_id=b.pk, primary_id=a.pk)
    duplicates.duplicate_undo(membership=membership, link_id=link.pk)
    labels = set(
        AuditEvent.objects.filter(review=review, target_type="duplicate_link").values_list(
            "target_label", flat=True
        )
    )
    assert labels == {f"Record {b.number} as a duplicate of record {a.number}"}
    assert (a.pk, b.pk) != (a.number, b.number)


def test_a_record_left_a_merge_is_audited_by_its_number(owner, review, cluster):
    a, b = cluster
    link = DuplicateLink.objects.get(duplicate=b, undone_at__isnull=True)
    duplicates.duplicate_undo(membership=membership_of(owner, review), link_id=link.pk)
    event = AuditEvent.objects.filter(review=review, action=Action.DUPLICATE_MERGE_UNDONE).get()
    assert event.after == {"merged": False, "left": b.number}
    assert event.target_label == f"Record {a.number} and its duplicates"


def test_the_decisions_export_carries_the_merged_metadata(analyst, reviewer, review, cluster):
    a, _b = cluster
    decision_record(
        membership=membership_of(reviewer, review), record=a, stage="ta", value="include"
    )
    (row,) = decisions_long_rows(review, membership_of(analyst, review))
    assert (row["record_number"], row["doi"], row["pmid"]) == (a.number, DOI, "31000001")
    assert (row["title"], row["first_author"]) == (EMBASE_TITLE, "Prosperini, L")


# --- issue 16 point 3: searching by a merged identifier, and saying where a value came from ---


def _listed(client, review, query) -> str:
    return client.get(
        reverse("literature:record-list", args=[review.slug]), {"q": query}
    ).content.decode()


def test_searching_a_duplicates_doi_also_finds_the_primary_that_shows_it(
    client, owner, review, cluster
):
    a, b = cluster
    found = selectors.records_page(review, query=DOI).rows
    assert {r.pk for r in found} == {a.pk, b.pk}
    assert {r.pk for r in selectors.records_page(review, query=DOI.upper()).rows} == {a.pk, b.pk}
    client.force_login(owner)
    page = _listed(client, review, DOI)
    assert f">{a.number}<" in page and f">{b.number}<" in page


def test_searching_a_duplicates_pmid_also_finds_the_primary_that_shows_it(owner, review):
    primary = RecordFactory(review=review, title="Rebound after natalizumab", doi="10.1000/x.9")
    duplicate = RecordFactory(review=review, title="Rebound after natalizumab", pmid="32000002")
    DuplicateLink.objects.create(
        review=review, primary=primary, duplicate=duplicate, rule="title_year_author"
    )
    assert {r.pk for r in selectors.records_page(review, query="32000002").rows} == {duplicate.pk}
    merges.cluster_merge(membership=membership_of(owner, review), primary_id=primary.pk)
    found = {r.pk for r in selectors.records_page(review, query="32000002").rows}
    assert found == {primary.pk, duplicate.pk}
    # Once the duplicate leaves, the primary shows its own values and is no longer found by it.
    DuplicateLink.objects.filter(duplicate=duplicate).update(undone_at=timezone.now())
    assert {r.pk for r in selectors.records_page(review, query="32000002").rows} == {duplicate.pk}


def test_the_record_history_says_which_values_came_from_the_merged_duplicate(
    client, reviewer, review, cluster
):
    a, b = cluster
    client.force_login(reviewer)
    page = client.get(reverse("screening:record-history", args=[review.slug, "ta", a.pk]))
    note = page.content.decode()
    # The record named by its number in the review, linked to its page (its id in the link).
    b_page = reverse("literature:record-detail", args=[review.slug, b.pk])
    assert (
        f'Title, Authors, DOI, Abstract: merged from record <a href="{b_page}">#{b.number}</a>.'
        in note
    )
    # The duplicate's own history shows its own values: no note.
    page = client.get(reverse("screening:record-history", args=[review.slug, "ta", b.pk]))
    assert "merged from record" not in page.content.decode()
    # It says it is a duplicate, not screened, and leads to the record that is.
    primary_history = reverse("screening:record-history", args=[review.slug, "ta", a.pk])
    assert (
        f'A duplicate of <a href="{primary_history}">record {a.number}</a>: it is not screened'
        in page.content.decode()
    )
    page = client.get(primary_history)
    assert "A duplicate of" not in page.content.decode()


def test_the_conflict_shown_says_which_values_came_from_the_merged_duplicate(
    client, owner, reviewer, reviewer2, review, cluster
):
    a, b = cluster
    _conflict_on(review, reviewer, reviewer2, a)
    client.force_login(owner)
    for page in (
        client.get(reverse("screening:conflict-list", args=[review.slug, "ta"])),
        client.get(
            reverse("screening:conflict-detail", args=[review.slug, "ta", a.pk]),
            HTTP_HX_REQUEST="true",
        ),
    ):
        b_page = reverse("literature:record-detail", args=[review.slug, b.pk])
        assert f'merged from record <a href="{b_page}">#{b.number}</a>.' in page.content.decode()


def test_a_merge_is_named_by_its_primarys_number_in_the_review(review, cluster):
    a, _b = cluster
    merge = RecordMerge.objects.get(primary=a, current=True)
    assert str(merge) == f"Merge of record {a.number} (2 records)"
