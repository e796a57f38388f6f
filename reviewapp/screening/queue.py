"""Who screens what next: the queue of one reviewer at one stage, with pluggable orders.

The queue is, in this order:
1. records already handed to this reviewer (leased) and not yet decided, so a prefetched record
   stays the next one;
2. records another reviewer has voted on and that wait for this reviewer's vote (dual screening
   never leaves records half-done);
3. records nobody has voted on, in the order of the stage's QueueOrder strategy.

Handing a record out leases it to the reviewer for LEASE, so twenty reviewers working at once are
not all given the same record. A strategy is any object with `pick(candidates, *, review, stage,
user, limit) -> list[int]` returning record ids; register new ones (e.g. the active-learning
"ranked" order) with `strategy_register`.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Protocol

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


class RandomPerReviewer:
    """A fixed random order per reviewer.

    Every record has a fixed pseudo-random key; each reviewer starts at their own point in that
    order and wraps around. Both steps use an index, so it stays fast on 100,000 records.
    """

    def pick(self, candidates, *, review, stage, user, limit):
        start = (user.pk * 2654435761 + review.pk * 40503) % 2_147_483_647
        ordered = candidates.order_by("queue_key", "record_id").values_list("record_id", flat=True)
        ids = list(ordered.filter(queue_key__gte=start)[:limit])
        if len(ids) < limit:
            ids += list(ordered.filter(queue_key__lt=start)[: limit - len(ids)])
        return ids


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
    state_rows_sync(review, ta_settings=settings if stage == Stage.TITLE_ABSTRACT else None)
    ids = _queue_pick(review, stage, user, settings, limit)
    # Gaps (an import that committed late, or a full-text row missing) are rare; they are filled
    # only when the queue seems short rather than on every request.
    if len(ids) < limit and state_rows_sync(review, full=True):
        ids = _queue_pick(review, stage, user, settings, limit)
    return ids


def _claim(stage: str, user, record_ids: list[int], now) -> set[int]:
    """Lease records with a conditional update; a record someone else holds is not taken."""
    if not record_ids:
        return set()
    claimed = RecordStageState.objects.filter(
        Q(lease_until__isnull=True) | Q(lease_until__lte=now) | Q(lease_reviewer=user),
        stage=stage,
        record_id__in=record_ids,
        state__in=[ScreenState.UNSCREENED, ScreenState.AWAITING],
    ).update(lease_reviewer=user, lease_until=now + LEASE)
    if claimed == len(record_ids):
        return set(record_ids)
    return set(
        RecordStageState.objects.filter(
            stage=stage, record_id__in=record_ids, lease_reviewer=user
        ).values_list("record_id", flat=True)
    )


def _queue_pick(review, stage, user, settings, limit) -> list[int]:
    now = timezone.now()
    candidates = queue_candidates(review, stage, user)
    picked = list(
        candidates.filter(lease_reviewer=user, lease_until__gt=now)
        .order_by("lease_until", "record_id")
        .values_list("record_id", flat=True)[:limit]
    )
    if len(picked) >= limit:
        return picked
    wanted = limit - len(picked)
    # A few spare candidates: when twenty reviewers ask at once, several race for the head of
    # the queue; the losers take the next spare instead of asking again.
    spare = wanted + 12
    free = candidates.filter(Q(lease_until__isnull=True) | Q(lease_until__lte=now)).exclude(
        record_id__in=picked
    )
    offered = list(
        free.filter(state=ScreenState.AWAITING)
        .order_by("record_id")
        .values_list("record_id", flat=True)[:spare]
    )
    if len(offered) < spare:
        offered += strategy_get(settings.queue_order).pick(
            free.filter(state=ScreenState.UNSCREENED),
            review=review,
            stage=stage,
            user=user,
            limit=spare - len(offered),
        )
    won = _claim(stage, user, offered[:wanted], now)
    picked += [rid for rid in offered[:wanted] if rid in won]
    for rid in offered[wanted:]:
        if len(picked) >= limit:
            break
        if _claim(stage, user, [rid], now):
            picked.append(rid)
    return picked[:limit]


def lease_release(review: Review, stage: str, user) -> int:
    """Give back every record handed to this reviewer at a stage (e.g. on leaving the page)."""
    return RecordStageState.objects.filter(review=review, stage=stage, lease_reviewer=user).update(
        lease_reviewer=None, lease_until=None
    )
