"""Counts kept by the writes that change them: what the dashboard, PRISMA and screening pages show.

Counting a 100,000-record review's records, states and votes on every page view took seconds
(issue 13), and a minute where statistics were missing. Instead each write that changes a count
adds its change to a `Tally` row, in its own transaction, as one statement. A page reads a few
hundred rows whatever the review's size.

What is kept (the `name` of a row):

- ``s:<stage>:<state>:<automated>:<shard>``: screening state rows in a state other than
  unscreened (a record without a row, or with an unscreened one, is unscreened: counted as the
  rest). ``automated`` is 1 when a stopping rule has excluded the record at the stage. The shard
  (record id modulo SHARDS) spreads simultaneous decisions over several rows, so twenty reviewers
  deciding at once rarely wait for each other's row lock.
- ``p:<stage>:<reviewer a>:<reviewer b>:<first value a>:<first value b>``: records both reviewers
  (a's id below b's) have a vote on, by their first votes still standing: the agreement table.
- ``src:s:<search id>`` and ``src:i:<import id>``: records each search or import added.
- ``m:<stage>:<reviewer>``: records the reviewer has a vote on at the stage ("screened by me",
  shown after every decision: counting the reviewer's votes there grew with their work, 1 ms
  for 1,500 votes and the biggest statement of a decision).

Concurrency: `tally_add` is one INSERT ... ON CONFLICT DO UPDATE adding to the rows, which the
database applies atomically; its rows are sorted by name so two transactions lock shared rows in
the same order and cannot deadlock each other. Writers call it after they have locked the rows
they change (a record's state row), at the end of their transaction, so the tally row locks are
held for the commit only.

The source of truth stays the rows: `tally_recount` recomputes any part from them (after
`stage_states_rebuild`, and in the migration that created the table), and the tests compare the
kept counts with a recount after random sequences of writes.
"""

from __future__ import annotations

from collections.abc import Mapping

from django.db import connection

SHARDS = 16
UNSCREENED = "unscreened"


def state_key(stage: str, state: str, automated: bool, record_id: int) -> str:
    return f"s:{stage}:{state}:{int(automated)}:{record_id % SHARDS}"


def pair_key(stage: str, a: int, b: int, value_a: str, value_b: str) -> str:
    """The agreement cell of reviewers a and b (a < b) for their first votes value_a, value_b."""
    return f"p:{stage}:{a}:{b}:{value_a}:{value_b}"


def member_key(stage: str, reviewer_id: int) -> str:
    """How many records the reviewer has a vote on at the stage."""
    return f"m:{stage}:{reviewer_id}"


def source_key(*, search_id: int | None = None, import_id: int | None = None) -> str:
    return f"src:s:{search_id}" if search_id is not None else f"src:i:{import_id}"


def _table() -> str:
    from reviewapp.core.models import Tally

    return Tally._meta.db_table


def tally_add(review_id: int, deltas: Mapping[str, int]) -> None:
    """Add each delta to its count, in one statement (nothing when every delta is 0)."""
    items = sorted((name, n) for name, n in deltas.items() if n)
    if not items:
        return
    table = _table()
    values = ", ".join(["(%s, %s, %s)"] * len(items))
    params: list = []
    for name, n in items:
        params += [review_id, name, n]
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (review_id, name, n) VALUES {values} "
            f"ON CONFLICT (review_id, name) DO UPDATE SET n = {table}.n + EXCLUDED.n",
            params,
        )


def tally_read(review_id: int) -> dict[str, int]:
    """Every count kept for a review (those at zero left out), in one query."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT name, n FROM {_table()} WHERE review_id = %s AND n <> 0", [review_id]
        )
        return dict(cursor.fetchall())


def _recount_sql(part: str, where: str) -> str:
    from reviewapp.literature.models import Record
    from reviewapp.screening.models import Decision, RecordStageState, RecordVote

    if part == "s":
        # Automation decisions are few and read once: a join, not a probe per state row.
        return f"""
            SELECT s.review_id,
                's:' || s.stage || ':' || s.state || ':'
                    || CASE WHEN a.record_id IS NULL THEN '0' ELSE '1' END
                    || ':' || CAST(s.record_id %% {SHARDS} AS TEXT),
                COUNT(*)
            FROM {RecordStageState._meta.db_table} s
            LEFT JOIN (
                SELECT DISTINCT record_id, stage FROM {Decision._meta.db_table}
                WHERE kind = 'automation'
            ) a ON a.record_id = s.record_id AND a.stage = s.stage
            WHERE s.state <> '{UNSCREENED}' {where.format(t="s")}
            GROUP BY 1, 2
        """
    if part == "p":
        vote = RecordVote._meta.db_table
        return f"""
            SELECT a.review_id,
                'p:' || a.stage || ':' || CAST(a.reviewer_id AS TEXT) || ':'
                    || CAST(b.reviewer_id AS TEXT) || ':' || a.first_value || ':' || b.first_value,
                COUNT(*)
            FROM {vote} a
            JOIN {vote} b
                ON b.record_id = a.record_id AND b.stage = a.stage AND b.reviewer_id > a.reviewer_id
            WHERE 1 = 1 {where.format(t="a")}
            GROUP BY 1, 2
        """
    if part == "m":
        return f"""
            SELECT v.review_id, 'm:' || v.stage || ':' || CAST(v.reviewer_id AS TEXT), COUNT(*)
            FROM {RecordVote._meta.db_table} v
            WHERE 1 = 1 {where.format(t="v")}
            GROUP BY 1, 2
        """
    return f"""
        SELECT r.review_id,
            CASE WHEN r.search_id IS NOT NULL THEN 'src:s:' || CAST(r.search_id AS TEXT)
                ELSE 'src:i:' || CAST(r.source_import_id AS TEXT) END,
            COUNT(*)
        FROM {Record._meta.db_table} r
        WHERE 1 = 1 {where.format(t="r")}
        GROUP BY 1, 2
    """


def tally_recount(
    review_id: int | None = None, *, stage: str | None = None, parts: str = "sp"
) -> None:
    """Recompute kept counts from the rows: of one review (or all), one stage (or both).

    parts: "s" the screening states, "p" the agreement cells, "m" the votes per reviewer, "src"
    the records per source.
    Call inside the transaction that rewrote the rows (stage_states_rebuild does), so no page
    sees the counts missing.
    """
    table = _table()
    params: dict = {}
    where = ""
    if review_id is not None:
        where += " AND {t}.review_id = %(review)s"
        params["review"] = review_id
    if stage is not None:
        where += " AND {t}.stage = %(stage)s"
        params["stage"] = stage
    todo = ["src"] if parts == "src" else list(parts)
    with connection.cursor() as cursor:
        for part in todo:
            prefix = "src:" if part == "src" else f"{part}:{stage + ':' if stage else ''}"
            delete = f"DELETE FROM {table} WHERE name LIKE %(prefix)s"
            if review_id is not None:
                delete += " AND review_id = %(review)s"
            cursor.execute(delete, {**params, "prefix": prefix + "%"})
            source_where = where.replace(" AND {t}.stage = %(stage)s", "")
            sql = _recount_sql(part, source_where if part == "src" else where)
            cursor.execute(f"INSERT INTO {table} (review_id, name, n) {sql}", params)
