"""Every query of the next-record and decision requests uses the index it was made for, on a
database holding many reviews, with fresh statistics and with none (issue 13).

The rows are made with bulk SQL: 105,000 records in five reviews (the screened one in the
middle of the id range), their state rows, and two votes on half the records of the others. The
requests are then made through the views and each statement they sent is EXPLAINed (not run
again): a statement on a big table must be one of the known hot queries and use its index, and
no plan may scan a big table sequentially. Statistics missing (as after a bulk import on an
installation whose autovacuum is off or slow) is checked first, then again after ANALYZE; both
are undone with the test's transaction.
"""

import re
import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from reviewapp.literature.models import Import
from reviewapp.reviews.constants import Role
from reviewapp.screening.constants import QueueOrder
from reviewapp.screening.models import StageSettings
from tests.factories import MembershipFactory, UserFactory, review_make

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="query plans are PostgreSQL's (DATABASE_URL): SQLite has another planner",
    ),
]

HX = {"HTTP_HX_REQUEST": "true"}
BIG = (
    "literature_record",
    "screening_recordstagestate",
    "screening_recordvote",
    "screening_decision",
)
# Records per review, in the order they are imported: the screened one sits between others.
SIZES = [25_000, 20_000, 35_000, 15_000, 10_000]
SCREENED = 2
SEQ_SCAN = re.compile(r"Seq Scan on (" + "|".join(BIG) + r")\b")
# Every active duplicate link of the database read for one record (an index scan with no
# condition on the record): what the merged-cluster subqueries did without statistics.
EVERY_ACTIVE_LINK = re.compile(r"Index Scan on duplicate_one_active_link[^\n]*\n(?!\s+Index Cond)")


def _indexes(table: str, *, leading: str | None = None, columns: list[str] | None = None) -> str:
    """A pattern matching the names of the table's indexes that start with `leading`, or are on
    exactly `columns`: where PostgreSQL has several equally good ones, any of them will do."""
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, table)
    names = [
        name
        for name, c in constraints.items()
        if (c["index"] or c["primary_key"] or c["unique"])
        and (c["columns"][:1] == [leading] or c["columns"] == columns)
    ]
    assert names, f"no index on {table} for {leading or columns}"
    return "|".join(re.escape(name) for name in names)


def _hot_queries() -> list[tuple[str, str]]:
    """(a pattern of each hot statement on a big table, the indexes it may use).

    A statement about one record must reach it through an index starting with the record's id
    (never the review's rows); a statement about one reviewer's leases through one starting with
    the lease holder; a queue through the queue index of its order, which hands out records in
    that order without sorting the review's rows.
    """
    state, vote = "screening_recordstagestate", "screening_recordvote"
    return [
        # The decide view's record (by primary key; its review checked in the same lookup),
        # read in plain SQL by the decision service.
        (
            r"FROM literature_record WHERE id = \d+ AND review_id = \d+",
            _indexes("literature_record", leading="id")
            + "|"
            + _indexes("literature_record", columns=["review_id", "id"]),
        ),
        # The records shown (the panels' statement compiled once per process takes an array).
        (
            r'"literature_record"."id" (IN \(|= ANY\()',
            _indexes("literature_record", leading="id"),
        ),
        # A repeated client token (with the record's duplicate check in the same statement).
        (
            r'"screening_decision"."client_token" =|FROM screening_decision d WHERE '
            r"d.reviewer_id = \d+ AND d.client_token =",
            "decision_client_token_once",
        ),
        # The record's state row, locked.
        (
            r'FROM "screening_recordstagestate" WHERE \(.*"record_id" = \d+',
            _indexes(state, leading="record_id"),
        ),
        # The record's events, read under the lock (plain SQL on PostgreSQL).
        (
            r'FROM "screening_decision" WHERE \("screening_decision"."record_id" = \d+'
            r"|FROM screening_decision WHERE record_id = \d+ AND stage =",
            _indexes("screening_decision", leading="record_id"),
        ),
        # The record's current votes, rewritten from its events.
        (
            r'FROM "screening_recordvote" WHERE \(.*"record_id" = \d+',
            _indexes(vote, leading="record_id"),
        ),
        # The state row written back.
        (
            r'UPDATE "screening_recordstagestate" SET .* WHERE .*"id" = \d+',
            _indexes(state, leading="id"),
        ),
        # Records leased to me: a lease index, whatever the statistics.
        (
            r"WHERE lease_reviewer_id = \d+ AND lease_until >",
            _indexes(state, leading="lease_reviewer_id"),
        ),
        # Leasing the next records: the queue index of the order, probing my votes per candidate.
        (
            r"UPDATE screening_recordstagestate SET lease_reviewer_id[\s\S]*ORDER BY s.record_id",
            "rss_queue_file",
        ),
        (
            r"UPDATE screening_recordstagestate SET lease_reviewer_id[\s\S]*ORDER BY s.queue_key",
            "rss_queue_random",
        ),
        # The panels' state, votes, tags and notes.
        (r"SELECT 0, s.record_id, s.state", _indexes(state, leading="record_id")),
        # My count (kept in core_tally, a few hundred rows a review) and the record I decided
        # last, through my votes' index.
        (r"SELECT\s+\(SELECT COALESCE\(SUM\(t.n\), 0\) FROM core_tally", "rv_mine"),
    ]


