"""The review's numbers (per stage and state, duplicates, not retrieved, agreement) from the kept
counts (reviewapp.core.tally), in a fixed number of queries whatever the review's size.

The kept counts cover every state row and vote; what a page shows leaves some out, and those are
read here from the rows concerned instead of counting everything: the state rows of active
duplicates, full-text rows of records no longer included at title/abstract (an adjudication
after full-text votes: rare) and reports not retrieved. Duplicates are not rare (a tenth to a
half of a search across databases), so on PostgreSQL their part is cached under the review's
duplicate version, which triggers keep (core.DuplicateVersion). `review_counts_recount` computes the same numbers from every row, for the tests that
check the kept counts against it.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field

from django.core.cache import cache
from django.db import connection

from reviewapp.core.models import DuplicateVersion, Tally
from reviewapp.core.tally import tally_read
from reviewapp.literature.models import DuplicateLink
from reviewapp.reviews.models import Review
from reviewapp.screening.constants import DecisionKind, RetrievalStatus, ScreenState, Stage
from reviewapp.screening.models import Decision, RecordStageState, Report

TA, FT = Stage.TITLE_ABSTRACT.value, Stage.FULL_TEXT.value
UNSCREENED, INCLUDED = ScreenState.UNSCREENED.value, ScreenState.INCLUDED.value
# A report whose record has no full-text state row (the state code always makes one on
# inclusion, so this marks a row made behind its back).
NO_ROW = "-"


@dataclass(frozen=True)
class StageCounts:
    stage: str
    label: str
    eligible: int
    unscreened: int
    awaiting: int
    conflict: int
    maybe: int
    included: int
    excluded: int
    # Full text: records nobody has voted on whose report is marked not retrieved. They cannot
    # be screened, so they are neither "not screened" nor "remaining" (PRISMA: reports not
    # retrieved).
    not_retrieved: int = 0

    @property
    def screened(self) -> int:
        return self.eligible - self.unscreened - self.not_retrieved

    @property
    def percent_done(self) -> int:
        screenable = self.eligible - self.not_retrieved
        if not screenable:
            return 0
        return round(100 * (self.included + self.excluded) / screenable)

    @property
    def remaining(self) -> int:
        """Records still needing a vote from someone: not screened, or waiting for a second."""
        return self.unscreened + self.awaiting


@dataclass(frozen=True)
class ReviewCounts:
    """Everything the dashboard, the PRISMA page and the screening pages count.

    states[stage]: (state, automated) -> records, for the records a stage screens (not active
    duplicates; at full text, included at title/abstract), unscreened ones left out.
    not_retrieved_in_ft: full-text state (NO_ROW without a row) -> records among those screened
    at full text whose report is marked not retrieved. reports_not_retrieved: every such report.
    pairs[stage][(a, b)]: (first vote of a, first vote of b) -> records both have a vote on.
    """

    sources: dict[tuple[str, int], int]
    duplicates: int
    states: dict[str, Counter]
    not_retrieved_in_ft: Counter
    reports_not_retrieved: int
    pairs: dict[str, dict[tuple[int, int], Counter]] = field(default_factory=dict)

    @property
    def records(self) -> int:
        return sum(self.sources.values())

    def in_state(self, stage: str, state: str, *, automated: bool | None = None) -> int:
        return sum(
            n
            for (s, auto), n in self.states[stage].items()
            if s == state and (automated is None or auto == automated)
        )

    def stage(self, stage: str) -> StageCounts:
        if stage == FT:
            eligible = self.in_state(TA, INCLUDED)
            not_retrieved = self.not_retrieved_in_ft[UNSCREENED]
        else:
            eligible = self.records - self.duplicates
            not_retrieved = 0
        decided = sum(self.states[stage].values())
        return StageCounts(
            stage=stage,
            label=Stage(stage).label,
            eligible=eligible,
            not_retrieved=not_retrieved,
            unscreened=eligible - decided - not_retrieved,
            awaiting=self.in_state(stage, ScreenState.AWAITING),
            conflict=self.in_state(stage, ScreenState.CONFLICT),
            maybe=self.in_state(stage, ScreenState.MAYBE),
            included=self.in_state(stage, INCLUDED),
            excluded=self.in_state(stage, ScreenState.EXCLUDED),
        )

    def pending(self, stage: str) -> int:
        """Records still in screening at a stage (not screened, awaiting, conflict, maybe); at
        full text, those whose report is not retrieved are not waiting for anyone."""
        counts = self.stage(stage)
        waiting = counts.eligible - counts.included - counts.excluded
        if stage == FT:
            settled = {ScreenState.INCLUDED.value, ScreenState.EXCLUDED.value}
            waiting -= sum(n for s, n in self.not_retrieved_in_ft.items() if s not in settled)
        return waiting


# The corrections to the kept counts but the duplicates' part (below), each read from the few
# rows concerned (see the module's docstring), in one statement. Rows: (part, stage, state,
# automated, n). Every part starts from rows of this review found through an index (its
# full-text rows that have a vote, its reports not retrieved), so its cost follows those few
# rows, not the review's size, with or without statistics.
_REST = """
SELECT 'off', q.stage, q.state, q.auto, COUNT(*) FROM (
    SELECT f.stage AS stage, f.state AS state,
        {automated_f} AS auto
    FROM {state} f
    LEFT JOIN {state} t ON t.record_id = f.record_id AND t.stage = 'ta'
    WHERE f.review_id = %(review)s AND f.stage = 'ft' AND f.state IN ({decided})
        AND (t.state IS NULL OR t.state <> 'included')
        AND {not_duplicate_f}
) q GROUP BY q.stage, q.state, q.auto
UNION ALL
SELECT 'nr', q.in_ft, q.state, 0, COUNT(*) FROM (
    SELECT COALESCE(f.state, '-') AS state,
        CASE WHEN t.state = 'included' AND {not_duplicate_r} THEN 'in' ELSE 'out' END AS in_ft
    FROM {report} r
    LEFT JOIN {state} t ON t.record_id = r.record_id AND t.stage = 'ta'
    LEFT JOIN {state} f ON f.record_id = r.record_id AND f.stage = 'ft'
    WHERE r.review_id = %(review)s AND r.retrieval_status = 'not_retrieved'
) q GROUP BY q.in_ft, q.state
"""
# The duplicates' part: it reads every active link of the review (one probe of the state rows
# each), which grows with the links (100,000 links: about 150 ms), so on PostgreSQL its rows are
# cached under the review's duplicate version (core.DuplicateVersion, kept by triggers).
_DUPLICATES = """
SELECT 'dup', q.stage, q.state, q.auto, COUNT(*) FROM (
    SELECT s.stage AS stage, s.state AS state,
        {automated_s} AS auto
    FROM {link} l
    {duplicate_states}
    WHERE l.review_id = %(review)s AND l.undone_at IS NULL
) q GROUP BY q.stage, q.state, q.auto
UNION ALL
SELECT 'links', '', '', 0, COUNT(*) FROM {link} l
    WHERE l.review_id = %(review)s AND l.undone_at IS NULL
