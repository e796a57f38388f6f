"""The duplicates page: a page of clusters at a time, filtered, at a fixed number of queries;
confirming, undoing and marking return to the page and filter they were sent from."""

import re

import pytest
from django.urls import reverse

from reviewapp.literature.models import DuplicateLink
from reviewapp.literature.selectors import CLUSTERS_PAGE_SIZE
from tests.factories import ImportFactory, RecordFactory


def _clusters(response) -> list[int]:
    return [int(n) for n in re.findall(r'<h2 id="cluster-(\d+)">', response.content.decode())]


def _link(review, primary, duplicate, **fields):
    return DuplicateLink.objects.create(
        review=review, primary=primary, duplicate=duplicate, **({"rule": "doi"} | fields)
    )


@pytest.fixture
def world(review):
    """25 clusters from one file, two records each (the kept one from the first file); the
    8th and the 20th wait for a reviewer (similar titles); three records have two copies."""
    first, second = ImportFactory(review=review), ImportFactory(review=review)
    kept = RecordFactory.create_batch(25, review=review, source_import=first)
    links = []
    for i, primary in enumerate(kept):
        uncertain = i in (7, 19)
        links.append(
            _link(
                review,
                primary,
                RecordFactory(review=review, source_import=second),
                rule="fuzzy_title" if uncertain else "doi" if i % 2 else "pmid",
                score=0.9 if uncertain else 1.0,
                status="needs_review" if uncertain else "automatic",
            )
        )
    for primary in kept[:3]:
        _link(review, primary, RecordFactory(review=review, source_import=first), rule="pmid")
    return {"kept": kept, "links": links, "second": second}


def test_clusters_needing_a_reviewer_come_first_then_pages_of_twenty(client, owner, review, world):
    client.force_login(owner)
    url = reverse("literature:duplicate-list", args=[review.slug])
    kept = [r.pk for r in world["kept"]]
    first = client.get(url)
    others = [pk for i, pk in enumerate(kept) if i not in (7, 19)]
    assert _clusters(first) == [kept[7], kept[19], *others[: CLUSTERS_PAGE_SIZE - 2]]
    assert "25 clusters" in first.content.decode() and "page 1 of 2" in first.content.decode()
    second = client.get(url, {"page": 2})
    assert _clusters(second) == others[CLUSTERS_PAGE_SIZE - 2 :]
    # A page past the end (links undone meanwhile) shows the last page.
    assert _clusters(client.get(url, {"page": 9})) == _clusters(second)
    # A cluster shows every copy of its record.
    assert first.content.decode().count(f"Kept (record {world['kept'][0].number})") == 1
    assert len(DuplicateLink.objects.filter(primary_id=kept[0])) == 2


def test_the_filters_narrow_the_links_shown(client, owner, review, world):
    client.force_login(owner)
    url = reverse("literature:duplicate-list", args=[review.slug])
    kept = [r.pk for r in world["kept"]]
    assert _clusters(client.get(url, {"status": "needs_review"})) == [kept[7], kept[19]]
    assert _clusters(client.get(url, {"show": "uncertain"})) == [kept[7], kept[19]]
    assert _clusters(client.get(url, {"confidence": "low"})) == [kept[7], kept[19]]
    by_doi = _clusters(client.get(url, {"rule": "doi", "page": 1}))
    assert by_doi == [pk for i, pk in enumerate(kept) if i % 2 and i not in (7, 19)]
    from_second = client.get(url, {"source": f"import-{world['second'].pk}", "rule": "pmid"})
    # The third copies came from the first file: filtered out, their clusters keep the others.
    page = from_second.content.decode()
    assert "Duplicate (record" in page
    assert all(
        f"Duplicate (record {link.duplicate_id})" not in page
        for link in DuplicateLink.objects.filter(duplicate__source_import__isnull=False)
        if link.duplicate.source_import_id != world["second"].pk
    )
    # Values the page does not offer are ignored, not an error.
    assert client.get(url, {"rule": "nonsense", "source": "import-x"}).status_code == 200


@pytest.mark.parametrize("action", ["duplicate-confirm", "duplicate-undo"])
def test_an_action_returns_to_the_page_and_filter_it_came_from(
    client, reviewer, review, world, action
):
    client.force_login(reviewer)
    link = world["links"][24]
    response = client.post(
        reverse(f"literature:{action}", args=[review.slug, link.pk]),
        {"back": "rule=doi&page=2&confidence=exact"},
    )
    assert response.status_code == 302
    assert response["Location"] == (
        reverse("literature:duplicate-list", args=[review.slug])
        + "?rule=doi&confidence=exact&page=2"
    )
    link.refresh_from_db()
    assert link.status == "confirmed" if action == "duplicate-confirm" else link.undone_at


