"""The duplicates' part of a review's counts, cached under the review's duplicate version.

It reads every active link of the review, so on PostgreSQL it is read once per version: the
triggers of core 0004 add a version on every change it depends on, whoever makes it (a service,
the ORM behind the services' back, an import). What must hold: a read from the cache equals a
read without it, after any such change, and a second read with nothing changed does not run the
duplicates' statement.
"""

from __future__ import annotations

import uuid

import pytest
from django.core.cache import cache
from django.db import connection, transaction
from django.db.utils import IntegrityError
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from reviewapp.core.models import DuplicateVersion
from reviewapp.core.services import duplicate_versions_prune
from reviewapp.literature.duplicates import duplicate_mark, duplicate_undo
from reviewapp.literature.models import DuplicateLink
from reviewapp.screening.constants import DecisionKind, ScreenState
from reviewapp.screening.counts import review_counts, review_counts_recount
from reviewapp.screening.models import Decision, RecordStageState
from reviewapp.screening.services import decision_record
from tests.conftest import membership_of
from tests.factories import RecordFactory

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="needs PostgreSQL (DATABASE_URL): the versions are kept by its triggers; on SQLite "
    "the duplicates' part is read every time",
)


def _uncached(review):
    cache.clear()
    return review_counts(review)


def _reads_duplicates(queries) -> bool:
    return any("'dup'" in q["sql"] for q in queries.captured_queries)


@pytest.fixture
def decided(review, owner):
    """Six records, four with the owner's vote."""
    records = [RecordFactory(review=review) for _ in range(6)]
    membership = membership_of(owner, review)
    for record in records[:4]:
        decision_record(membership=membership, record=record, stage="ta", value="include")
    return records


def test_a_second_read_with_nothing_changed_comes_from_the_cache(review, owner, decided):
    duplicate_mark(
        membership=membership_of(owner, review),
        duplicate_id=decided[1].pk,
        primary_id=decided[0].pk,
    )
    cache.clear()
    with CaptureQueriesContext(connection) as first:
        counts = review_counts(review)
    with CaptureQueriesContext(connection) as second:
        again = review_counts(review)
    assert _reads_duplicates(first) and not _reads_duplicates(second)
    # The same number of queries either way: the page's query count does not depend on it.
    assert len(first.captured_queries) == len(second.captured_queries) == 2
    assert again == counts
    recount = review_counts_recount(review)
    assert (
        (again.duplicates, again.states)
        == (recount.duplicates, recount.states)
        == (
            1,
            {"ta": {("awaiting", False): 3}, "ft": {}},
        )
    )


def test_links_marked_and_undone_through_the_services_are_seen_at_once(review, owner, decided):
    membership = membership_of(owner, review)
    assert review_counts(review).stage("ta").awaiting == 4
    link = duplicate_mark(
        membership=membership, duplicate_id=decided[2].pk, primary_id=decided[0].pk
    )
    assert review_counts(review).stage("ta").awaiting == 3
    assert review_counts(review) == review_counts_recount(review) == _uncached(review)
    duplicate_undo(membership=membership, link_id=link.pk)
    assert review_counts(review).stage("ta").awaiting == 4
    assert review_counts(review) == review_counts_recount(review) == _uncached(review)


def _link_created(review, decided):
    DuplicateLink.objects.create(
        review=review, duplicate=decided[3], primary=decided[0], rule="manual", score=1.0
    )


def _link_undone(review, decided):
    DuplicateLink.objects.filter(review=review, duplicate=decided[1]).update(
        undone_at=timezone.now()
    )


def _link_deleted(review, decided):
    DuplicateLink.objects.filter(review=review, duplicate=decided[1]).delete()


def _duplicate_state_changed(review, decided):
    RecordStageState.objects.filter(record=decided[1], stage="ta").update(
        state=ScreenState.EXCLUDED
    )


def _duplicate_state_deleted(review, decided):
    RecordStageState.objects.filter(record=decided[1], stage="ta").delete()


