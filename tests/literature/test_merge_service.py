"""Merging duplicate clusters against real PostgreSQL: the records keep their own values, the
primary shows the richest, undo restores exactly what was before, a change of primary never hides
a screening decision, PRISMA's per-source counts never move, and each change is audited."""

import pytest
from django.core.exceptions import PermissionDenied

from reviewapp.audit.models import AuditEvent
from reviewapp.core.errors import ServiceError
from reviewapp.literature import merges, selectors
from reviewapp.literature.models import DuplicateLink, Record, RecordMerge
from reviewapp.reporting.selectors import prisma_counts_get, prisma_counts_recount
from reviewapp.screening.services import decision_record
from tests.conftest import membership_of
from tests.factories import ImportFactory, RecordFactory

OWN_FIELDS = ["title", "authors", "doi", "pmid", "abstract", "keywords", "mesh_terms", "journal"]


@pytest.fixture
def cluster(review):
    """Record A (PubMed file: PMID, short abstract) kept; B (Embase: DOI, long abstract, more
    keywords) and C (Scopus: MeSH) its duplicates; D a record of its own."""
    pubmed = ImportFactory(review=review, source_database="PubMed")
    embase = ImportFactory(review=review, source_database="Embase")
    scopus = ImportFactory(review=review, source_database="Scopus")
    a = RecordFactory(
        review=review,
        source_import=pubmed,
        title="Stopping natalizumab",
        authors=["Prosperini L"],
        pmid="31000001",
        abstract="Short.",
        keywords=["natalizumab"],
    )
    b = RecordFactory(
        review=review,
        source_import=embase,
        title="Stopping natalizumab in relapsing MS",
        authors=["Prosperini L", "Kinkel RP"],
        doi="10.1000/ms.1",
        abstract="Background: a longer abstract. Methods: a meta-analysis.",
        keywords=["rebound", "Natalizumab"],
    )
    c = RecordFactory(
        review=review, source_import=scopus, title="Stopping natalizumab", mesh_terms=["MS"]
    )
    d = RecordFactory(review=review, source_import=pubmed, title="Another study")
    for dup in (b, c):
        DuplicateLink.objects.create(
            review=review, primary=a, duplicate=dup, rule="fuzzy_title", score=0.97
        )
    return {"a": a, "b": b, "c": c, "d": d}


def _own(record):
    fresh = Record.objects.get(pk=record.pk)
    return {name: getattr(fresh, name) for name in OWN_FIELDS}


def _per_source(review):
    counts = prisma_counts_recount(review)
    kept = prisma_counts_get(review)
    return counts.databases, counts.duplicates, kept.databases, kept.duplicates


def test_merge_keeps_the_richest_values_on_the_primary_and_changes_no_record(
    review, owner, cluster
):
    own = {k: _own(r) for k, r in cluster.items()}
    before = _per_source(review)
    merge = merges.cluster_merge(
        membership=membership_of(owner, review), primary_id=cluster["a"].pk
    )
    assert merge.values["title"] == "Stopping natalizumab"
    assert merge.values["pmid"] == "31000001" and merge.values["doi"] == "10.1000/ms.1"
    assert merge.origins["doi"] == [cluster["b"].pk]
    assert merge.values["abstract"].startswith("Background")
    assert merge.values["keywords"] == ["natalizumab", "rebound"]
    assert merge.values["mesh_terms"] == ["MS"]
    assert merge.values["sources"] == ["PubMed", "Embase", "Scopus"]
    assert merge.values["authors"] == ["Prosperini L", "Kinkel RP"]
    assert {k: _own(r) for k, r in cluster.items()} == own
    assert _per_source(review) == before == ({"PubMed": 2, "Embase": 1, "Scopus": 1}, 2) * 2
    event = AuditEvent.objects.get(action="duplicate.merged")
    assert event.before["doi"] == "" and event.after["doi"] == "10.1000/ms.1"
    assert event.after["records"] == [cluster[k].number for k in "abc"]
    # The same merge again changes nothing and logs nothing.
    again = merges.cluster_merge(
        membership=membership_of(owner, review), primary_id=cluster["a"].pk
    )
    assert (
        again.pk == merge.pk and AuditEvent.objects.filter(action="duplicate.merged").count() == 1
    )


