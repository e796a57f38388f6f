"""Reads on screening: the derived state of every record, the counts, and each reviewer's queue."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass

from reviewapp.literature.models import Record
from reviewapp.literature.selectors import records_unique
from reviewapp.reviews.models import Review
from reviewapp.screening.constants import DecisionKind, Stage
from reviewapp.screening.models import Decision, StageSettings
from reviewapp.screening.rules import Event, State, settle


def stage_settings_get(review: Review, stage: str) -> StageSettings:
    return StageSettings.objects.get(review=review, stage=stage)


def stage_events(review: Review, stage: str) -> dict[int, list[Event]]:
    """Every decision event of a stage, grouped by record, in the order they happened."""
    events: dict[int, list[Event]] = defaultdict(list)
    rows = (
        Decision.objects.filter(review=review, stage=stage)
        .order_by("created_at", "id")
        .values_list("record_id", "reviewer_id", "kind", "value")
    )
    for record_id, reviewer_id, kind, value in rows:
        events[record_id].append(Event(reviewer_id, kind, value))
    return events


def stage_eligible_ids(review: Review, stage: str) -> list[int]:
    """Records that belong in a stage: unique records at title/abstract; at full text, those
    included at title/abstract."""
    unique_ids = list(records_unique(review).order_by("id").values_list("id", flat=True))
    if stage == Stage.TITLE_ABSTRACT:
        return unique_ids
    ta_states = stage_states(review, Stage.TITLE_ABSTRACT, eligible_ids=unique_ids)
    return [rid for rid in unique_ids if ta_states[rid] == State.INCLUDED]


def stage_states(
    review: Review, stage: str, *, eligible_ids: list[int] | None = None
) -> dict[int, State]:
    """The derived state of every record eligible at a stage."""
    if eligible_ids is None:
        eligible_ids = stage_eligible_ids(review, stage)
    required = stage_settings_get(review, stage).reviewers_required
    events = stage_events(review, stage)
    return {rid: settle(events.get(rid, ()), required) for rid in eligible_ids}


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

    @property
    def screened(self) -> int:
        return self.eligible - self.unscreened

    @property
    def percent_done(self) -> int:
        if not self.eligible:
            return 0
        return round(100 * (self.included + self.excluded) / self.eligible)


def stage_counts(review: Review, stage: str) -> StageCounts:
    states = Counter(stage_states(review, stage).values())
    return StageCounts(
        stage=stage,
        label=Stage(stage).label,
        eligible=sum(states.values()),
        unscreened=states[State.UNSCREENED],
        awaiting=states[State.AWAITING],
        conflict=states[State.CONFLICT],
        maybe=states[State.MAYBE],
        included=states[State.INCLUDED],
        excluded=states[State.EXCLUDED],
    )


def my_current_vote(review: Review, stage: str, record: Record, user) -> Decision | None:
    return (
        Decision.objects.filter(
            review=review, stage=stage, record=record, reviewer=user, kind=DecisionKind.VOTE
        )
        .order_by("-created_at", "-id")
        .first()
    )


def next_record_for(review: Review, stage: str, user) -> Record | None:
    """The next record this reviewer should screen.

    Records another reviewer has already voted on come first, so dual screening never leaves
    records half-done; then records nobody has seen, in the stage's queue order.
    """
    settings = stage_settings_get(review, stage)
    events = stage_events(review, stage)
    waiting, fresh = [], []
    for rid in stage_eligible_ids(review, stage):
        record_events = events.get(rid, ())
        voters = {e.reviewer_id for e in record_events if e.kind == DecisionKind.VOTE}
        if user.pk in voters:
            continue
        state = settle(record_events, settings.reviewers_required)
        if state == State.UNSCREENED:
            fresh.append(rid)
        elif state == State.AWAITING:
            waiting.append(rid)
    for rid in waiting + fresh:
        return Record.objects.get(pk=rid)
    return None
