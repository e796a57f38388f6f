"""How a record's state follows from its events (pure; no database)."""

import pytest

from reviewapp.screening.rules import (
    Event,
    Refusal,
    State,
    current_vote_index,
    current_votes,
    settle,
    undo_target,
    vote_refusal,
    vote_stacks,
)


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


def retract(reviewer):
    return Event(reviewer, "vote", "retract")


def test_an_undo_withdraws_the_vote_and_the_record_is_unscreened_again():
    assert settle([vote(1, "include"), retract(1)], 1) == State.UNSCREENED


def test_undoing_a_change_of_mind_restores_the_vote_before_it():
    events = [vote(1, "include"), vote(2, "include"), vote(1, "exclude"), retract(1)]
    assert settle(events, 2) == State.INCLUDED
    assert current_votes(events) == {1: "include", 2: "include"}


def test_undo_with_nothing_standing_changes_nothing():
    assert settle([retract(1), vote(2, "include")], 2) == State.AWAITING


def test_the_vote_stack_keeps_the_first_vote_still_standing_at_the_bottom():
    stacks = vote_stacks([vote(1, "include"), vote(1, "exclude"), retract(2), vote(2, "maybe")])
    assert stacks == {1: ["include", "exclude"], 2: ["maybe"]}


def test_undo_walks_back_through_my_decisions_like_an_editor():
    mine = [(10, "include"), (11, "exclude"), (12, "maybe")]
    assert undo_target(mine) == 12
    assert undo_target(mine + [(12, "retract")]) == 11
    assert undo_target(mine + [(12, "retract"), (11, "retract"), (10, "retract")]) is None
    # A change of mind on record 10 makes 10 the latest decision.
    assert undo_target(mine + [(10, "exclude")]) == 10


def automate():
    return Event(0, "automation", "exclude")


@pytest.mark.parametrize(
    ("events", "required", "reviewer", "expected"),
    [
        ([], 2, 1, None),
        ([vote(1, "include")], 2, 2, None),
        ([vote(1, "include"), vote(2, "include")], 2, 3, Refusal.VOTES_IN),
        ([vote(1, "include"), vote(2, "exclude")], 2, 3, Refusal.VOTES_IN),
        ([vote(1, "include"), vote(2, "include")], 2, 1, None),  # a change of mind
        ([vote(1, "maybe")], 1, 2, Refusal.VOTES_IN),
        ([vote(1, "include"), vote(2, "include"), retract(2)], 2, 3, None),  # the place is free
        (
            [vote(1, "include"), vote(2, "exclude"), adjudicate("include")],
            2,
            3,
            Refusal.ADJUDICATED,
        ),
        ([vote(1, "include"), vote(2, "exclude"), adjudicate("include")], 2, 1, None),
        ([automate()], 2, 1, Refusal.AUTOMATED),
    ],
)
def test_a_vote_is_refused_only_from_someone_without_a_vote_on_a_record_that_needs_no_more(
    events, required, reviewer, expected
):
    assert vote_refusal(events, required, reviewer) == expected


def test_the_current_vote_is_found_after_changes_and_undos():
    events = [vote(1, "include"), vote(2, "exclude"), vote(1, "exclude"), retract(1)]
    assert current_vote_index(events, 1) == 0
    assert current_vote_index(events, 2) == 1
    assert current_vote_index(events + [retract(1)], 1) is None
    assert current_vote_index(events, 3) is None
