"""The materialised screening state: RecordStageState and RecordVote, kept equal to the events.

Decision events are the source of truth. For speed (a 100,000-record review answers "next record"
in a few milliseconds) each record's derived state and each reviewer's current vote are stored,
and updated here in the same transaction as every new event, under a row lock on the record's
state row: two decisions on one record at the same moment are applied one after the other, and
each sees the other's event. `stage_states_rebuild` recomputes everything from the events.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from django.db import connection, transaction
from django.db.models import Max

from reviewapp.core.db import tables_analyze
from reviewapp.literature.models import Record
from reviewapp.reviews.models import Review
from reviewapp.screening.constants import ScreenState, Stage
from reviewapp.screening.models import Decision, RecordStageState, RecordVote, StageSettings
from reviewapp.screening.rules import Event, settle, vote_stacks

BATCH = 5000


def queue_key(record_id: int) -> int:
    """A fixed pseudo-random key per record (Knuth's multiplicative hash), for the random order."""
    return (record_id * 2654435761) % 2_147_483_647


def state_lock(*, review: Review, record_id: int, stage: str) -> RecordStageState:
    """The record's state row at the stage, created if missing, locked until the transaction ends.

    Must be called inside transaction.atomic(). Locking before the new event is written is what
    makes simultaneous decisions safe: the second waits, then reads the first one's event.
    """
    row, _ = RecordStageState.objects.select_for_update().get_or_create(
        record_id=record_id,
        stage=stage,
        defaults={"review": review, "queue_key": queue_key(record_id)},
    )
    return row


# One event of a record as the locked write reads it: (id, reviewer, kind, value, created_at).
EventRow = tuple[int, int, str, str, datetime]


def state_events(row: RecordStageState) -> list[EventRow]:
    """The events of a locked state row's record at its stage, in the order they happened.

    Read after state_lock, so every event committed before the lock was taken is in it, and no
    other writer can add one until the transaction ends: what the caller checks against them
    (a vote on a record that already has its votes, a repeated submit) stays true.
    """
    return list(
        Decision.objects.filter(record_id=row.record_id, stage=row.stage)
        .order_by("created_at", "id")
        .values_list("id", "reviewer_id", "kind", "value", "created_at")
    )


def state_refresh(
    *,
    row: RecordStageState,
    reviewers_required: int,
    actor_id: int | None,
    events: list[EventRow],
) -> str:
    """Recompute a locked state row and the record's current votes from its events.

    events: state_events(row) read under the lock, followed by the event just written.
    Returns the new state. The actor's lease on the record ends: they have decided.
    """
    pure = [Event(reviewer_id, kind, value) for _, reviewer_id, kind, value, _ in events]
    stacks = vote_stacks(pure)
    last_at: dict[int, object] = {}
    for _, reviewer_id, kind, _, created_at in events:
        if kind == "vote":
            last_at[reviewer_id] = created_at
    _votes_write(row, stacks, last_at)
    row.state = settle(pure, reviewers_required).value
    row.n_votes = len(stacks)
    fields = ["state", "n_votes", "updated_at"]
    if actor_id is not None and row.lease_reviewer_id == actor_id:
        row.lease_reviewer, row.lease_until = None, None
        fields += ["lease_reviewer", "lease_until"]
    row.save(update_fields=fields)
    if row.stage == Stage.TITLE_ABSTRACT and row.state == ScreenState.INCLUDED:
        # Included at title/abstract: the record joins the full-text queue.
        RecordStageState.objects.bulk_create(
            [
                RecordStageState(
                    review_id=row.review_id,
                    record_id=row.record_id,
                    stage=Stage.FULL_TEXT,
                    queue_key=queue_key(row.record_id),
                )
            ],
            ignore_conflicts=True,
        )
    return row.state


def _votes_write(row: RecordStageState, stacks: dict[int, list[str]], last_at: dict) -> None:
    existing = {
        v.reviewer_id: v
        for v in RecordVote.objects.filter(record_id=row.record_id, stage=row.stage)
    }
    gone = [v.pk for reviewer, v in existing.items() if reviewer not in stacks]
    if gone:
        RecordVote.objects.filter(pk__in=gone).delete()
    for reviewer, stack in stacks.items():
        vote = existing.get(reviewer)
        if vote is None:
            RecordVote.objects.create(
                review_id=row.review_id,
                record_id=row.record_id,
                stage=row.stage,
                reviewer_id=reviewer,
                value=stack[-1],
                first_value=stack[0],
                decided_at=last_at[reviewer],
            )
        elif (vote.value, vote.first_value, vote.decided_at) != (
            stack[-1],
            stack[0],
            last_at[reviewer],
        ):
            vote.value, vote.first_value, vote.decided_at = stack[-1], stack[0], last_at[reviewer]
            vote.save(update_fields=["value", "first_value", "decided_at"])


def state_rows_sync(
    review: Review, *, full: bool = False, ta_settings: StageSettings | None = None
) -> int:
    """Give records imported since the last sync a title/abstract state row; returns how many.

    Cheap when nothing is new (one indexed query). `full=True` also fills gaps below the
    high-water mark (a slow import that committed late) and the full-text rows of records
    included at title/abstract.
    """
    settings = ta_settings or StageSettings.objects.get(review=review, stage=Stage.TITLE_ABSTRACT)
    records = Record.objects.filter(review=review)
    if not full:
        if not _records_above(review.pk, settings.rows_synced_to):
            return 0
        records = records.filter(id__gt=settings.rows_synced_to)
    else:
        records = records.exclude(stage_states__stage=Stage.TITLE_ABSTRACT)
    ids = list(records.order_by("id").values_list("id", flat=True))
    created = _rows_create(review, Stage.TITLE_ABSTRACT, ids)
    if full:
        included = RecordStageState.objects.filter(
            review=review, stage=Stage.TITLE_ABSTRACT, state=ScreenState.INCLUDED
        ).values_list("record_id", flat=True)
        created += _rows_create(review, Stage.FULL_TEXT, list(included))
    top = Record.objects.filter(review=review).aggregate(m=Max("id"))["m"] or 0
    StageSettings.objects.filter(pk=settings.pk, rows_synced_to__lt=top).update(rows_synced_to=top)
    return created


def state_rows_added(review: Review, *, top: int) -> int:
    """Move the title/abstract mark up to `top` for a writer that made its records' rows itself.

    Imports and searches create the title/abstract row of every record they add, in the same
    transaction, so no reviewer's request has to (issue 13: 13 s for the first request after a
    100,000-record import). They then call this, still in their transaction: records of the
    review up to `top` above the mark that still lack a row (added by a path that leaves them
    to the queue) get theirs, then the mark moves, so it keeps meaning "every record up to here
    has its row". Returns how many rows were made here.
    """
    settings = StageSettings.objects.filter(review=review, stage=Stage.TITLE_ABSTRACT).first()
    if settings is None or top <= settings.rows_synced_to:
        return 0
    missing = list(
        Record.objects.filter(review=review, id__gt=settings.rows_synced_to, id__lte=top)
        .exclude(stage_states__stage=Stage.TITLE_ABSTRACT)
        .order_by("id")
        .values_list("id", flat=True)
    )
    created = _rows_create(review, Stage.TITLE_ABSTRACT, missing)
    StageSettings.objects.filter(pk=settings.pk, rows_synced_to__lt=top).update(rows_synced_to=top)
    return created


def _records_above(review_id: int, record_id: int) -> bool:
    # Asked before every "next record": plain SQL, since building the queryset cost more than
    # PostgreSQL took to answer it (an index range on the primary key, LIMIT 1).
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT 1 FROM {Record._meta.db_table} WHERE review_id = %s AND id > %s LIMIT 1",
            [review_id, record_id],
        )
        return cursor.fetchone() is not None


