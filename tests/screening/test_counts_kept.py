"""The counts the writes keep (core.tally) always equal a count of every row (issue 13).

Random but realistic sequences of writes (votes, changes of mind, undos, resolutions, stopping
by rule, duplicates marked and undone, reports not retrieved, new records, single/dual switches
and explicit rebuilds), then the kept counts, the PRISMA boxes and the agreement table read from
them are compared with a recount from every row. Then the same with reviewers deciding at once.
"""

from __future__ import annotations

import contextlib
import dataclasses
import random
import threading
import uuid
from collections import defaultdict

import pytest
from django.core.exceptions import PermissionDenied
from django.db import connection, connections

from reviewapp.core.errors import ServiceError
from reviewapp.literature.duplicates import duplicate_mark, duplicate_undo
from reviewapp.literature.models import DuplicateLink, Record
from reviewapp.literature.parsers.base import ParsedRecord
from reviewapp.literature.services import duplicate_index_for, records_add_parsed
from reviewapp.reporting.selectors import prisma_counts_get, prisma_counts_recount
from reviewapp.reviews.constants import Role
from reviewapp.screening.agreement import pairwise
from reviewapp.screening.constants import RetrievalStatus, ScreenState
from reviewapp.screening.counts import review_counts, review_counts_recount
from reviewapp.screening.fulltext import report_status_set
from reviewapp.screening.models import ExclusionReason, RecordStageState, RecordVote, StageSettings
from reviewapp.screening.selectors import agreement_table, my_progress
from reviewapp.screening.services import (
    conflict_resolve,
    decision_record,
    decision_undo,
    decisions_automation_exclude,
)
from reviewapp.screening.state import stage_states_rebuild
from tests.conftest import membership_of
from tests.factories import ImportFactory, MembershipFactory, RecordFactory, UserFactory


def assert_kept_equals_recount(review) -> None:
    kept, recount = review_counts(review), review_counts_recount(review)
    assert {k: n for k, n in kept.sources.items() if n} == recount.sources
    assert kept.duplicates == recount.duplicates
    assert kept.states == recount.states
    assert kept.not_retrieved_in_ft == recount.not_retrieved_in_ft
    assert kept.reports_not_retrieved == recount.reports_not_retrieved
    for stage in ("ta", "ft"):
        kept_cells = {
            pair: {cell: n for cell, n in cells.items() if n}
            for pair, cells in kept.pairs[stage].items()
        }
        assert {p: c for p, c in kept_cells.items() if c} == recount.pairs[stage]
    # The PRISMA boxes from the kept counts are those built from every record.
    fast, slow = prisma_counts_get(review), prisma_counts_recount(review)
    assert fast == dataclasses.replace(slow, record_ids={})
    _assert_agreement_is_the_votes(review)
    # "Screened by me": each member's kept vote count is the number of their vote rows.
    for stage in ("ta", "ft"):
        for membership in review.memberships.select_related("user"):
            votes = RecordVote.objects.filter(
                review=review, stage=stage, reviewer=membership.user
            ).count()
            assert my_progress(review, stage, membership.user)[0] == votes


def _assert_agreement_is_the_votes(review) -> None:
    votes: dict[str, dict[int, dict[int, str]]] = defaultdict(lambda: defaultdict(dict))
    for stage, reviewer, record, first in RecordVote.objects.filter(review=review).values_list(
        "stage", "reviewer_id", "record_id", "first_value"
    ):
        votes[stage][reviewer][record] = first
    table = {(row.stage, row.reviewer_a, row.reviewer_b): row for row in agreement_table(review)}
    for stage in ("ta", "ft"):
        pooled, pairs = pairwise(votes[stage])
        row = table[(stage, "all pairs", "")]
        assert (row.n, row.agreed) == (pooled.n, pooled.agreed)
        assert row.kappa == pytest.approx(pooled.kappa)
        assert sum(1 for key in table if key[0] == stage and key[2]) == len(pairs)


