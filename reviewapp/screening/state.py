"""The materialised screening state: RecordStageState and RecordVote, kept equal to the events.

Decision events are the source of truth. For speed (a 100,000-record review answers "next record"
in a few milliseconds) each record's derived state and each reviewer's current vote are stored,
and updated here in the same transaction as every new event, under a row lock on the record's
state row: two decisions on one record at the same moment are applied one after the other, and
each sees the other's event. `stage_states_rebuild` recomputes everything from the events.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime

from django.db import connection, transaction
from django.db.models import Exists, OuterRef

from reviewapp.core.compiled import CompiledQuery
from reviewapp.core.db import tables_analyze
from reviewapp.core.tally import member_key, pair_key, state_key, tally_add, tally_recount
from reviewapp.literature.models import Record
from reviewapp.reviews.models import Review
from reviewapp.screening.constants import ScreenState, Stage
from reviewapp.screening.models import (
    Decision,
    NewRecords,
    RecordStageState,
    RecordVote,
    StageSettings,
)
from reviewapp.screening.rules import Event, settle, vote_stacks

BATCH = 5000


def queue_key(record_id: int) -> int:
    """A fixed pseudo-random key per record (Knuth's multiplicative hash), for the random order."""
    return (record_id * 2654435761) % 2_147_483_647


# Every decision locks its record's row, and reads the record's votes under that lock: both
# compiled once (reviewapp.core.compiled), as building the querysets cost several times what
# PostgreSQL took to answer them.
_ROW_LOCKED = CompiledQuery(
    lambda record_id, stage: RecordStageState.objects.select_for_update().filter(
        record_id=record_id, stage=stage
    ),
    record_id=-1_903_000_029,
    stage="\x00stage stand-in\x00",
)
_VOTES = CompiledQuery(
    lambda record_id, stage: RecordVote.objects.filter(record_id=record_id, stage=stage),
    record_id=-1_903_000_031,
    stage="\x00stage stand-in\x00",
)


def state_lock(*, review: Review, record_id: int, stage: str) -> RecordStageState:
    """The record's state row at the stage, created if missing, locked until the transaction ends.

    Must be called inside transaction.atomic(). Locking before the new event is written is what
    makes simultaneous decisions safe: the second waits, then reads the first one's event.
    """
    found = _ROW_LOCKED.fetch(record_id=record_id, stage=stage)
    if found:
        return found[0]
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
    if connection.vendor != "postgresql":
        # SQLite hands times over as text: the ORM converts them.
        return list(
            Decision.objects.filter(record_id=row.record_id, stage=row.stage)
            .order_by("created_at", "id")
            .values_list("id", "reviewer_id", "kind", "value", "created_at")
        )
    # Plain SQL: every decision request reads these, and building the queryset cost more Python
    # time than PostgreSQL took to answer it (PostgreSQL's rows need no conversion).
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT id, reviewer_id, kind, value, created_at FROM {Decision._meta.db_table} "
            "WHERE record_id = %s AND stage = %s ORDER BY created_at, id",
            [row.record_id, row.stage],
        )
        return [tuple(r) for r in cursor.fetchall()]


def state_refresh(
    *,
    row: RecordStageState,
    reviewers_required: int,
    actor_id: int | None,
    events: list[EventRow],
) -> str:
    """Recompute a locked state row and the record's current votes from its events.

    events: state_events(row) read under the lock, followed by the event just written.
    Returns the new state. The actor's lease on the record ends: they have decided. The kept
    counts (reviewapp.core.tally) change with it, in one statement at the end.
    """
    old_state = row.state
    pure = [Event(reviewer_id, kind, value) for _, reviewer_id, kind, value, _ in events]
    stacks = vote_stacks(pure)
    last_at: dict[int, object] = {}
    for _, reviewer_id, kind, _, created_at in events:
        if kind == "vote":
            last_at[reviewer_id] = created_at
    old_first = _votes_write(row, stacks, last_at)
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
    # Automation events are written only by decisions_automation_exclude, never through here,
    # so whether the record was excluded by a stopping rule is the same before and after.
    automated = any(kind == "automation" for _, _, kind, _, _ in events)
    tally_add(
        row.review_id,
        tally_changes(
            stage=row.stage,
            record_id=row.record_id,
            old_state=old_state,
            new_state=row.state,
            automated=automated,
            old_first=old_first,
            new_first={reviewer: stack[0] for reviewer, stack in stacks.items()},
        ),
    )
    return row.state


def tally_changes(
    *,
    stage: str,
    record_id: int,
    old_state: str,
    new_state: str,
    automated: bool,
    old_first: dict[int, str],
    new_first: dict[int, str],
) -> Counter:
    """What one record's new event changes in the kept counts: its state's count, the
    agreement cell of every pair of reviewers with a vote on it (by their first votes), and the
    vote count of a reviewer whose vote on it appeared or went."""
    deltas: Counter = Counter()
    if old_state != new_state:
        if old_state != ScreenState.UNSCREENED:
            deltas[state_key(stage, old_state, automated, record_id)] -= 1
        if new_state != ScreenState.UNSCREENED:
            deltas[state_key(stage, new_state, automated, record_id)] += 1
    for sign, firsts in ((-1, old_first), (1, new_first)):
        reviewers = sorted(firsts)
        for i, a in enumerate(reviewers):
            for b in reviewers[i + 1 :]:
                deltas[pair_key(stage, a, b, firsts[a], firsts[b])] += sign
    for reviewer in new_first.keys() - old_first.keys():
        deltas[member_key(stage, reviewer)] += 1
    for reviewer in old_first.keys() - new_first.keys():
        deltas[member_key(stage, reviewer)] -= 1
    return deltas


