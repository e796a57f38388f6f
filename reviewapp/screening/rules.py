"""How a record's screening state follows from its decision events. Pure: no Django here.

The events are the source of truth. The state is derived from them; the database keeps a
materialised copy (RecordStageState) for speed, recomputed with this module in the same
transaction as every new event, and rebuildable from the events at any time.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

VOTE = "vote"
ADJUDICATION = "adjudication"
AUTOMATION = "automation"
INCLUDE, EXCLUDE, MAYBE = "include", "exclude", "maybe"
RETRACT = "retract"


class State(StrEnum):
    UNSCREENED = "unscreened"
    AWAITING = "awaiting"  # fewer votes than the stage requires (e.g. waiting for a second vote)
    CONFLICT = "conflict"  # votes disagree, or a Maybe in dual screening
    MAYBE = "maybe"  # single screening: the maybe queue
    INCLUDED = "included"
    EXCLUDED = "excluded"


SETTLED = frozenset({State.INCLUDED, State.EXCLUDED})
# Every vote the stage needs is in (or someone had the last word): blinding may lift.
ALL_VOTES_IN = frozenset({State.CONFLICT, State.MAYBE, State.INCLUDED, State.EXCLUDED})


@dataclass(frozen=True, slots=True)
class Event:
    reviewer_id: int
    kind: str
    value: str


def vote_stacks(events: Iterable[Event]) -> dict[int, list[str]]:
    """Each reviewer's votes still standing, oldest first; events in the order they happened.

    A vote pushes; a retract (undo) pops, so undoing a change of mind restores the vote before it.
    The top of a stack is the reviewer's current vote, the bottom their first vote still standing.
    Reviewers whose every vote was undone are left out.
    """
    stacks: dict[int, list[str]] = {}
    for event in events:
        if event.kind != VOTE:
            continue
        stack = stacks.setdefault(event.reviewer_id, [])
        if event.value == RETRACT:
            if stack:
                stack.pop()
        else:
            stack.append(event.value)
    return {reviewer: stack for reviewer, stack in stacks.items() if stack}


def current_votes(events: Iterable[Event]) -> dict[int, str]:
    """Each reviewer's current vote (the top of their stack)."""
    return {reviewer: stack[-1] for reviewer, stack in vote_stacks(events).items()}


def settle(events: Iterable[Event], reviewers_required: int) -> State:
    """The state of one record at one stage, from its events in the order they happened.

    An adjudication (or an automation exclusion by a declared stopping rule) is the last word:
    votes cast after it are kept as events but do not reopen the record; only a new adjudication
    changes it.
    """
    final: str | None = None
    vote_events: list[Event] = []
    for event in events:
        if event.kind in (ADJUDICATION, AUTOMATION):
            final = event.value
        else:
            vote_events.append(event)
    if final is not None:
        return _value_state(final, single=True)
    votes = current_votes(vote_events)
    if not votes:
        return State.UNSCREENED
    values = set(votes.values())
    if len(values) > 1:
        return State.CONFLICT
    if len(votes) < reviewers_required:
        return State.AWAITING
    (value,) = values
    if value == MAYBE and reviewers_required > 1:
        return State.CONFLICT
    return _value_state(value, single=reviewers_required == 1)


class Refusal(StrEnum):
    """Why a new vote cannot be taken on a record."""

    VOTES_IN = "votes_in"  # the stage's required votes are in, from other reviewers
    ADJUDICATED = "adjudicated"  # settled by an adjudication
    AUTOMATED = "automated"  # excluded by a stopping rule


def vote_refusal(
    events: Iterable[Event], reviewers_required: int, reviewer_id: int
) -> Refusal | None:
    """Whether a vote (not an undo) from this reviewer may be added to a record's events.

    A reviewer whose vote stands may always vote again: a change of mind is an event, and after
    an adjudication it is kept without reopening the record (see `settle`). Anyone else is
    refused once the record has the votes the stage requires, or once an adjudication or a
    stopping rule has settled it: a third vote would reopen a settled record as a conflict, and
    conflicts are settled by adjudication.
    """
    final: str | None = None
    vote_events: list[Event] = []
    for event in events:
        if event.kind in (ADJUDICATION, AUTOMATION):
            final = event.kind
        else:
            vote_events.append(event)
    stacks = vote_stacks(vote_events)
    if reviewer_id in stacks:
        return None
    if final == ADJUDICATION:
        return Refusal.ADJUDICATED
    if final == AUTOMATION:
        return Refusal.AUTOMATED
    if len(stacks) >= reviewers_required:
        return Refusal.VOTES_IN
    return None


def current_vote_index(events: Sequence[Event], reviewer_id: int) -> int | None:
    """The position in `events` of this reviewer's current vote (the top of their stack)."""
    stack: list[int] = []
    for i, event in enumerate(events):
        if event.kind != VOTE or event.reviewer_id != reviewer_id:
            continue
        if event.value == RETRACT:
            if stack:
                stack.pop()
        else:
            stack.append(i)
    return stack[-1] if stack else None


def _value_state(value: str, *, single: bool) -> State:
    if value == INCLUDE:
        return State.INCLUDED
    if value == EXCLUDE:
        return State.EXCLUDED
    return State.MAYBE if single else State.CONFLICT


def undo_target(my_events: Sequence[tuple[int, str]]) -> int | None:
    """The record whose vote an undo should withdraw: the latest vote of mine still standing.

    `my_events` are (record_id, value) of one reviewer's votes at one stage, oldest first.
    Undoing twice walks back through earlier decisions, like an editor's undo.
    """
    standing: list[int] = []
    for record_id, value in my_events:
        if value == RETRACT:
            for i in range(len(standing) - 1, -1, -1):
                if standing[i] == record_id:
                    del standing[i]
                    break
        else:
            standing.append(record_id)
    return standing[-1] if standing else None