"""
_CORRECTIONS = _DUPLICATES + "UNION ALL" + _REST
# 1 when the state row `{alias}` comes from an automated exclusion, else 0.
_AUTOMATED = """CASE WHEN EXISTS (
            SELECT 1 FROM {decision} d
            WHERE d.review_id = %(review)s AND d.stage = {alias}.stage AND d.kind = 'automation'
                AND d.record_id = {alias}.record_id
        ) THEN 1 ELSE 0 END"""
DUPLICATE_PARTS = ("dup", "links")
# A bound on how long a cached duplicates' part lives: a decision on a record that becomes a
# duplicate in a concurrent transaction may miss its version (its trigger looked before the
# link was committed); such a count heals within this time.
DUPLICATES_CACHED_FOR = 600

# The state rows of each duplicate, looked up one link at a time: on PostgreSQL a LATERAL
# subquery behind OFFSET 0 (which the planner may not flatten into a hash join over every state
# row of the database, as it did on a big database with few statistics); SQLite, which has no
# LATERAL, plans the plain join that way anyway.
_DUPLICATE_STATES = {
    "postgresql": """CROSS JOIN LATERAL (
        SELECT s.record_id, s.stage, s.state FROM {state} s
        WHERE s.record_id = l.duplicate_id AND s.state <> 'unscreened' OFFSET 0
    ) s""",
    "other": """JOIN {state} s ON s.record_id = l.duplicate_id AND s.state <> 'unscreened'""",
}
DECIDED = ("awaiting", "conflict", "maybe", "included", "excluded")
# "This record is not an active duplicate", as a scalar subquery: the planner probes the link
# index once per row instead of turning a NOT EXISTS into a join, which without statistics it
# did by reading every link of the review once per row.
NOT_DUPLICATE = """NOT COALESCE((
    SELECT TRUE FROM {link} l WHERE l.duplicate_id = {record_id} AND l.undone_at IS NULL
    LIMIT 1
), FALSE)"""


def not_duplicate(record_id: str) -> str:
    """SQL true when the record whose id is the column `record_id` is not an active duplicate."""
    return NOT_DUPLICATE.format(link=DuplicateLink._meta.db_table, record_id=record_id)


def _sql(template: str) -> str:
    tables = {
        "decision": Decision._meta.db_table,
        "link": DuplicateLink._meta.db_table,
        "state": RecordStageState._meta.db_table,
        "report": Report._meta.db_table,
    }
    lateral = _DUPLICATE_STATES.get(connection.vendor, _DUPLICATE_STATES["other"])
    return template.format(
        duplicate_states=lateral.format(**tables),
        automated_f=_AUTOMATED.format(alias="f", **tables),
        automated_s=_AUTOMATED.format(alias="s", **tables),
        not_duplicate_f=not_duplicate("f.record_id"),
        not_duplicate_r=not_duplicate("r.record_id"),
        decided=", ".join(f"'{state}'" for state in DECIDED),
        **tables,
    )


def _parse_source(name: str) -> tuple[str, int] | None:
    # "src:s:<id>" or "src:i:<id>"
    _, kind, pk = name.split(":")
    return ("search" if kind == "s" else "import", int(pk))


_KEPT_AND_VERSION = """
SELECT name, n FROM {tally} WHERE review_id = %(review)s AND n <> 0
UNION ALL
SELECT '', MAX(id) FROM {version} WHERE review_id = %(review)s
"""


def review_counts(review: Review) -> ReviewCounts:
    """The review's numbers from the kept counts and their corrections: two queries.

    On PostgreSQL the duplicates' part of the corrections comes from the cache while the
    review's duplicate version stands (only the rest is read); elsewhere it is read every time.
    """
    params = {"review": review.pk}
    if connection.vendor != "postgresql":
        kept = tally_read(review.pk)
        with connection.cursor() as cursor:
            cursor.execute(_sql(_CORRECTIONS), params)
            return _assemble(kept, cursor.fetchall())
    with connection.cursor() as cursor:
        cursor.execute(
            _KEPT_AND_VERSION.format(
                tally=Tally._meta.db_table, version=DuplicateVersion._meta.db_table
            ),
            params,
        )
        kept = dict(cursor.fetchall())
        version = kept.pop("", None)
        # created_at too: a review id can be reused (tests, a restored database), its rows not.
        key = f"counts:duplicates:{review.pk}:{review.created_at.timestamp()}:{version}"
        cached = cache.get(key) if version is not None else None
        if cached is not None:
            cursor.execute(_sql(_REST), params)
            return _assemble(kept, [*cached, *cursor.fetchall()])
        cursor.execute(_sql(_CORRECTIONS), params)
        corrections = cursor.fetchall()
    if version is not None:
        duplicates = [row for row in corrections if row[0] in DUPLICATE_PARTS]
        cache.set(key, duplicates, DUPLICATES_CACHED_FOR)
    return _assemble(kept, corrections)


def _assemble(kept: dict[str, int], corrections: list) -> ReviewCounts:
    sources: dict[tuple[str, int], int] = {}
    states: dict[str, Counter] = {TA: Counter(), FT: Counter()}
    pairs: dict[str, dict[tuple[int, int], Counter]] = {TA: defaultdict(Counter), FT: {}}
    pairs[FT] = defaultdict(Counter)
    for name, n in kept.items():
        if name.startswith("s:"):
            _, stage, state, auto, _shard = name.split(":")
            states[stage][(state, auto == "1")] += n
        elif name.startswith("p:"):
            _, stage, a, b, value_a, value_b = name.split(":")
            pairs[stage][(int(a), int(b))][(value_a, value_b)] += n
        elif name.startswith("src:"):
            key = _parse_source(name)
            if key is not None:
                sources[key] = sources.get(key, 0) + n
    duplicates = 0
    not_retrieved_in_ft: Counter = Counter()
    reports_not_retrieved = 0
    for part, stage, state, auto, n in corrections:
        if part in ("dup", "off"):
            states[stage][(state, bool(auto))] -= n
        elif part == "links":
            duplicates = n
        elif part == "nr":
            reports_not_retrieved += n
            if stage == "in":
                not_retrieved_in_ft[state] += n
    for stage in states:
        states[stage] = Counter({k: n for k, n in states[stage].items() if n})
    return ReviewCounts(
        sources=sources,
        duplicates=duplicates,
        states=states,
        not_retrieved_in_ft=not_retrieved_in_ft,
        reports_not_retrieved=reports_not_retrieved,
        pairs={stage: dict(cells) for stage, cells in pairs.items()},
    )


def review_counts_recount(review: Review) -> ReviewCounts:
    """The same numbers counted from every row (slow on a big review): what the kept counts
    must always equal. For the tests, and for checking a database by hand."""
    from reviewapp.literature.models import Record
    from reviewapp.screening.models import RecordVote

    sources: Counter = Counter()
    for search_id, import_id in Record.objects.filter(review=review).values_list(
        "search_id", "source_import_id"
    ):
        sources[("search", search_id) if search_id else ("import", import_id)] += 1
    duplicate_ids = set(
        DuplicateLink.objects.filter(review=review, undone_at__isnull=True).values_list(
            "duplicate_id", flat=True
        )
    )
    automated = {
        (rid, stage)
        for rid, stage in Decision.objects.filter(
            review=review, kind=DecisionKind.AUTOMATION
        ).values_list("record_id", "stage")
    }
    rows = {
        (rid, stage): state
        for rid, stage, state in RecordStageState.objects.filter(review=review).values_list(
            "record_id", "stage", "state"
        )
    }
    states: dict[str, Counter] = {TA: Counter(), FT: Counter()}
    for (rid, stage), state in rows.items():
        if state == UNSCREENED or rid in duplicate_ids:
            continue
        if stage == FT and rows.get((rid, TA)) != INCLUDED:
            continue
        states[stage][(state, (rid, stage) in automated)] += 1
    not_retrieved_in_ft: Counter = Counter()
    not_retrieved = list(
        Report.objects.filter(
            review=review, retrieval_status=RetrievalStatus.NOT_RETRIEVED
        ).values_list("record_id", flat=True)
    )
    for rid in not_retrieved:
        if rid not in duplicate_ids and rows.get((rid, TA)) == INCLUDED:
            not_retrieved_in_ft[rows.get((rid, FT), NO_ROW)] += 1
    votes: dict[tuple[int, str], dict[int, str]] = defaultdict(dict)
    for rid, stage, reviewer, first in RecordVote.objects.filter(review=review).values_list(
        "record_id", "stage", "reviewer_id", "first_value"
    ):
        votes[(rid, stage)][reviewer] = first
    pairs: dict[str, dict[tuple[int, int], Counter]] = {TA: defaultdict(Counter), FT: {}}
    pairs[FT] = defaultdict(Counter)
    for (_, stage), firsts in votes.items():
        reviewers = sorted(firsts)
        for i, a in enumerate(reviewers):
            for b in reviewers[i + 1 :]:
                pairs[stage][(a, b)][(firsts[a], firsts[b])] += 1
    return ReviewCounts(
        sources=dict(sources),
        duplicates=len(duplicate_ids),
        states=states,
        not_retrieved_in_ft=not_retrieved_in_ft,
        reports_not_retrieved=len(not_retrieved),
        pairs={stage: dict(cells) for stage, cells in pairs.items()},
    )