def _votes_write(
    row: RecordStageState, stacks: dict[int, list[str]], last_at: dict
) -> dict[int, str]:
    """Write the record's current votes; returns the first values that stood before."""
    existing = {v.reviewer_id: v for v in _VOTES.fetch(record_id=row.record_id, stage=row.stage)}
    before = {reviewer: v.first_value for reviewer, v in existing.items()}
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
    return before


def state_rows_sync(
    review: Review, *, full: bool = False, ta_settings: StageSettings | None = None
) -> int:
    """Give records added since the last sync a title/abstract state row; returns how many.

    The records to do are those NewRecords notes (a trigger writes it in the transaction that
    adds them, so none is missed, whenever and in whatever order imports commit). Cheap when
    nothing is new: one probe of that small table, or none when `ta_settings` came from
    stage_settings_get, which says whether the review has new records. `full=True` also checks
    every record of the review and the full-text rows of records included at title/abstract
    (a repair: the trigger and the decision writes keep both complete).
    """
    if not full and not _records_pending(review.pk, ta_settings):
        return 0
    with transaction.atomic():
        created = _pending_rows_build(review)
        if full:
            missing = Record.objects.filter(review=review).exclude(
                stage_states__stage=Stage.TITLE_ABSTRACT
            )
            created += _rows_create(
                review,
                Stage.TITLE_ABSTRACT,
                list(missing.order_by("id").values_list("id", flat=True)),
            )
            included = RecordStageState.objects.filter(
                review=review, stage=Stage.TITLE_ABSTRACT, state=ScreenState.INCLUDED
            ).exclude(
                Exists(
                    RecordStageState.objects.filter(
                        record_id=OuterRef("record_id"), stage=Stage.FULL_TEXT
                    )
                )
            )
            created += _rows_create(
                review, Stage.FULL_TEXT, list(included.values_list("record_id", flat=True))
            )
    return created


def state_rows_added(review: Review) -> int:
    """End an addition whose writer made its records' title/abstract rows itself.

    Imports and searches create the title/abstract row of every record they add, in the same
    transaction, so no reviewer's request has to (issue 13: 13 s for the first request after a
    100,000-record import). The trigger has noted their records all the same (NewRecords); taken
    away here, still in the adding transaction, the first screening request finds nothing to
    do. A record of the notes that still lacks a row (another path added it) gets it here.
    Returns how many rows were made here.
    """
    return _pending_rows_build(review)


def _records_pending(review_id: int, ta_settings: StageSettings | None) -> bool:
    known = getattr(ta_settings, "records_pending", None)
    if known is not None:
        return bool(known)
    # Asked before every "next record" when the settings did not say: plain SQL, since building
    # the queryset cost more than PostgreSQL took to answer it.
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT 1 FROM {NewRecords._meta.db_table} WHERE review_id = %s LIMIT 1", [review_id]
        )
        return cursor.fetchone() is not None


def _pending_rows_build(review: Review) -> int:
    """Build the state rows of the records NewRecords notes for this review; take its notes away.

    The notes are taken under a row lock, skipping those another request is building right now
    (PostgreSQL; SQLite has one writer at a time): it builds them, or on failure gives them back
    with its rollback. Run inside a transaction.
    """
    notes = list(
        NewRecords.objects.select_for_update(skip_locked=True)
        .filter(review=review)
        .order_by("first_id")
        .values_list("id", "first_id", "last_id")
    )
    if not notes:
        return 0
    NewRecords.objects.filter(pk__in=[pk for pk, _, _ in notes]).delete()
    # One statement per run of ids (SQLite notes each record alone; PostgreSQL each statement).
    ranges: list[list[int]] = []
    for _, first, last in notes:
        if ranges and first <= ranges[-1][1] + 1:
            ranges[-1][1] = max(ranges[-1][1], last)
        else:
            ranges.append([first, last])
    created = 0
    for first, last in ranges:
        ids = list(
            Record.objects.filter(review=review, id__gte=first, id__lte=last)
            .exclude(
                Exists(
                    RecordStageState.objects.filter(
                        record_id=OuterRef("pk"), stage=Stage.TITLE_ABSTRACT
                    )
                )
            )
            .order_by("id")
            .values_list("id", flat=True)
        )
        created += _rows_create(review, Stage.TITLE_ABSTRACT, ids)
    return created


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

    The events are never touched; the materialised rows are replaced, and the counts kept from
    them (reviewapp.core.tally) recounted. Leases are dropped.
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
            # The notes of new records read before the records: each one's records are then in
            # the list below (they committed together), so taking those notes away loses none.
            notes = list(NewRecords.objects.filter(review=review).values_list("pk", flat=True))
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
        tally_recount(review.pk, stage=this_stage, parts="spm")
        written += len(states)
        if this_stage == Stage.TITLE_ABSTRACT:
            NewRecords.objects.filter(pk__in=notes).delete()
            included_now = [s.record_id for s in states if s.state == ScreenState.INCLUDED]
            _rows_create(review, Stage.FULL_TEXT, included_now)
    # Every row of the review was replaced: fresh statistics once this commits.
    tables_analyze(RecordStageState, RecordVote)
    return written
