"""Who screens what next: the queue of one reviewer at one stage, with pluggable orders.

The queue is, in this order:
1. records already handed to this reviewer (leased) and not yet decided, so a prefetched record
   stays the next one;
2. records another reviewer has voted on and that wait for this reviewer's vote (dual screening
   never leaves records half-done);
3. records of a declared random sample (stopping.py: a stopping rule that screens a random sample
   of the records left) nobody has voted on, in the sample's order;
4. records nobody has voted on, in the order of the stage's QueueOrder strategy.

Handing a record out leases it to the reviewer for LEASE, so twenty reviewers working at once are
not all given the same record. A strategy is any object with `pick(candidates, *, review, stage,
user, limit) -> list[int]` returning record ids; register new ones (e.g. the active-learning
"ranked" order) with `strategy_register`. A strategy that can say its order in SQL may also offer
`sql_ranges(*, review, user)`, a list of (condition on the state row `s`, its parameters, sort
key "record_id" or "queue_key"): the queue then leases straight from that order, one statement per
range, without building querysets (the built-in orders do; "next record" is asked for on every
record a reviewer sees).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from django.db import connection
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from reviewapp.literature.models import DuplicateLink
from reviewapp.reviews.models import Review
from reviewapp.screening.constants import QueueOrder, RetrievalStatus, ScreenState, Stage
from reviewapp.screening.models import RecordStageState, RecordVote, Report, StageSettings
from reviewapp.screening.state import state_rows_sync

LEASE = timedelta(minutes=15)


class QueueStrategy(Protocol):
    def pick(
        self,
        candidates: QuerySet[RecordStageState],
        *,
        review: Review,
        stage: str,
        user,
        limit: int,
    ) -> list[int]: ...


class FileOrder:
    """Records in the order they were imported (record id)."""

    def pick(self, candidates, *, review, stage, user, limit):
        return list(candidates.order_by("record_id").values_list("record_id", flat=True)[:limit])

    def sql_ranges(self, *, review, user) -> list[tuple[str, dict, str]]:
        return [("", {}, "record_id")]


class RandomPerReviewer:
    """A fixed random order per reviewer.

    Every record has a fixed pseudo-random key; each reviewer starts at their own point in that
    order and wraps around. Both steps use an index, so it stays fast on 100,000 records.
    """

    def pick(self, candidates, *, review, stage, user, limit):
        start = self._start(review, user)
        ordered = candidates.order_by("queue_key", "record_id").values_list("record_id", flat=True)
        ids = list(ordered.filter(queue_key__gte=start)[:limit])
        if len(ids) < limit:
            ids += list(ordered.filter(queue_key__lt=start)[: limit - len(ids)])
        return ids

    def sql_ranges(self, *, review, user) -> list[tuple[str, dict, str]]:
        start = self._start(review, user)
        return [
            ("AND s.queue_key >= %(start)s", {"start": start}, "queue_key"),
            ("AND s.queue_key < %(start)s", {"start": start}, "queue_key"),
        ]

    @staticmethod
    def _start(review, user) -> int:
        return (user.pk * 2654435761 + review.pk * 40503) % 2_147_483_647


STRATEGIES: dict[str, QueueStrategy] = {
    QueueOrder.FILE_ORDER: FileOrder(),
    QueueOrder.RANDOM: RandomPerReviewer(),
}


def strategy_register(name: str, strategy: QueueStrategy) -> None:
    """Plug in a queue order (its name must also be a QueueOrder choice to be selectable)."""
    STRATEGIES[name] = strategy


def strategy_get(name: str) -> QueueStrategy:
    # An order whose code is not loaded (e.g. a removed plug-in) falls back to file order
    # rather than leaving reviewers without a queue.
    return STRATEGIES.get(name, STRATEGIES[QueueOrder.FILE_ORDER])


def queue_candidates(review: Review, stage: str, user) -> QuerySet[RecordStageState]:
    """State rows this reviewer could be handed: open, not a duplicate, not voted on by them."""
    active_duplicate = DuplicateLink.objects.filter(
        duplicate_id=OuterRef("record_id"), undone_at__isnull=True
    )
    mine = RecordVote.objects.filter(record_id=OuterRef("record_id"), stage=stage, reviewer=user)
    rows = RecordStageState.objects.filter(
        review=review, stage=stage, state__in=[ScreenState.UNSCREENED, ScreenState.AWAITING]
    ).exclude(Exists(active_duplicate))
    if stage == Stage.FULL_TEXT:
        included = RecordStageState.objects.filter(
            record_id=OuterRef("record_id"),
            stage=Stage.TITLE_ABSTRACT,
            state=ScreenState.INCLUDED,
        )
        not_retrieved = Report.objects.filter(
            record_id=OuterRef("record_id"), retrieval_status=RetrievalStatus.NOT_RETRIEVED
        )
        rows = rows.filter(Exists(included)).exclude(Exists(not_retrieved))
    return rows.exclude(Exists(mine))


def queue_next(
    review: Review, stage: str, user, *, limit: int = 2, settings: StageSettings | None = None
) -> list[int]:
    """The ids of the next `limit` records for this reviewer, leased to them.

    Writes: leases, and state rows for records imported since the last call.
    """
    if settings is None:
        settings = StageSettings.objects.get(review=review, stage=stage)
    # Records added since the last look get their rows first (see state_rows_sync: the settings
    # say whether there are any, so this usually costs no query). Full-text rows need no such
    # step: an inclusion at title/abstract writes its full-text row in the same transaction.
    state_rows_sync(review, ta_settings=settings)
    return _queue_pick(review, stage, user, settings, limit)


# The queue is asked for on every record a reviewer sees, so it is a few hand-written statements
# rather than ORM querysets (building those cost more than PostgreSQL took to answer them).
# `{open}` is what queue_candidates says in SQL: not an active duplicate, no vote of mine, and at
# full text included at title/abstract with a report not marked missing.
_OPEN = """
    s.review_id = %(review)s AND s.stage = %(stage)s
    AND NOT EXISTS (SELECT 1 FROM {dup} d WHERE d.duplicate_id = s.record_id AND d.undone_at IS NULL)
    AND NOT EXISTS (
        SELECT 1 FROM {vote} v
        WHERE v.record_id = s.record_id AND v.stage = s.stage AND v.reviewer_id = %(user)s
        {per_row}
    )