class World:
    """A review and its team, and the writes a team makes, chosen by a seeded random source."""

    def __init__(self, review, owner, rng: random.Random):
        self.review, self.rng = review, rng
        self.owner = membership_of(owner, review)
        self.screeners = [self.owner] + [
            membership_of(
                MembershipFactory(
                    review=review, user=UserFactory(username=f"r{i}"), role=Role.REVIEWER
                ).user,
                review,
            )
            for i in range(3)
        ]
        self.records = RecordFactory.create_batch(24, review=review)
        self.reasons = list(ExclusionReason.objects.filter(review=review, active=True))

    def _record(self):
        return self.rng.choice(self.records)

    def vote(self):
        stage = self.rng.choice(["ta", "ta", "ft"])
        value = self.rng.choice(["include", "include", "exclude", "maybe"])
        reasons = [self.rng.choice(self.reasons).pk] if stage == "ft" and value == "exclude" else []
        decision_record(
            membership=self.rng.choice(self.screeners),
            record=self._record(),
            stage=stage,
            value=value,
            reason_ids=reasons,
        )

    def undo(self):
        decision_undo(
            membership=self.rng.choice(self.screeners), stage=self.rng.choice(["ta", "ft"])
        )

    def resolve(self):
        row = (
            RecordStageState.objects.filter(
                review=self.review, state__in=[ScreenState.CONFLICT, ScreenState.MAYBE]
            )
            .order_by("?")
            .first()
        )
        if row is None:
            return
        value = self.rng.choice(["include", "exclude"])
        reasons = [self.reasons[0].pk] if row.stage == "ft" and value == "exclude" else []
        conflict_resolve(
            membership=self.owner,
            record=row.record,
            stage=row.stage,
            value=value,
            reason_ids=reasons,
        )

    def duplicate(self):
        active = list(DuplicateLink.objects.filter(review=self.review, undone_at__isnull=True))
        if active and self.rng.random() < 0.4:
            duplicate_undo(membership=self.owner, link_id=self.rng.choice(active).pk)
        else:
            a, b = self.rng.sample(self.records, 2)
            duplicate_mark(membership=self.owner, duplicate_id=a.pk, primary_id=b.pk)

    def not_retrieved(self):
        report_status_set(
            membership=self.owner,
            record=self._record(),
            status=self.rng.choice([RetrievalStatus.NOT_RETRIEVED, RetrievalStatus.SOUGHT]),
        )

    def stop_by_rule(self):
        chosen = self.rng.sample(self.records, 5)
        decisions_automation_exclude(
            membership=self.owner,
            stage="ta",
            record_ids=[r.pk for r in chosen],
            details={"rule": {"id": 0}},
            token_for=lambda record_id: uuid.uuid4(),
        )

    def new_records(self):
        imp = ImportFactory(review=self.review)
        parsed = [
            ParsedRecord(position=i + 1, title=f"New cohort {uuid.uuid4().hex}")
            for i in range(self.rng.randint(1, 3))
        ]
        added, _ = records_add_parsed(
            review=self.review,
            parsed=parsed,
            index=duplicate_index_for(self.review),
            source_import=imp,
        )
        self.records.extend(Record.objects.filter(pk__in=added).order_by("pk"))

    def switch_single_dual(self):
        # Saved through the ORM, as the settings page does: the stage is rebuilt (signals.py).
        settings = StageSettings.objects.get(
            review=self.review, stage=self.rng.choice(["ta", "ft"])
        )
        settings.reviewers_required = 3 - settings.reviewers_required
        settings.save()

    def rebuild(self):
        stage_states_rebuild(self.review, self.rng.choice([None, "ta", "ft"]))

    def step(self):
        write = self.rng.choices(
            [
                self.vote,
                self.undo,
                self.resolve,
                self.duplicate,
                self.not_retrieved,
                self.stop_by_rule,
                self.new_records,
                self.switch_single_dual,
                self.rebuild,
            ],
            weights=[60, 8, 8, 5, 5, 1, 2, 2, 2],
        )[0]
        # A refused write (a settled record, a duplicate) changes nothing.
        with contextlib.suppress(ServiceError, PermissionDenied):
            write()


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_kept_counts_equal_a_recount_after_random_writes(review, owner, seed):
    world = World(review, owner, random.Random(seed))
    for i in range(1, 241):
        world.step()
        if i % 40 == 0:
            assert_kept_equals_recount(review)
    stage_states_rebuild(review)
    assert_kept_equals_recount(review)