def _duplicate_excluded_by_a_rule(review, decided):
    Decision.objects.create(
        review=review,
        record=decided[1],
        stage="ta",
        reviewer=review.memberships.first().user,
        kind=DecisionKind.AUTOMATION,
        value="exclude",
        client_token=uuid.uuid4(),
    )


@pytest.mark.parametrize(
    "change",
    [
        _link_created,
        _link_undone,
        _link_deleted,
        _duplicate_state_changed,
        _duplicate_state_deleted,
        _duplicate_excluded_by_a_rule,
    ],
)
def test_a_change_behind_the_services_back_is_seen_at_once(review, owner, decided, change):
    duplicate_mark(
        membership=membership_of(owner, review),
        duplicate_id=decided[1].pk,
        primary_id=decided[0].pk,
    )
    before = review_counts(review)  # cached under the version the link made
    versions = DuplicateVersion.objects.filter(review_id=review.pk).count()
    change(review, decided)
    assert DuplicateVersion.objects.filter(review_id=review.pk).count() > versions
    after = review_counts(review)
    assert after == _uncached(review)
    assert after != before


def test_a_change_to_a_record_that_is_no_duplicate_adds_no_version(review, owner, decided):
    duplicate_mark(
        membership=membership_of(owner, review),
        duplicate_id=decided[1].pk,
        primary_id=decided[0].pk,
    )
    versions = DuplicateVersion.objects.filter(review_id=review.pk).count()
    decision_record(
        membership=membership_of(owner, review), record=decided[4], stage="ta", value="exclude"
    )
    RecordStageState.objects.filter(record=decided[5], stage="ta").update(state=ScreenState.MAYBE)
    assert DuplicateVersion.objects.filter(review_id=review.pk).count() == versions


def test_counts_read_inside_a_rolled_back_link_are_not_kept(review, owner, decided):
    duplicate_mark(
        membership=membership_of(owner, review),
        duplicate_id=decided[1].pk,
        primary_id=decided[0].pk,
    )
    review_counts(review)
    with pytest.raises(IntegrityError), transaction.atomic():
        _link_created(review, decided)
        inside = review_counts(review)  # cached under a version that never commits
        assert inside.duplicates == 2
        raise IntegrityError("the import failed")
    after = review_counts(review)
    assert after.duplicates == 1
    assert after == review_counts_recount(review) == _uncached(review)


def test_pruning_the_versions_keeps_each_reviews_latest_and_its_cached_counts(
    review, owner, decided
):
    membership = membership_of(owner, review)
    duplicate_mark(membership=membership, duplicate_id=decided[1].pk, primary_id=decided[0].pk)
    second = duplicate_mark(
        membership=membership, duplicate_id=decided[3].pk, primary_id=decided[2].pk
    )
    decision_record(membership=membership, record=decided[5], stage="ta", value="exclude")
    latest = DuplicateVersion.objects.filter(review_id=review.pk).latest("id")
    assert DuplicateVersion.objects.filter(review_id=review.pk).count() > 1
    # A review deleted since left its rows behind (no foreign key).
    gone = DuplicateVersion.objects.create(review_id=review.pk + 10_000)
    cache.clear()
    counts = review_counts(review)

    deleted = duplicate_versions_prune()

    assert list(DuplicateVersion.objects.filter(review_id=review.pk)) == [latest]
    assert not DuplicateVersion.objects.filter(pk=gone.pk).exists()
    assert deleted >= 2
    # The version stands, so the counts still come from the cache, and they are right.
    with CaptureQueriesContext(connection) as queries:
        assert review_counts(review) == counts
    assert not _reads_duplicates(queries)
    assert _uncached(review) == counts
    # The next change still moves the version on, past the pruned rows.
    duplicate_undo(membership=membership, link_id=second.pk)
    assert DuplicateVersion.objects.filter(review_id=review.pk).latest("id").pk > latest.pk
    assert review_counts(review) == _uncached(review) != counts
