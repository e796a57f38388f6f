"""The log's pages read along the (review, id) index from the newest event, on a database whose
log is long and shared by several reviews: no sequential scan of the log, no sort of it."""

import pytest
from django.db import connection

from reviewapp.audit.models import AuditEvent
from reviewapp.audit.selectors import PAGE_SIZE, audit_events
from tests.factories import review_make

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="query plans are PostgreSQL's (DATABASE_URL): SQLite has another planner",
    ),
]

TABLE = AuditEvent._meta.db_table


def _plan(queryset) -> str:
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN " + sql, params)
        return "\n".join(row[0] for row in cursor.fetchall())


def test_a_page_of_a_long_log_walks_the_review_index(owner):
    # With fresh statistics only: the log grows by a person's changes, so autovacuum keeps its
    # statistics (no bulk import leaves it unanalysed, as records can be).
    reviews = [review_make(owner=owner, title=f"Review {i}", slug=f"r{i}") for i in range(3)]
    with connection.cursor() as cursor:
        for review in reviews:
            cursor.execute(
                f"""INSERT INTO {TABLE} (review_id, actor_id, actor_label, created_at, action,
                    target_type, target_id, target_label, before, after, request_meta)
                SELECT %s, %s, 'olivia', now(), 'keywords.changed', 'review', '1', 'A review',
                    '{{}}', '{{"n": 1}}', '{{}}'
                FROM generate_series(1, 40000)""",
                [review.pk, owner.pk],
            )
        cursor.execute(f"ANALYZE {TABLE}")
    middle = reviews[1]
    for queryset in (
        audit_events(middle)[: PAGE_SIZE + 1],
        audit_events(middle).filter(id__lt=10**9)[: PAGE_SIZE + 1],
        audit_events(middle, {"who": str(owner.pk)})[: PAGE_SIZE + 1],
    ):
        plan = _plan(queryset)
        assert f"Seq Scan on {TABLE}" not in plan, plan
        assert "Sort" not in plan, plan
        assert "audit_review_" in plan, plan
