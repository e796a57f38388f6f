"""Who gets which record next: dual, single, the maybe queue, leases and queue orders."""

from reviewapp.screening.constants import QueueOrder
from reviewapp.screening.queue import STRATEGIES, queue_next, strategy_get
from reviewapp.screening.selectors import next_record_for, stage_counts
from reviewapp.screening.services import decision_record
from tests.conftest import membership_of
from tests.factories import RecordFactory


def vote(user, review, record, value="include"):
    return decision_record(
        membership=membership_of(user, review), record=record, stage="ta", value=value
    )


def test_two_reviewers_working_at_once_are_handed_different_records(
    review, reviewer, reviewer2, records
):
    first = queue_next(review, "ta", reviewer, limit=1)
    second = queue_next(review, "ta", reviewer2, limit=1)
    assert first != second


def test_the_prefetched_record_stays_next_for_its_reviewer(review, reviewer, records):
    current, upcoming = queue_next(review, "ta", reviewer, limit=2)
    vote(reviewer, review, records[0] if current == records[0].pk else records[1])
    assert queue_next(review, "ta", reviewer, limit=2)[0] == upcoming


def test_in_dual_screening_a_record_reaches_the_second_reviewer_then_is_settled(
    review, reviewer, reviewer2, records
):
    vote(reviewer, review, records[0])
    assert stage_counts(review, "ta").awaiting == 1
    assert next_record_for(review, "ta", reviewer2) == records[0]
    vote(reviewer2, review, records[0])
    counts = stage_counts(review, "ta")
    assert (counts.awaiting, counts.included) == (0, 1)


def test_a_settled_record_is_not_offered_to_a_third_reviewer(
    review, owner, reviewer, reviewer2, records
):
    vote(reviewer, review, records[0])
    vote(reviewer2, review, records[0])
    offered = queue_next(review, "ta", owner, limit=3)
    assert records[0].pk not in offered


def test_in_single_screening_one_vote_settles_and_maybe_goes_to_the_maybe_queue(
    review, reviewer, reviewer2, records
):
    review.stage_settings.filter(stage="ta").update(reviewers_required=1)
    vote(reviewer, review, records[0], "include")
    vote(reviewer, review, records[1], "maybe")
    counts = stage_counts(review, "ta")
    assert (counts.included, counts.maybe, counts.conflict) == (1, 1, 0)
    assert next_record_for(review, "ta", reviewer2) == records[2]


def test_in_dual_screening_two_maybes_are_a_conflict(review, reviewer, reviewer2, records):
    vote(reviewer, review, records[0], "maybe")
    vote(reviewer2, review, records[0], "maybe")
    assert stage_counts(review, "ta").conflict == 1


def test_the_random_order_is_fixed_per_reviewer_and_differs_between_reviewers(
    review, reviewer, reviewer2
):
    RecordFactory.create_batch(40, review=review)
    review.stage_settings.filter(stage="ta").update(queue_order=QueueOrder.RANDOM)
    from reviewapp.screening.queue import lease_release

    mine = queue_next(review, "ta", reviewer, limit=5)
    lease_release(review, "ta", reviewer)
    assert queue_next(review, "ta", reviewer, limit=5) == mine
    lease_release(review, "ta", reviewer)
    assert queue_next(review, "ta", reviewer2, limit=5) != mine


def test_every_queue_order_choice_has_a_strategy_and_unknown_ones_fall_back():
    assert set(QueueOrder.values) <= set(STRATEGIES)
    assert strategy_get("no-such-order") is STRATEGIES[QueueOrder.FILE_ORDER]