def test_the_page_sends_its_filter_and_page_with_each_action(client, reviewer, review, world):
    client.force_login(reviewer)
    url = reverse("literature:duplicate-list", args=[review.slug])
    page = client.get(url, {"status": "automatic", "page": 2}).content.decode()
    assert 'name="back" value="status=automatic&amp;page=2"' in page


def test_marking_a_duplicate_returns_to_the_page_too(client, reviewer, review, world):
    client.force_login(reviewer)
    a, b = RecordFactory.create_batch(2, review=review)
    response = client.post(
        reverse("literature:duplicate-mark", args=[review.slug]),
        {"duplicate": b.pk, "primary": a.pk, "back": "status=confirmed"},
    )
    assert response["Location"].endswith("/duplicates/?status=confirmed")
    assert DuplicateLink.objects.get(duplicate=b).primary == a


def test_the_way_back_is_never_a_url_given_by_the_request(client, reviewer, review, world):
    client.force_login(reviewer)
    link = world["links"][0]
    response = client.post(
        reverse("literature:duplicate-undo", args=[review.slug, link.pk]),
        {"back": "next=//evil.example.org/&page=https://evil.example.org"},
    )
    assert response["Location"] == reverse("literature:duplicate-list", args=[review.slug])


def test_an_analyst_sees_the_page_without_the_actions(client, analyst, review, world):
    client.force_login(analyst)
    page = client.get(reverse("literature:duplicate-list", args=[review.slug]))
    assert page.status_code == 200 and "Same citation" not in page.content.decode()


@pytest.mark.parametrize("clusters", [3, 60])
def test_the_page_costs_the_same_queries_whatever_the_review_holds(
    client, owner, review, clusters, django_assert_num_queries
):
    imp = ImportFactory(review=review)
    for _ in range(clusters):
        primary, duplicate = RecordFactory.create_batch(2, review=review, source_import=imp)
        _link(review, primary, duplicate)
    client.force_login(owner)
    url = reverse("literature:duplicate-list", args=[review.slug])
    # user, membership, the page's clusters (and their count), their links and records, the
    # files and the searches of the source filter
    with django_assert_num_queries(6):
        assert client.get(url, {"rule": "doi"}).status_code == 200


def test_each_pair_is_shown_side_by_side_with_the_fields_that_differ_marked(
    client, reviewer, review
):
    imp = ImportFactory(review=review, file_name="embase.ris")
    kept = RecordFactory(
        review=review,
        title="Disease reactivation after stopping natalizumab",
        authors=["Prosperini, L", "Kinkel, RP"],
        journal="Neurology",
        year=2019,
        volume="92",
        pages="e123-9",
        doi="10.1212/WNL.0000000000001234",
        pmid="30111111",
    )
    copy = RecordFactory(
        review=review,
        source_import=imp,
        title="Disease reactivation after stopping natalizumab.",
        authors=["Prosperini, L", "Kinkel, R P"],
        journal="NEUROLOGY",
        year=2020,
        volume="92",
        pages="e123-e129",
        doi="https://doi.org/10.1212/wnl.0000000000001234",
    )
    link = _link(review, kept, copy, rule="fuzzy_title", score=0.95, status="needs_review")
    client.force_login(reviewer)
    page = client.get(reverse("literature:duplicate-list", args=[review.slug])).content.decode()
    pair = page.split(f'id="pair-{link.pk}"', 1)[1].split('class="pair-actions"', 1)[0]
    statuses = {
        label: status
        for status, label in re.findall(r'data-field-status="(\w+)">\s*<th scope="row">(\w+)', pair)
    }
    assert statuses == {
        "Title": "same",
        "Authors": "same",
        "Journal": "same",
        "Year": "different",
        "Volume": "same",
        "Pages": "same",
        "DOI": "same",
        "PMID": "one_missing",
        "Source": "different",
    }
    assert "<td>2019</td>" in pair and "<td>2020</td>" in pair and "differs" in pair
    assert "embase.ris" in pair
    actions = page.split(f'id="pair-{link.pk}"', 1)[1]
    assert "Same citation" in actions and "Not a duplicate" in actions
