"""The pages that name a merged cluster's records by number, in a real browser at 1280x800 and
390x844, as owner, reviewer and analyst: the record history and the conflicts page say
"merged from record #N", the records list searched by the merged-in record's DOI or PMID finds
the primary that shows it, the bulk-upload picker offers the primary by its number. Blinding
holds on each (a reviewer with a vote due sees no other vote); an outsider gets a 404 page."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from reviewapp.literature import merges
from reviewapp.literature.models import DuplicateLink
from reviewapp.screening.bulk import bulk_stage
from reviewapp.screening.services import decision_record
from tests.browser.look import look
from tests.conftest import membership_of
from tests.factories import ImportFactory, RecordFactory, review_make
from tests.pdf_builder import pdf_bytes

pytestmark = pytest.mark.django_db(transaction=True)

# Where a person looks at the screenshots (test-artifacts/look/ gets look()'s own as well).
SHOTS = Path(os.environ.get("MERGED_SHOTS", "test-artifacts/merged-notes"))

DOI = "10.1212/WNL.0000000000009876"
PMID = "33000001"
TITLE = "Disease reactivation after natalizumab discontinuation in relapsing multiple sclerosis"


def _shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    width = page.viewport_size["width"]
    page.screenshot(path=str(SHOTS / f"{name}-{width}.png"), full_page=True)
    look(page, name)


def _fits(page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def _vote(user, review, record, value, stage="ta"):
    decision_record(membership=membership_of(user, review), record=record, stage=stage, value=value)


def _cluster(review, owner, n, *, title):
    """A CSV record with no DOI nor PMID kept, a PubMed copy bringing both merged onto it."""
    csv = ImportFactory(review=review, file_name=f"handsearch{n}.csv", source_database="Hand")
    pubmed = ImportFactory(review=review, file_name=f"pubmed{n}.nbib", source_database="PubMed")
    kept = RecordFactory(
        review=review, source_import=csv, title=title, authors=["Prosperini, L"], year=2019
    )
    copy = RecordFactory(
        review=review,
        source_import=pubmed,
        title=title,
        authors=["Prosperini, L", "Kinkel, RP"],
        year=2019,
        doi=f"{DOI}.{n}" if n else DOI,
        pmid=str(int(PMID) + n),
        abstract="BACKGROUND: Stopping natalizumab may be followed by disease reactivation.",
    )
    return kept, copy


@pytest.fixture
def merged(review, owner, reviewer, reviewer2):
    """Cluster 1: its primary in conflict at title/abstract between the owner (include) and
    ravi (exclude), while rita has not voted; its duplicate carries a vote of ravi's from before
    it was found to be one. Cluster 2: both reviewers included its primary, at the full-text
    stage, and a staged bulk upload with a file left unmatched. Records of another review come
    first, so that record numbers and database ids differ."""
    RecordFactory.create_batch(3, review=review_make(owner=owner, slug="other-review"))
    kept, copy = _cluster(review, owner, 0, title=TITLE)
    _vote(reviewer2, review, copy, "exclude")
    DuplicateLink.objects.create(
        review=review, primary=kept, duplicate=copy, rule="title_year_author"
    )
    merges.cluster_merge(membership=membership_of(owner, review), primary_id=kept.pk)
    _vote(owner, review, kept, "include")
    _vote(reviewer2, review, kept, "exclude")
    kept2, copy2 = _cluster(
        review, owner, 1, title="Rituximab as an exit strategy after natalizumab"
    )
    DuplicateLink.objects.create(
        review=review, primary=kept2, duplicate=copy2, rule="title_year_author"
    )
    merges.cluster_merge(membership=membership_of(owner, review), primary_id=kept2.pk)
    _vote(reviewer, review, kept2, "include")
    _vote(reviewer2, review, kept2, "include")
    batch = bulk_stage(
        membership=membership_of(reviewer, review),
        uploads=[
            SimpleUploadedFile("scan-0042.pdf", pdf_bytes("An unreadable scan")),
            SimpleUploadedFile(f"PMID_{copy2.pmid}.pdf", pdf_bytes("Rituximab")),
        ],
    )
    assert kept.pk != kept.number
    return {"kept": kept, "copy": copy, "kept2": kept2, "copy2": copy2, "batch": batch}


ROLES = ["owner", "reviewer", "analyst"]


@pytest.mark.parametrize("viewport", ["wide", "phone"])
@pytest.mark.parametrize("role", ROLES)
def test_the_merged_notes_read_at_both_widths_for_each_role(
    live_server, login, review, owner, reviewer, analyst, merged, role, viewport
):
    kept, copy = merged["kept"], merged["copy"]
    kept2, copy2 = merged["kept2"], merged["copy2"]
    user = {"owner": owner, "reviewer": reviewer, "analyst": analyst}[role]
    page = login(user, viewport=viewport)
    base = f"{live_server.url}/reviews/{review.slug}"
    note = f"merged from record #{copy.number}."
    # rita (reviewer) still owes a vote on the conflict's record: she must see no other vote.
    sees_votes = role != "reviewer"

    page.goto(f"{base}/screen/ta/{kept.pk}/history/")
    main = page.locator("main")
    assert page.get_by_test_id("merged-from").is_visible()
    assert note in page.get_by_test_id("merged-from").inner_text()
    assert f"DOI {DOI}" in main.inner_text()
    assert ("olivia" in main.inner_text()) == sees_votes
    assert ("ravi" in main.inner_text()) == sees_votes
    if not sees_votes:
        # Every vote is in; what hides them is that she did not vote, not a vote still awaited.
        hidden = page.get_by_test_id("votes-hidden").inner_text()
        assert "you did not vote on this record" in hidden and "until" not in hidden
    _fits(page)
    _shot(page, f"history-{role}")
    # The note's number leads to the merged-in record's own page, with its own values.
    page.get_by_test_id("merged-from").get_by_role("link", name=f"#{copy.number}").click()
    page.wait_for_load_state()
    assert page.url.endswith(f"/records/{copy.pk}/")
    assert f"A duplicate of record {kept.number}" in page.locator("main").inner_text()

    # The duplicate's own history: its own values, no note; ravi's vote hidden from rita,
    # whose vote on it would be due were it screened.
    page.goto(f"{base}/screen/ta/{copy.pk}/history/")
    assert page.get_by_test_id("merged-from").count() == 0
    duplicate_note = page.get_by_test_id("duplicate-of")
    assert duplicate_note.is_visible()
    assert f"A duplicate of record {kept.number}: it is not screened" in duplicate_note.inner_text()
    assert ("Exclude" in page.locator("main table").inner_text()) == (role == "analyst")
    _fits(page)
    _shot(page, f"history-duplicate-{role}")
    duplicate_note.get_by_role("link", name=f"record {kept.number}").click()
    page.wait_for_load_state()
    assert page.url.endswith(f"/screen/ta/{kept.pk}/history/")

    page.goto(f"{base}/screen/ta/conflicts/")
    main = page.locator("main")
    assert note in page.get_by_test_id("merged-from").first.inner_text()
    assert page.get_by_test_id("merged-from").first.is_visible()
    assert ("Include" in main.inner_text() and "olivia" in main.inner_text()) == sees_votes
    _fits(page)
    _shot(page, f"conflicts-{role}")

    for name, query in (("doi", copy.doi), ("pmid", copy.pmid)):
        page.goto(f"{base}/records/?q={query}")
        rows = page.locator("main table tbody tr")
        numbers = {r.strip() for r in rows.locator("td:first-child").all_inner_texts()}
        assert {str(kept.number), str(copy.number)} <= {n.lstrip("#") for n in numbers}, numbers
        _fits(page)
        _shot(page, f"records-by-{name}-{role}")

    page.goto(f"{base}/screen/fulltext/bulk/{merged['batch'].pk}/")
    main = page.locator("main")
    assert "Matched (1)" in main.inner_text() and "Not matched (1)" in main.inner_text()
    # The PDF named by the duplicate's PMID matched the primary, named by its number.
    matched = page.locator("tr", has_text=f"PMID_{copy2.pmid}.pdf")
    assert f"#{kept2.number} Rituximab" in matched.inner_text()
    # On a phone each row is a card: its text is inset from the card's edge, and the unmatched
    # file's reason is labelled as its column is.
    assert page.locator("td[data-label='Why not']").count() == 1
    assert (
        float(matched.locator("td").first.evaluate("e => getComputedStyle(e).paddingLeft")[:-2]) > 0
    )
    options = page.locator("datalist#bulk-records option")
    if role == "analyst":
        assert options.count() == 0
        assert page.get_by_role("button", name="Assign").count() == 0
        # Sent anyway: refused with a page that says why, nothing assigned.
        token = next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")
        response = page.request.post(
            page.url,
            form={"action": "assign", "file": "0", "record": str(kept2.number)},
            headers={"X-CSRFToken": token, "Referer": page.url},
        )
        assert response.status == 403
        assert "You cannot do this here" in response.text()
    else:
        values = [options.nth(i).get_attribute("value") for i in range(options.count())]
        assert values == [f"#{kept2.number} Rituximab as an exit strategy after natalizumab"]
        row = page.locator("tr", has_text="scan-0042.pdf")
        assert row.get_by_role("button", name="Assign").is_visible()
        attach = page.get_by_role("button", name="Attach 1 PDF")
        attach.scroll_into_view_if_needed()
        assert attach.is_visible()
    _fits(page)
    _shot(page, f"bulk-picker-{role}")


@pytest.mark.parametrize("viewport", ["wide", "phone"])
def test_an_assigned_number_from_the_picker_attaches_to_the_primary(
    live_server, login, review, reviewer, merged, viewport
):
    kept2 = merged["kept2"]
    page = login(reviewer, viewport=viewport)
    page.goto(f"{live_server.url}/reviews/{review.slug}/screen/fulltext/bulk/{merged['batch'].pk}/")
    row = page.locator("tr", has_text="scan-0042.pdf")
    row.locator("input[name=record]").fill(f"#{kept2.number} Rituximab")
    row.get_by_role("button", name="Assign").click()
    page.wait_for_load_state()
    assert "Matched (2)" in page.locator("main").inner_text()
    _fits(page)
    _shot(page, "bulk-picker-assigned-reviewer")


@pytest.mark.parametrize(
    "path",
    [
        "screen/ta/{kept}/history/",
        "screen/ta/conflicts/",
        "records/?q={doi}",
        "screen/fulltext/bulk/{batch}/",
    ],
)
def test_an_outsider_gets_a_plain_404_page(live_server, login, review, outsider, merged, path):
    page = login(outsider, viewport="phone")
    url = path.format(kept=merged["kept"].pk, doi=DOI, batch=merged["batch"].pk)
    response = page.goto(f"{live_server.url}/reviews/{review.slug}/{url}")
    assert response.status == 404
    assert "merged from" not in page.content()
    _fits(page)