"""
_OPEN_FT = """
    AND EXISTS (
        SELECT 1 FROM {state} i
        WHERE i.record_id = s.record_id AND i.stage = %(ta)s AND i.state = %(included)s
    )
    AND NOT EXISTS (
        SELECT 1 FROM {report} r WHERE r.record_id = s.record_id AND r.retrieval_status = %(missing)s
    )
"""
# Records leased to me and not decided: the prefetched record stays next. My leases are read
# first, on their own ({barrier}: OFFSET 0 on PostgreSQL keeps it from merging the two levels),
# so they come from the lease index, a handful of rows: merged, a planner without statistics
# scanned the review's 100,000 open rows through the queue index instead (70-250 ms), filtering
# on the lease.
_MINE = """
SELECT s.record_id FROM (
    SELECT * FROM {state}
    WHERE lease_reviewer_id = %(user)s AND lease_until > %(now)s
    {barrier}
) s
WHERE s.state IN (%(unscreened)s, %(awaiting)s) AND {open}
ORDER BY s.lease_until, s.record_id
LIMIT %(limit)s
"""
# Lease free records in one statement. SKIP LOCKED (PostgreSQL): rows another reviewer is leasing,
# or a decision is being written to, at this instant are passed over, not waited for; a row
# leased since this statement's snapshot is re-checked by PostgreSQL and left out.
_CLAIM = """
UPDATE {state} SET lease_reviewer_id = %(user)s, lease_until = %(until)s
WHERE id IN (
    SELECT s.id FROM {state} s
    WHERE s.state = %(wanted_state)s AND (s.lease_until IS NULL OR s.lease_until <= %(now)s)
        AND {open} {extra}
    ORDER BY {order}
    LIMIT %(limit)s {skip_locked}
)
RETURNING record_id, queue_key
"""


def _sql(template: str, stage: str, **parts: str) -> str:
    tables = {
        "state": RecordStageState._meta.db_table,
        "vote": RecordVote._meta.db_table,
        "dup": DuplicateLink._meta.db_table,
        "report": Report._meta.db_table,
    }
    open_ = _OPEN + (_OPEN_FT if stage == Stage.FULL_TEXT else "")
    skip = (
        " FOR UPDATE SKIP LOCKED" if connection.features.has_select_for_update_skip_locked else ""
    )
    # OFFSET 0 keeps PostgreSQL from turning "no vote of mine" into an anti-join, so it stays a
    # probe of the (record, stage, reviewer) unique index per candidate. As a join its plan
    # follows the vote table's statistics, and statistics taken while that table was small (a
    # new review, before autovacuum's next analyze) made it scan all my votes per candidate:
    # 78 ms instead of 1.7 ms with 600 records waiting for a second vote.
    per_row = "OFFSET 0" if connection.vendor == "postgresql" else ""
    open_ = open_.format(per_row=per_row, **tables)
    return template.format(open=open_, skip_locked=skip, barrier=per_row, **{**tables, **parts})


def _rows(sql: str, params: dict) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _queue_pick(review, stage, user, settings, limit) -> list[int]:
    now = timezone.now()
    adapt = connection.ops.adapt_datetimefield_value
    params = {
        "review": review.pk,
        "stage": stage,
        "user": user.pk,
        "now": adapt(now),
        "until": adapt(now + LEASE),
        "limit": limit,
        "unscreened": ScreenState.UNSCREENED.value,
        "awaiting": ScreenState.AWAITING.value,
        "ta": Stage.TITLE_ABSTRACT.value,
        "included": ScreenState.INCLUDED.value,
        "missing": RetrievalStatus.NOT_RETRIEVED.value,
    }
    picked = [rid for (rid,) in _rows(_sql(_MINE, stage), params)]
    if len(picked) < limit:
        # Records another reviewer voted on come before records nobody has seen.
        picked += _claim_ordered(
            stage, {**params, "wanted_state": ScreenState.AWAITING.value}, limit - len(picked)
        )
    unscreened = {**params, "wanted_state": ScreenState.UNSCREENED.value}
    if len(picked) < limit and settings.sample_rule_id is not None:
        # A declared random sample (stopping.py) comes before the stage's order, whatever it is.
        from reviewapp.screening.stopping import declared_sample_pending

        wanted = limit - len(picked)
        offered = declared_sample_pending(settings, wanted + 12)
        picked += _claim_listed(stage, unscreened, offered, wanted)
    if len(picked) < limit:
        strategy = strategy_get(settings.queue_order)
        sql_ranges = getattr(strategy, "sql_ranges", None)
        if callable(sql_ranges):
            for extra, extra_params, key in sql_ranges(review=review, user=user):
                picked += _claim_ordered(
                    stage, {**unscreened, **extra_params}, limit - len(picked), extra, key
                )
                if len(picked) >= limit:
                    break
        else:
            picked += _claim_picked(review, stage, user, strategy, unscreened, limit - len(picked))
    return picked[:limit]


def _claim_ordered(stage, params, wanted, extra="", key="record_id") -> list[int]:
    """Lease up to `wanted` free records ordered by `key` ("record_id" or "queue_key")."""
    order = "s.record_id" if key == "record_id" else "s.queue_key, s.record_id"
    rows = _rows(_sql(_CLAIM, stage, extra=extra, order=order), {**params, "limit": wanted})
    # RETURNING keeps no order; put the rows back in queue order.
    if key == "record_id":
        return sorted(rid for rid, _ in rows)
    return [rid for rid, _ in sorted(rows, key=lambda row: (row[1], row[0]))]


def _claim_picked(review, stage, user, strategy, params, wanted) -> list[int]:
    """A plug-in order: ask it for candidates (with spares), then lease them in one statement."""
    now = timezone.now()
    candidates = queue_candidates(review, stage, user).filter(
        Q(lease_until__isnull=True) | Q(lease_until__lte=now), state=ScreenState.UNSCREENED
    )
    # A few spare candidates: when twenty reviewers ask at once, several race for the head of
    # the queue; the losers take the next spare instead of asking again.
    offered = strategy.pick(candidates, review=review, stage=stage, user=user, limit=wanted + 12)
    return _claim_listed(stage, params, offered, wanted)


def _claim_listed(stage, params, offered: list[int], wanted: int) -> list[int]:
    """Lease up to `wanted` of the `offered` records that are still free, in the offered order."""
    if not offered:
        return []
    names = {f"rid{i}": rid for i, rid in enumerate(offered)}
    listed = ", ".join(f"%({name})s" for name in names)
    rank = " ".join(f"WHEN %({name})s THEN {i}" for i, name in enumerate(names))
    rows = _rows(
        _sql(
            _CLAIM,
            stage,
            extra=f"AND s.record_id IN ({listed})",
            order=f"CASE s.record_id {rank} END",
        ),
        {**params, **names, "limit": wanted},
    )
    position = {rid: i for i, rid in enumerate(offered)}
    return sorted((rid for rid, _ in rows), key=position.__getitem__)


# Open records (for this reviewer) that another reviewer has leased now: from the rss_leased
# partial index, a handful of rows.
_HELD = """
SELECT COUNT(*), MAX(s.lease_until) FROM {state} s
WHERE s.lease_reviewer_id IS NOT NULL AND s.lease_until > %(now)s
    AND s.lease_reviewer_id <> %(user)s
    AND s.state IN (%(unscreened)s, %(awaiting)s) AND {open}