def test_a_rebuild_recounts_what_was_written_behind_the_services_back(review, owner, reviewer):
    world = World(review, owner, random.Random(7))
    for _ in range(60):
        world.step()
    # A state changed by hand (an admin's update) is not counted until the stage is rebuilt...
    RecordStageState.objects.filter(review=review, stage="ta").update(state=ScreenState.MAYBE)
    assert review_counts(review).states != review_counts_recount(review).states
    # ...which recomputes the states from the events and the counts from the states.
    stage_states_rebuild(review)
    assert_kept_equals_recount(review)


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="needs PostgreSQL (DATABASE_URL): SQLite serialises every write, so there is no race",
)
def test_reviewers_deciding_at_once_keep_the_counts_right(review, owner):
    world = World(review, owner, random.Random(11))
    screeners = world.screeners
    barrier = threading.Barrier(len(screeners))
    errors: list[Exception] = []

    def screen(membership, seed):
        rng = random.Random(seed)
        try:
            barrier.wait()
            # Everyone on the same few records, in different orders: votes on one record land
            # at the same moment, and each changes the same shared count rows.
            for _ in range(3):
                for record in rng.sample(world.records[:8], 8):
                    with contextlib.suppress(ServiceError):
                        decision_record(
                            membership=membership,
                            record=record,
                            stage="ta",
                            value=rng.choice(["include", "exclude", "maybe"]),
                        )
                if rng.random() < 0.5:
                    decision_undo(membership=membership, stage="ta")
        except Exception as exc:  # reported below; a thread cannot fail the test itself
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [
        threading.Thread(target=screen, args=(m, i)) for i, m in enumerate(screeners, start=1)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not any(t.is_alive() for t in threads), "a decision was still waiting after 60 s"
    assert not errors, errors
    assert RecordVote.objects.filter(review=review).exists()
    assert_kept_equals_recount(review)


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="needs PostgreSQL (DATABASE_URL): SQLite serialises every write, so there is no race",
)
def test_stopping_by_rule_while_reviewers_decide_keeps_the_counts_right(review, owner, monkeypatch):
    from reviewapp.screening import services

    # Small batches, so the rule's transaction locks state rows in several steps while
    # reviewers lock some of the same rows for their votes.
    monkeypatch.setattr(services, "BATCH", 3)
    world = World(review, owner, random.Random(13))
    barrier = threading.Barrier(3)
    errors: list[Exception] = []

    def stop():
        try:
            barrier.wait()
            decisions_automation_exclude(
                membership=world.owner,
                stage="ta",
                record_ids=[r.pk for r in reversed(world.records)],
                details={"rule": {"id": 0}},
                token_for=lambda record_id: uuid.uuid4(),
            )
        except Exception as exc:  # reported below
            errors.append(exc)
        finally:
            connections.close_all()

    def vote(membership, seed):
        rng = random.Random(seed)
        try:
            barrier.wait()
            for record in rng.sample(world.records, len(world.records)):
                with contextlib.suppress(ServiceError):
                    decision_record(
                        membership=membership, record=record, stage="ta", value="include"
                    )
        except Exception as exc:  # reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [
        threading.Thread(target=stop),
        threading.Thread(target=vote, args=(world.screeners[1], 1)),
        threading.Thread(target=vote, args=(world.screeners[2], 2)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not any(t.is_alive() for t in threads), "still waiting after 60 s"
    assert not errors, errors
    assert_kept_equals_recount(review)
