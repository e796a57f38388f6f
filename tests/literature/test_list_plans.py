"""The records list and the API's record pages read the review's rows from the (review, id)
index, at realistic row counts: not the primary key walked through every other review's rows.
"""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from rest_framework.test import APIClient

from reviewapp.literature.selectors import records_count, records_page
from tests.factories import ImportFactory, review_make

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="query plans are PostgreSQL's (EXPLAIN)"
)


def _fill(review, n: int) -> None:
    imp = ImportFactory(review=review)
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO literature_record (review_id, source_import_id, source_position, pmid,"
            " doi, pmcid, title, title_key, abstract, abstract_sections, authors, journal, year,"
            " volume, issue, pages, keywords, mesh_terms, publication_types, language, raw,"
            " created_at, number) SELECT %s, %s, g, (10000000 + g)::text, '', '',"
            " 'Trial ' || md5(g::text), '', repeat('words ', 100), '[]', '[\"Smith J\"]', 'J',"
            " 2020, '', '', '', '[]', '[]', '[]', '', '{}', now(), g"
            " FROM generate_series(1, %s) g",
            [review.pk, imp.pk, n],
        )


@pytest.fixture
def crowded(owner, review):
    """90,000 records of three other reviews, imported before this review's 30,000."""
    for n, slug in enumerate(["first", "second", "third"]):
        _fill(review_make(owner=owner, slug=slug, title=f"Other {n}"), 30_000)
    _fill(review, 30_000)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE literature_record")
    return review


def _plan(sql: str, params=()) -> dict:
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (FORMAT JSON) " + sql, params)
        return cursor.fetchone()[0][0]["Plan"]


def _indexes(plan: dict) -> set[str]:
    found = {plan["Index Name"]} if "Index Name" in plan else set()
    for child in plan.get("Plans", []):
        found |= _indexes(child)
    return found


def _review_id_index() -> str:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname FROM pg_indexes WHERE tablename = 'literature_record'"
            " AND indexdef LIKE '%%(review_id, id)'"
        )
        return cursor.fetchone()[0]


def _only_query(run) -> str:
    with CaptureQueriesContext(connection) as queries:
        run()
    return queries.captured_queries


@pytest.mark.parametrize("where", [{}, {"after": 15_000}, {"before": 15_000}])
def test_a_records_page_is_read_from_the_review_index(crowded, where):
    first = crowded.records.order_by("id").values_list("id", flat=True).first()
    where = {k: first + v for k, v in where.items()}
    (query,) = _only_query(lambda: records_page(crowded, **where))
    used = _indexes(_plan(query["sql"]))
    assert _review_id_index() in used and "literature_record_pkey" not in used, sorted(used)


def test_the_api_records_page_is_read_from_the_review_index(owner, crowded):
    api = APIClient()
    api.force_authenticate(owner)
    queries = _only_query(lambda: api.get(reverse("api:record-list", args=[crowded.slug])))
    page = next(q["sql"] for q in queries if 'FROM "literature_record"' in q["sql"])
    used = _indexes(_plan(page))
    assert _review_id_index() in used and "literature_record_pkey" not in used, sorted(used)


def test_the_count_is_keyed_by_a_probe_of_the_review_index(crowded):
    queries = _only_query(lambda: records_count(crowded))
    used = _indexes(_plan(queries[0]["sql"]))
    assert _review_id_index() in used and "literature_record_pkey" not in used, sorted(used)