def test_a_field_chosen_by_hand_is_kept_and_a_bad_choice_names_the_field(review, owner, cluster):
    me = membership_of(owner, review)
    first = merges.cluster_merge(membership=me, primary_id=cluster["a"].pk)
    second = merges.cluster_merge(
        membership=me, primary_id=cluster["a"].pk, choices={"abstract": cluster["a"].pk}
    )
    assert second.values["abstract"] == "Short." and second.choices == {"abstract": cluster["a"].pk}
    assert second.replaces_id == first.pk
    assert list(RecordMerge.objects.filter(current=True)) == [second]
    with pytest.raises(ServiceError, match="DOI: that record is not in this cluster") as exc:
        merges.cluster_merge(
            membership=me, primary_id=cluster["a"].pk, choices={"doi": cluster["d"].pk}
        )
    assert exc.value.field == "doi"
    with pytest.raises(ServiceError, match="no field “colour”"):
        merges.cluster_merge(membership=me, primary_id=cluster["a"].pk, choices={"colour": 1})
    assert RecordMerge.objects.get(current=True) == second


def test_undo_restores_exactly_the_revision_before_then_the_records_own_values(
    review, owner, cluster
):
    me = membership_of(owner, review)
    pk = cluster["a"].pk
    first = merges.cluster_merge(membership=me, primary_id=pk)
    merges.cluster_merge(membership=me, primary_id=pk, choices={"abstract": pk})
    merges.cluster_merge_undo(membership=me, primary_id=pk)
    assert RecordMerge.objects.get(current=True) == first
    assert selectors.merged_values(review)[pk] == first.values
    merges.cluster_merge_undo(membership=me, primary_id=pk)
    assert not RecordMerge.objects.filter(current=True).exists()
    assert selectors.merged_values(review) == {}
    assert RecordMerge.objects.filter(undone_at__isnull=False).count() == 2
    undo = AuditEvent.objects.filter(action="duplicate.merge.undone").latest("id")
    assert undo.before["doi"] == "10.1000/ms.1" and undo.after["doi"] == ""
    with pytest.raises(ServiceError, match="no merge to undo"):
        merges.cluster_merge_undo(membership=me, primary_id=pk)


def test_choosing_another_primary_repoints_the_links_and_undo_restores_them(review, owner, cluster):
    me = membership_of(owner, review)
    a, b, c = cluster["a"], cluster["b"], cluster["c"]
    before = _per_source(review)
    old_links = set(
        DuplicateLink.objects.filter(undone_at__isnull=True).values_list("pk", flat=True)
    )
    merges.cluster_merge(membership=me, primary_id=a.pk, choices={"title": b.pk})
    revision = merges.cluster_primary_choose(membership=me, primary_id=a.pk, new_primary_id=b.pk)
    active = DuplicateLink.objects.filter(undone_at__isnull=True)
    assert {(link.duplicate_id, link.primary_id) for link in active} == {(a.pk, b.pk), (c.pk, b.pk)}
    assert active.get(duplicate=a).rule == "fuzzy_title" and active.get(duplicate=a).score == 0.97
    assert set(selectors.records_unique(review)) == {b, cluster["d"]}
    assert revision.primary == b and revision.choices == {"title": b.pk}
    assert revision.values["title"] == "Stopping natalizumab in relapsing MS"
    assert revision.values["pmid"] == "31000001"  # b lacks one: still taken from a
    assert _per_source(review) == before
    event = AuditEvent.objects.get(action="duplicate.primary")
    assert (event.before["primary"], event.after["primary"]) == (a.number, b.number)

    restored = merges.cluster_merge_undo(membership=me, primary_id=b.pk)
    assert restored == a
    active = set(DuplicateLink.objects.filter(undone_at__isnull=True).values_list("pk", flat=True))
    assert active == old_links
    assert RecordMerge.objects.get(current=True).primary == a
    assert set(selectors.records_unique(review)) == {a, cluster["d"]}
    assert _per_source(review) == before