def _fill() -> tuple:
    """Five reviews' records with bulk SQL; returns (the screened review, its two reviewers)."""
    owner = UserFactory(username="bulk-owner")
    # The screened review's reviewers decided in the other reviews too: tens of thousands of
    # events each, so that reading one of theirs by reviewer alone would cost (it must not).
    others = [UserFactory(username=name) for name in ("rita", "ravi")]
    screened = None
    with connection.cursor() as cursor:
        for i, size in enumerate(SIZES):
            review = review_make(owner=owner, slug=f"plans-{i}")
            imported = Import.objects.create(review=review, file_name="bulk.ris", format="ris")
            cursor.execute(
                """
                INSERT INTO literature_record (review_id, source_import_id, source_position, pmid,
                    doi, pmcid, title, title_key, abstract, abstract_sections, authors, journal,
                    year, volume, issue, pages, keywords, mesh_terms, publication_types, language,
                    raw, created_at, number)
                SELECT %s, %s, g, (10000000 + g)::text, '', '', 'Record ' || g, 'record ' || g,
                    'An abstract.', '[]', '["Lee K"]', 'J Bulk', 2000 + g %% 25, '', '', '', '[]',
                    '[]', '[]', '', '{}', now(), g
                FROM generate_series(1, %s) g
                """,
                [review.pk, imported.pk, size],
            )
            cursor.execute(
                """
                INSERT INTO screening_recordstagestate
                    (review_id, record_id, stage, state, n_votes, queue_key, updated_at)
                SELECT review_id, id, 'ta', 'unscreened', 0, (id * 2654435761) %% 2147483647, now()
                FROM literature_record WHERE review_id = %s
                """,
                [review.pk],
            )
            if i == SCREENED:
                screened = review
                continue
            # Half of the other reviews' records decided by the two reviewers: their events,
            # votes and states.
            cursor.execute(
                """
                INSERT INTO screening_decision (review_id, record_id, stage, reviewer_id, kind,
                    value, note, details, created_at)
                SELECT review_id, id, 'ta', u, 'vote', 'exclude', '', '{}', now()
                FROM literature_record, unnest(ARRAY[%s, %s]) u
                WHERE review_id = %s AND id %% 2 = 0
                """,
                [others[0].pk, others[1].pk, review.pk],
            )
            cursor.execute(
                """
                INSERT INTO screening_recordvote (review_id, record_id, stage, reviewer_id, value,
                    first_value, decided_at)
                SELECT review_id, record_id, stage, reviewer_id, value, value, created_at
                FROM screening_decision WHERE review_id = %s
                """,
                [review.pk],
            )
            cursor.execute(
                "UPDATE screening_recordstagestate SET state = 'excluded', n_votes = 2 "
                "WHERE review_id = %s AND record_id %% 2 = 0",
                [review.pk],
            )
        # Every record has its state row: the notes of new records the trigger wrote are done.
        cursor.execute("DELETE FROM screening_newrecords")
    for user in others:
        MembershipFactory(review=screened, user=user, role=Role.REVIEWER)
    return screened, others[0], others[1]


def _statistics_drop() -> None:
    """No planner statistics on the big tables, as never analyzed (this transaction only).

    Tables of a fresh test database have none; if autovacuum analyzed them during an earlier
    test, that is forgotten here (which takes the superuser the test database is made by).
    """
    tables = list(BIG)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stats WHERE schemaname = current_schema() "
            "AND tablename = ANY(%s)",
            [tables],
        )
        if cursor.fetchone()[0]:
            cursor.execute(
                "DELETE FROM pg_statistic WHERE starelid = ANY(%s::regclass[])", [tables]
            )
        cursor.execute(
            "SELECT count(*) FROM pg_class WHERE oid = ANY(%s::regclass[]) AND reltuples >= 0",
            [tables],
        )
        if cursor.fetchone()[0]:
            cursor.execute(
                "UPDATE pg_class SET reltuples = -1 WHERE oid = ANY(%s::regclass[])", [tables]
            )


