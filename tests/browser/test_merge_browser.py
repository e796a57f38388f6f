"""Merging a duplicate cluster in a real browser, at 1280x800 and 390x844: the owner merges with a
field chosen by hand, chooses another primary and undoes it (htmx, the address following the
primary); a refusal appears beside the control that caused it; a reviewer has the same controls;
an analyst reads the fields and what is kept, with no control."""

import pytest

from reviewapp.literature.models import DuplicateLink, RecordMerge
from reviewapp.screening.services import decision_record
from tests.browser.conftest import wait_for
from tests.browser.look import look
from tests.conftest import membership_of
from tests.factories import ImportFactory, RecordFactory

pytestmark = pytest.mark.django_db(transaction=True)

LONG_ABSTRACT = (
    "BACKGROUND: Stopping natalizumab in relapsing-remitting multiple sclerosis may be followed by "
    "disease reactivation. METHODS: A meta-analysis of 12 cohorts (1,250 patients) after the "
    "last infusion. RESULTS: Reactivation in 40% within six months. CONCLUSIONS: Start a bridging "
    "therapy early."
)


@pytest.fixture
def cluster(review):
    pubmed = ImportFactory(
        review=review, file_name="pubmed-natalizumab.nbib", source_database="PubMed"
    )
    embase = ImportFactory(
        review=review, file_name="embase-export-2026-11.ris", source_database="Embase"
    )
    scopus = ImportFactory(review=review, file_name="scopus.csv", source_database="Scopus")
    kept = RecordFactory(
        review=review,
        source_import=pubmed,
        title="Disease reactivation after natalizumab discontinuation in multiple sclerosis",
        authors=["Prosperini L", "Kinkel RP"],
        journal="Neurology",
        year=2019,
        pmid="30111111",
        abstract="Stopping natalizumab may be followed by reactivation.",
        mesh_terms=["Multiple Sclerosis, Relapsing-Remitting", "Natalizumab"],
    )
    embase_copy = RecordFactory(
        review=review,
        source_import=embase,
        title="Disease reactivation after natalizumab discontinuation in multiple sclerosis",
        authors=["Prosperini L", "Kinkel RP", "Miravalle AA", "Iaffaldano P"],
        journal="Neurology",
        year=2019,
        doi="10.1212/WNL.0000000000001234",
        abstract=LONG_ABSTRACT,
        keywords=["natalizumab", "rebound", "disease activity"],
    )
    scopus_copy = RecordFactory(
        review=review,
        source_import=scopus,
        title="Disease reactivation after natalizumab discontinuation in multiple sclerosis",
        journal="NEUROLOGY",
        year=2019,
        keywords=["Natalizumab", "withdrawal"],
    )
    for copy in (embase_copy, scopus_copy):
        DuplicateLink.objects.create(
            review=review, primary=kept, duplicate=copy, rule="title_year_author"
        )
    return kept, embase_copy, scopus_copy


def _merge_url(live_server, review, record):
    return f"{live_server.url}/reviews/{review.slug}/duplicates/{record.pk}/merge/"


@pytest.mark.parametrize("viewport", ["wide", "phone"])
def test_the_owner_merges_chooses_another_primary_and_undoes_it(
    live_server, login, review, owner, cluster, viewport
):
    kept, embase_copy, _scopus = cluster
    page = login(owner, viewport=viewport)
    page.goto(_merge_url(live_server, review, kept))
    assert "Not merged" in page.locator("#merge-panel").inner_text()
    look(page, f"merge-owner-before-{viewport}")
    # Keep the PubMed record's short abstract by hand; everything else by the rule.
    page.locator(f"input[name=keep-abstract][value='{kept.pk}']").check()
    page.get_by_role("button", name="Merge", exact=True).click()
    wait_for(page, "document.querySelector('#merge-panel').innerText.includes('Merged by')")
    merge = RecordMerge.objects.get(current=True)
    assert merge.values["abstract"].startswith("Stopping natalizumab")
    assert merge.values["doi"] == "10.1212/WNL.0000000000001234"
    doi = page.locator("#field-doi .merge-kept").inner_text()
    assert "10.1212/WNL.0000000000001234" in doi and f"from record {embase_copy.number}" in doi
    look(page, f"merge-owner-merged-{viewport}")

    page.get_by_role("button", name=f"Choose record {embase_copy.number} as primary").click()
    wait_for(
        page, f"document.querySelector('h1').innerText.includes('record {embase_copy.number}')"
    )
    assert page.url.endswith(f"/duplicates/{embase_copy.pk}/merge/")
    assert DuplicateLink.objects.get(duplicate=kept, undone_at__isnull=True).primary == embase_copy

    page.get_by_role("button", name="Undo the last change").click()
    wait_for(page, f"document.querySelector('h1').innerText.includes('record {kept.number} ')")
    assert page.url.endswith(f"/duplicates/{kept.pk}/merge/")
    assert RecordMerge.objects.get(current=True).primary == kept
    look(page, f"merge-owner-undone-{viewport}")


def test_a_refusal_appears_beside_the_control_that_caused_it(
    live_server, login, review, reviewer, cluster
):
    kept, embase_copy, _scopus = cluster
    page = login(reviewer)
    page.goto(_merge_url(live_server, review, kept))
    # Screened meanwhile, in another tab: the primary now has a decision of its own.
    review.stage_settings.update(reviewers_required=1)
    decision_record(
        membership=membership_of(reviewer, review), record=kept, stage="ta", value="include"
    )
    page.get_by_role("button", name=f"Choose record {embase_copy.number} as primary").click()
    wait_for(page, "document.querySelector('.merge-records .request-error') !== null")
    error = page.locator(".merge-records .request-error").inner_text()
    assert "already has screening decisions" in error and "stays the primary" in error
    assert DuplicateLink.objects.get(duplicate=embase_copy, undone_at__isnull=True).primary == kept
    look(page, "merge-reviewer-refused-wide")


@pytest.mark.parametrize("viewport", ["wide", "phone"])
@pytest.mark.parametrize("role", ["reviewer", "analyst"])
def test_each_role_sees_the_fields_and_only_those_who_screen_get_controls(
    live_server, login, review, owner, reviewer, analyst, cluster, viewport, role
):
    kept, _embase, _scopus = cluster
    from reviewapp.literature import merges

    merges.cluster_merge(membership=membership_of(owner, review), primary_id=kept.pk)
    user = {"reviewer": reviewer, "analyst": analyst}[role]
    page = login(user, viewport=viewport)
    page.goto(_merge_url(live_server, review, kept))
    panel = page.locator("#merge-panel")
    assert "Merged by olivia" in panel.inner_text()
    assert panel.locator("#field-keywords").inner_text().count("Kept") >= 1
    buttons = panel.locator("button").count()
    assert (buttons > 0) if role == "reviewer" else buttons == 0
    look(page, f"merge-{role}-{viewport}")
