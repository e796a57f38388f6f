"""How a record's state follows from its events (pure; no database)."""

import pytest

from reviewapp.screening.rules import Event, State, settle


def vote(reviewer, value):
    return Event(reviewer, "vote", value)


def adjudicate(value):
    return Event(99, "adjudication", value)


@pytest.mark.parametrize(
    ("events", "required", "expected"),
    [
        ([], 1, State.UNSCREENED),
        ([], 2, State.UNSCREENED),
        ([vote(1, "include")], 1, State.INCLUDED),
        ([vote(1, "exclude")], 1, State.EXCLUDED),
        ([vote(1, "maybe")], 1, State.MAYBE),
        ([vote(1, "include")], 2, State.AWAITING),
        ([vote(1, "include"), vote(2, "include")], 2, State.INCLUDED),
        ([vote(1, "exclude"), vote(2, "exclude")], 2, State.EXCLUDED),
        ([vote(1, "include"), vote(2, "exclude")], 2, State.CONFLICT),
        ([vote(1, "maybe"), vote(2, "maybe")], 2, State.CONFLICT),
        ([vote(1, "include"), vote(2, "exclude"), adjudicate("include")], 2, State.INCLUDED),
        ([vote(1, "include"), vote(2, "include"), vote(1, "exclude")], 2, State.CONFLICT),
        ([vote(1, "exclude"), vote(1, "include")], 1, State.INCLUDED),
        ([vote(1, "include"), vote(2, "exclude")], 1, State.CONFLICT),
        ([Event(0, "automation", "exclude")], 2, State.EXCLUDED),
    ],
)
def test_settle_derives_the_state_from_the_events(events, required, expected):
    assert settle(events, required) == expected


def test_a_vote_after_an_adjudication_does_not_reopen_the_record():
    events = [vote(1, "include"), vote(2, "exclude"), adjudicate("exclude"), vote(1, "include")]
    assert settle(events, 2) == State.EXCLUDED
