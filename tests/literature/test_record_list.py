"""The records list reads one page by key; the record page and the sources page cost a fixed
number of queries."""

import re

import pytest
from django.urls import reverse

from reviewapp.literature.matching import title_key
from reviewapp.literature.models import DuplicateLink
from tests.factories import ImportFactory, RecordFactory, review_make


def _ids(response) -> list[int]:
    return [int(n) for n in re.findall(r'/records/(\d+)/">', response.content.decode())]


@pytest.fixture
def many(review):
    return RecordFactory.create_batch(120, review=review)


def test_the_list_pages_forward_and_back_by_key(client, owner, review, many):
    client.force_login(owner)
    url = reverse("literature:record-list", args=[review.slug])
    first = client.get(url)
    assert _ids(first) == [r.pk for r in many[:50]]
    assert "120 records." in first.content.decode()
    second = client.get(url, {"after": many[49].pk})
    assert _ids(second) == [r.pk for r in many[50:100]]
    third = client.get(url, {"after": many[99].pk})
    assert _ids(third) == [r.pk for r in many[100:]]
    assert "Next" not in third.content.decode()
    back = client.get(url, {"before": many[100].pk})
    assert _ids(back) == [r.pk for r in many[50:100]]
    assert f"?before={many[50].pk}" in back.content.decode()


def test_a_search_finds_titles_pmids_and_dois_of_this_review_only(client, owner, review):
    client.force_login(owner)

    def titled(review, title, **fields):
        # As an import stores it: with its normalised title, which the search reads.
        return RecordFactory(review=review, title=title, title_key=title_key(title), **fields)

    wanted = titled(review, "Rebound after Natalizumab (Tysabri®)", pmid="123456")
    titled(review, "Something else", doi="10.1000/xyz")
    titled(review_make(owner=owner, slug="other"), "Rebound elsewhere")
    url = reverse("literature:record-list", args=[review.slug])
    assert _ids(client.get(url, {"q": "REBOUND"})) == [wanted.pk]
    assert _ids(client.get(url, {"q": "natalizumab tysabri"})) == [wanted.pk]
    assert _ids(client.get(url, {"q": "--"})) == []
    assert _ids(client.get(url, {"q": "123456"})) == [wanted.pk]
    assert len(_ids(client.get(url, {"q": "10.1000/XYZ"}))) == 1


def test_a_page_key_that_is_not_a_number_shows_the_first_page(client, owner, review, many):
    client.force_login(owner)
    url = reverse("literature:record-list", args=[review.slug])
    assert _ids(client.get(url, {"after": "x'; drop"}))[0] == many[0].pk


@pytest.mark.parametrize("n", [5, 150])
def test_the_list_costs_the_same_queries_whatever_the_review_holds(
    client, owner, review, n, django_assert_num_queries
):
    imports = [ImportFactory(review=review) for _ in range(3)]
    for i in range(n):
        RecordFactory(review=review, source_import=imports[i % 3])
    client.force_login(owner)
    url = reverse("literature:record-list", args=[review.slug])
    client.get(url)  # counts the records once
    # user, membership, the page, the review's highest record id (the count's key), the merges
    # of the page's records (none here)
    with django_assert_num_queries(5):
        assert client.get(url, {"after": 1}).status_code == 200
    # A search's matches are not counted (and these records have no title key: no match, so no
    # merges to look up).
    with django_assert_num_queries(3):
        client.get(url, {"q": "natalizumab"})


@pytest.mark.parametrize("n", [2, 40])
def test_the_record_and_sources_pages_cost_the_same_queries_whatever_the_review_holds(
    client, owner, review, n, django_assert_num_queries
):
    records = RecordFactory.create_batch(n, review=review)
    ImportFactory.create_batch(n, review=review)
    DuplicateLink.objects.create(
        review=review, duplicate=records[1], primary=records[0], rule="doi"
    )
    client.force_login(owner)
    # user, membership, the record with its source, its duplicate link with the kept record
    with django_assert_num_queries(4):
        page = client.get(reverse("literature:record-detail", args=[review.slug, records[1].pk]))
    assert page.status_code == 200
    # user, membership, the searches, the files
    with django_assert_num_queries(4):
        assert client.get(reverse("literature:source-list", args=[review.slug])).status_code == 200


def test_the_count_is_counted_again_once_records_are_added(client, owner, review, many):
    client.force_login(owner)
    url = reverse("literature:record-list", args=[review.slug])
    assert "120 records." in client.get(url).content.decode()
    RecordFactory.create_batch(2, review=review)
    assert "122 records." in client.get(url).content.decode()