"""


@dataclass(frozen=True)
class Held:
    """Records this reviewer could screen but another reviewer has open, until `until`."""

    count: int
    until: datetime


def leases_held_by_others(review: Review, stage: str, user) -> Held | None:
    """What keeps an empty queue empty for now: records leased to someone else (None if none).

    Asked only when the reviewer's queue is empty, so "nothing left" is said only when it is so.
    """
    params = {
        "review": review.pk,
        "stage": stage,
        "user": user.pk,
        "now": connection.ops.adapt_datetimefield_value(timezone.now()),
        "unscreened": ScreenState.UNSCREENED.value,
        "awaiting": ScreenState.AWAITING.value,
        "ta": Stage.TITLE_ABSTRACT.value,
        "included": ScreenState.INCLUDED.value,
        "missing": RetrievalStatus.NOT_RETRIEVED.value,
    }
    ((count, until),) = _rows(_sql(_HELD, stage), params)
    if not count:
        return None
    if isinstance(until, str):  # SQLite answers MAX() as text
        until = datetime.fromisoformat(until)
    if timezone.is_naive(until):
        until = timezone.make_aware(until, UTC)
    return Held(count=count, until=until)


def lease_renew(review: Review, stage: str, user, record_id: int) -> str:
    """Keep a record on this reviewer's screen leased to them while they read it (a full text
    can take longer than LEASE). Returns "" when it is theirs, else why it is not: it was
    decided meanwhile, or another reviewer was given it after their lease ended."""
    if RecordVote.objects.filter(record_id=record_id, stage=stage, reviewer=user).exists():
        # A record they voted on (looked at again): nothing to hold for them.
        return ""
    now = timezone.now()
    renewed = (
        RecordStageState.objects.filter(
            review=review,
            stage=stage,
            record_id=record_id,
            state__in=[ScreenState.UNSCREENED, ScreenState.AWAITING],
        )
        .filter(Q(lease_reviewer=user) | Q(lease_reviewer__isnull=True) | Q(lease_until__lte=now))
        .update(lease_reviewer=user, lease_until=now + LEASE)
    )
    if renewed:
        return ""
    row = RecordStageState.objects.filter(review=review, stage=stage, record_id=record_id).first()
    if row is None:
        return "gone"
    if row.state not in (ScreenState.UNSCREENED, ScreenState.AWAITING):
        return "decided"
    return "taken"


def lease_release(review: Review, stage: str, user, *, keep: list[int] | None = None) -> int:
    """Give back the records handed to this reviewer at a stage (e.g. on leaving the page),
    except those in `keep` (the ones still on their screen)."""
    rows = RecordStageState.objects.filter(review=review, stage=stage, lease_reviewer=user)
    if keep:
        rows = rows.exclude(record_id__in=keep)
    return rows.update(lease_reviewer=None, lease_until=None)