def _requests(client, review, rita, ravi) -> list[str]:
    """A next record and a decision by each reviewer (the second one's is an awaiting record's
    second vote), and a next record in random order for a reviewer holding no lease; the SQL they
    sent."""
    sent: list[str] = []
    for user in (rita, ravi, rita):
        client.force_login(user)
        screen = reverse("screening:screen", args=[review.slug, "ta"])
        with CaptureQueriesContext(connection) as queries:
            html = client.get(screen, **HX).content.decode()
        sent += [q["sql"] for q in queries.captured_queries]
        shown = re.findall(r'data-record-id="(\d+)"', html)
        current = shown[0]
        upcoming = next((rid for rid in shown if rid != current), None)
        decide = reverse("screening:screen-decide", args=[review.slug, "ta", current])
        with CaptureQueriesContext(connection) as queries:
            response = client.post(
                decide,
                {"value": "exclude", "client_token": str(uuid.uuid4())},
                HTTP_X_SCREEN_SHOWING=upcoming or "",
                **HX,
            )
        assert response.status_code == 200
        sent += [q["sql"] for q in queries.captured_queries]
    StageSettings.objects.filter(review=review, stage="ta").update(queue_order=QueueOrder.RANDOM)
    client.force_login(
        MembershipFactory(review=review, user=UserFactory(), role=Role.REVIEWER).user
    )
    with CaptureQueriesContext(connection) as queries:
        client.get(reverse("screening:screen", args=[review.slug, "ta"]), **HX)
    sent += [q["sql"] for q in queries.captured_queries]
    StageSettings.objects.filter(review=review, stage="ta").update(
        queue_order=QueueOrder.FILE_ORDER
    )
    return sent


def _plans_wrong(sent: list[str]) -> list[str]:
    hot = _hot_queries()
    wrong = []
    used = set()
    for sql in sent:
        if not re.search(r"\b(" + "|".join(BIG) + r")\b", sql) or sql.startswith("INSERT"):
            continue
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN (COSTS OFF) " + sql)
            plan = "\n".join(line for (line,) in cursor.fetchall())
        if SEQ_SCAN.search(plan):
            wrong.append(f"sequential scan of a big table:\n{sql}\n{plan}")
            continue
        if EVERY_ACTIVE_LINK.search(plan + "\n"):
            wrong.append(f"every active duplicate link read:\n{sql}\n{plan}")
            continue
        matched = [(i, index) for i, (pattern, index) in enumerate(hot) if re.search(pattern, sql)]
        if not matched:
            wrong.append(f"a query on a big table that is not a known hot query:\n{sql}\n{plan}")
            continue
        i, index = matched[0]
        used.add(i)
        if not re.search(index, plan):
            wrong.append(f"not through {index}:\n{sql}\n{plan}")
    missing = [hot[i][0] for i in range(len(hot)) if i not in used]
    if missing:
        wrong.append(f"hot queries the requests did not send (update the list): {missing}")
    return wrong


def test_hot_screening_queries_use_their_indexes_with_statistics_missing_or_fresh(client):
    review, rita, ravi = _fill()
    _statistics_drop()
    wrong = _plans_wrong(_requests(client, review, rita, ravi))
    assert not wrong, "\n\n".join(wrong)

    with connection.cursor() as cursor:
        for table in BIG:
            cursor.execute(f"ANALYZE {table}")
    wrong = _plans_wrong(_requests(client, review, rita, ravi))
    assert not wrong, "\n\n".join(wrong)


def test_the_prisma_flow_reads_a_review_s_own_automated_exclusions_with_statistics_missing():
    # The PRISMA page's full-text rows (reporting.selectors): the stopping rule's exclusions are
    # read within the review, not by scanning every review's settling decisions per record.
    from reviewapp.reporting.selectors import REASON_STOPPING_RULE, full_text_rows_sql

    review, _, _ = _fill()
    _statistics_drop()
    with connection.cursor() as cursor:
        cursor.execute(
            "EXPLAIN (COSTS OFF) " + full_text_rows_sql(),
            {"review": review.pk, "stopping_rule": REASON_STOPPING_RULE},
        )
        lines = [line for (line,) in cursor.fetchall()]
    plan = "\n".join(lines)
    assert not SEQ_SCAN.search(plan), plan
    for i, line in enumerate(lines):
        if "decision_settling" in line:
            condition = lines[i + 1]
            assert "Index Cond" in condition and "review_id" in condition, plan