def test_the_primary_stays_while_it_has_screening_decisions(review, owner, reviewer, cluster):
    review.stage_settings.update(reviewers_required=1)
    decision_record(
        membership=membership_of(reviewer, review), record=cluster["a"], stage="ta", value="include"
    )
    me = membership_of(owner, review)
    with pytest.raises(ServiceError, match="already has screening decisions"):
        merges.cluster_primary_choose(
            membership=me, primary_id=cluster["a"].pk, new_primary_id=cluster["b"].pk
        )
    assert DuplicateLink.objects.filter(primary=cluster["a"], undone_at__isnull=True).count() == 2
    assert prisma_counts_recount(review).records_screened == 2
    assert not AuditEvent.objects.filter(action="duplicate.primary").exists()


def test_undoing_a_change_of_primary_is_refused_once_the_new_primary_was_screened(
    review, owner, reviewer, cluster
):
    review.stage_settings.update(reviewers_required=1)
    me = membership_of(owner, review)
    merges.cluster_primary_choose(
        membership=me, primary_id=cluster["a"].pk, new_primary_id=cluster["b"].pk
    )
    decision_record(
        membership=membership_of(reviewer, review), record=cluster["b"], stage="ta", value="exclude"
    )
    with pytest.raises(ServiceError, match="Record .* already has screening decisions"):
        merges.cluster_merge_undo(membership=me, primary_id=cluster["b"].pk)
    assert RecordMerge.objects.get(current=True).primary == cluster["b"]
    assert prisma_counts_recount(review).records_excluded == 1


def test_a_merge_stops_applying_when_a_record_leaves_the_cluster(review, owner, cluster):
    from reviewapp.literature.duplicates import duplicate_mark, duplicate_undo

    me = membership_of(owner, review)
    merges.cluster_merge(membership=me, primary_id=cluster["a"].pk)
    assert selectors.merged_values(review)[cluster["a"].pk]["doi"] == "10.1000/ms.1"
    duplicate_undo(membership=me, link_id=DuplicateLink.objects.get(duplicate=cluster["b"]).pk)
    assert selectors.merged_values(review) == {}
    merge = RecordMerge.objects.get()
    assert not merge.current and merge.undone_by == owner
    assert AuditEvent.objects.get(action="duplicate.merge.undone").after["merged"] is False
    view = selectors.merge_view(review, cluster["a"].pk)
    assert not view.in_effect and view.current is None
    # A merged primary marked as a duplicate of another record stops showing its merge too.
    merges.cluster_merge(membership=me, primary_id=cluster["a"].pk)
    duplicate_mark(membership=me, duplicate_id=cluster["a"].pk, primary_id=cluster["d"].pk)
    assert not RecordMerge.objects.filter(current=True).exists()


def test_a_reviewer_may_merge_an_analyst_may_not(review, reviewer, analyst, cluster):
    merges.cluster_merge(membership=membership_of(reviewer, review), primary_id=cluster["a"].pk)
    with pytest.raises(PermissionDenied):
        merges.cluster_merge_undo(
            membership=membership_of(analyst, review), primary_id=cluster["a"].pk
        )


def test_only_a_primary_with_duplicates_is_merged(review, owner, cluster):
    me = membership_of(owner, review)
    with pytest.raises(ServiceError, match="is a duplicate of record"):
        merges.cluster_merge(membership=me, primary_id=cluster["b"].pk)
    with pytest.raises(ServiceError, match="has no duplicates"):
        merges.cluster_merge(membership=me, primary_id=cluster["d"].pk)
    with pytest.raises(ServiceError, match="Choose a record of this cluster"):
        merges.cluster_primary_choose(
            membership=me, primary_id=cluster["a"].pk, new_primary_id=cluster["d"].pk
        )


def test_a_change_of_primary_is_not_undone_once_the_cluster_changed(review, owner, cluster):
    from reviewapp.literature.duplicates import duplicate_mark

    me = membership_of(owner, review)
    a, b, d = cluster["a"], cluster["b"], cluster["d"]
    merges.cluster_primary_choose(membership=me, primary_id=a.pk, new_primary_id=b.pk)
    duplicate_mark(membership=me, duplicate_id=d.pk, primary_id=b.pk)
    with pytest.raises(ServiceError, match="has left or joined this cluster"):
        merges.cluster_merge_undo(membership=me, primary_id=b.pk)
    assert set(
        DuplicateLink.objects.filter(undone_at__isnull=True).values_list("primary", flat=True)
    ) == {b.pk}
