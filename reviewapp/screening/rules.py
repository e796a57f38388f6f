"""How a record's screening state follows from its decision events. Pure: no Django here.

The state is never stored: it is derived from the append-only events each time, so a changed
mind, a late second vote or an adjudication can never leave a stale counter behind.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

VOTE = "vote"
ADJUDICATION = "adjudication"
AUTOMATION = "automation"
INCLUDE, EXCLUDE, MAYBE = "include", "exclude", "maybe"


class State(StrEnum):
    UNSCREENED = "unscreened"
    AWAITING = "awaiting"  # fewer votes than the stage requires (e.g. waiting for a second vote)
    CONFLICT = "conflict"  # votes disagree, or a Maybe in dual screening
    MAYBE = "maybe"  # single screening: the maybe queue
    INCLUDED = "included"
    EXCLUDED = "excluded"


SETTLED = frozenset({State.INCLUDED, State.EXCLUDED})


@dataclass(frozen=True, slots=True)
class Event:
    reviewer_id: int
    kind: str
    value: str


def current_votes(events: Iterable[Event]) -> dict[int, str]:
    """Each reviewer's latest vote; events must be in the order they happened."""
    votes: dict[int, str] = {}
    for event in events:
        if event.kind == VOTE:
            votes[event.reviewer_id] = event.value
    return votes


def settle(events: Iterable[Event], reviewers_required: int) -> State:
    """The state of one record at one stage, from its events in the order they happened.

    An adjudication (or an automation exclusion by a declared stopping rule) is the last word:
    votes cast after it are kept as events but do not reopen the record; only a new adjudication
    changes it.
    """
    final: str | None = None
    votes: dict[int, str] = {}
    for event in events:
        if event.kind in (ADJUDICATION, AUTOMATION):
            final = event.value
        else:
            votes[event.reviewer_id] = event.value
    if final is not None:
        return _value_state(final, single=True)
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


def _value_state(value: str, *, single: bool) -> State:
    if value == INCLUDE:
        return State.INCLUDED
    if value == EXCLUDE:
        return State.EXCLUDED
    return State.MAYBE if single else State.CONFLICT
