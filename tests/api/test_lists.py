"""The API's big lists are paged by key: every row once, in order, at a fixed cost per page;
every list costs a fixed number of queries whatever the review holds."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from reviewapp.extraction.services import extraction_save
from reviewapp.screening.services import decision_record
from tests.conftest import membership_of
from tests.extraction.helpers import entry_sample
from tests.factories import RecordFactory, review_make


def _all_pages(api, url, **params):
    pages, response = [], api.get(url, {"page_size": 7, **params}).json()
    pages.append(response)
    while response["next"]:
        response = api.get(response["next"]).json()
        pages.append(response)
    return pages


def test_following_next_gives_every_record_once_in_order(api, owner, review):
    records = RecordFactory.create_batch(20, review=review)
    RecordFactory.create_batch(5, review=review_make(owner=owner, slug="other"))
    api.force_authenticate(owner)
    pages = _all_pages(api, reverse("api:record-list", args=[review.slug]))
    assert [len(p["results"]) for p in pages] == [7, 7, 6]
    assert [r["id"] for p in pages for r in p["results"]] == [r.pk for r in records]
    assert set(pages[0]) == {"next", "previous", "results"} and pages[0]["previous"] is None
    back = api.get(pages[2]["previous"]).json()
    assert [r["id"] for r in back["results"]] == [r.pk for r in records[7:14]]
    assert api.get(back["previous"]).json()["results"] == pages[0]["results"]


def test_decisions_made_at_the_same_moment_are_paged_by_id(api, analyst, reviewer, review):
    records = RecordFactory.create_batch(10, review=review)
    for record in records:
        decision_record(
            membership=membership_of(reviewer, review), record=record, stage="ta", value="exclude"
        )
    # A bulk write stamps many events with one moment: the page boundary must not lose any.
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE screening_decision SET created_at = '2026-01-01T00:00:00Z' "
            "WHERE review_id = %s",
            [review.pk],
        )
    api.force_authenticate(analyst)
    pages = _all_pages(api, reverse("api:decision-list", args=[review.slug]), stage="ta")
    ids = [d["id"] for p in pages for d in p["results"]]
    assert len(pages) == 2 and ids == sorted(ids) and len(set(ids)) == 10


@pytest.mark.parametrize("cursor", ["nonsense", "eyJmIjoxLCJrIjpbMV19", "eyJmIjoxfQ=="])
def test_a_cursor_the_api_did_not_give_is_a_404(api, owner, review, records, cursor):
    api.force_authenticate(owner)
    response = api.get(reverse("api:record-list", args=[review.slug]), {"cursor": cursor})
    assert response.status_code == 404 and "cursor" in response.json()["detail"]


def test_a_page_size_is_bounded(api, owner, review, records):
    api.force_authenticate(owner)
    url = reverse("api:record-list", args=[review.slug])
    assert len(api.get(url, {"page_size": "0"}).json()["results"]) == 1
    assert len(api.get(url, {"page_size": "many"}).json()["results"]) == 3


def _screen(review, users, records, reason):
    """A conflict on each record: the first includes, the second excludes with a reason."""
    review.stage_settings.filter(stage="ta").update(reviewers_required=2)
    for record in records:
        for user, value in zip(users, ["include", "exclude"], strict=True):
            decision_record(
                membership=membership_of(user, review),
                record=record,
                stage="ta",
                value=value,
                reason_ids=[reason.pk] if value == "exclude" else None,
            )


LISTS = ["api:record-list", "api:decision-list", "api:form-list", "api:extraction-list"]


def _costs(api, review, users) -> dict:
    costs = {}
    for who in users:
        api.force_authenticate(who)
        for name in LISTS:
            with CaptureQueriesContext(connection) as queries:
                assert api.get(reverse(name, args=[review.slug])).status_code == 200
            costs[(who.username, name)] = len(queries)
        with CaptureQueriesContext(connection) as queries:
            assert api.get(reverse("api:review-list")).status_code == 200
        costs[(who.username, "api:review-list")] = len(queries)
    return costs


def test_each_list_costs_the_same_queries_whatever_the_review_holds(
    api, owner, reviewer, reviewer2, analyst, review, dual_form, study
):
    users = (owner, reviewer, analyst)
    reason = review.exclusion_reasons.first()
    _screen(review, [reviewer, reviewer2], RecordFactory.create_batch(3, review=review), reason)
    for user in (reviewer, reviewer2):
        extraction_save(
            membership=membership_of(user, review),
            form=dual_form,
            study=study,
            raw=entry_sample(),
            expected_revision=0,
            submit=True,
        )
    small = _costs(api, review, users)
    _screen(review, [reviewer, reviewer2], RecordFactory.create_batch(150, review=review), reason)
    for n in range(3):
        review_make(owner=owner, slug=f"more-{n}")
    large = _costs(api, review, users)
    assert large == small
    # membership, the page and what it joins or prefetches (reasons, versions), a count for
    # the small lists paged by number
    assert max(large.values()) <= 5


def test_the_schema_documents_the_keyset_pages(client, db):
    schema = client.get(reverse("api:schema"), {"format": "json"}).json()
    for path in ("/api/reviews/{slug}/records/", "/api/reviews/{slug}/decisions/"):
        get = schema["paths"][path]["get"]
        assert {"cursor", "page_size"} <= {p["name"] for p in get["parameters"]}
        assert "page" not in {p["name"] for p in get["parameters"]}
        ref = get["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
        page = schema["components"]["schemas"][ref.rsplit("/", 1)[1]]
        assert set(page["properties"]) == {"next", "previous", "results"}