def _rows_create(review: Review, stage: str, record_ids: list[int]) -> int:
    for start in range(0, len(record_ids), BATCH):
        RecordStageState.objects.bulk_create(
            [
                RecordStageState(
                    review=review, record_id=rid, stage=stage, queue_key=queue_key(rid)
                )
                for rid in record_ids[start : start + BATCH]
            ],
            ignore_conflicts=True,
        )
    return len(record_ids)


@transaction.atomic
def stage_states_rebuild(review: Review, stage: str | None = None) -> int:
    """Recompute the materialised state of a review (one stage, or both) from its events.

    The events are never touched; the materialised rows are replaced. Leases are dropped.
    Returns the number of state rows written.
    """
    stages = [stage] if stage else [Stage.TITLE_ABSTRACT, Stage.FULL_TEXT]
    written = 0
    for this_stage in sorted(stages, reverse=True):  # "ta" before "ft": ft rows follow ta's
        required = StageSettings.objects.get(review=review, stage=this_stage).reviewers_required
        RecordStageState.objects.filter(review=review, stage=this_stage).delete()
        RecordVote.objects.filter(review=review, stage=this_stage).delete()
        events: dict[int, list] = defaultdict(list)
        rows = (
            Decision.objects.filter(review=review, stage=this_stage)
            .order_by("created_at", "id")
            .values_list("record_id", "reviewer_id", "kind", "value", "created_at")
        )
        for record_id, reviewer_id, kind, value, created_at in rows.iterator(chunk_size=BATCH):
            events[record_id].append((reviewer_id, kind, value, created_at))
        if this_stage == Stage.TITLE_ABSTRACT:
            record_ids = list(
                Record.objects.filter(review=review).order_by("id").values_list("id", flat=True)
            )
        else:
            included = set(
                RecordStageState.objects.filter(
                    review=review, stage=Stage.TITLE_ABSTRACT, state=ScreenState.INCLUDED
                ).values_list("record_id", flat=True)
            )
            record_ids = sorted(included | set(events))
        states: list[RecordStageState] = []
        votes: list[RecordVote] = []
        for rid in record_ids:
            record_events = events.get(rid, [])
            pure = [Event(r, k, v) for r, k, v, _ in record_events]
            stacks = vote_stacks(pure)
            last_at = {r: at for r, k, _, at in record_events if k == "vote"}
            states.append(
                RecordStageState(
                    review=review,
                    record_id=rid,
                    stage=this_stage,
                    state=settle(pure, required).value,
                    n_votes=len(stacks),
                    queue_key=queue_key(rid),
                )
            )
            votes.extend(
                RecordVote(
                    review=review,
                    record_id=rid,
                    stage=this_stage,
                    reviewer_id=reviewer,
                    value=stack[-1],
                    first_value=stack[0],
                    decided_at=last_at[reviewer],
                )
                for reviewer, stack in stacks.items()
            )
        RecordStageState.objects.bulk_create(states, batch_size=BATCH)
        RecordVote.objects.bulk_create(votes, batch_size=BATCH)
        written += len(states)
        if this_stage == Stage.TITLE_ABSTRACT:
            top = max(record_ids, default=0)
            StageSettings.objects.filter(review=review, stage=this_stage).update(rows_synced_to=top)
            included_now = [s.record_id for s in states if s.state == ScreenState.INCLUDED]
            _rows_create(review, Stage.FULL_TEXT, included_now)
    # Every row of the review was replaced: fresh statistics once this commits.
    tables_analyze(RecordStageState, RecordVote)
    return written
