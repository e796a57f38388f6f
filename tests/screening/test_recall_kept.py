"""The dashboard's recall estimate and the ranked queue's due sample read no row per record.

Both used to fetch every eligible record id and hash them all into the sample order on each
call: 0.3 s per ranked pick and per dashboard view on a 100,000-record review, 2-3 s for the
first in each process (BENCHMARKS.md, "recall estimate and ranked pick at 100,000 records").
Now the totals come from the kept counts and only the first records of the sample order are
read. The recount functions do it the old way from every row; here both must agree through
random screening with duplicates linked and undone, full text, a stop by rule and records
added later.
"""

from __future__ import annotations

import contextlib
import random
import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from reviewapp.core.errors import ServiceError
from reviewapp.literature.duplicates import duplicate_mark, duplicate_undo
from reviewapp.screening.constants import QueueOrder
from reviewapp.screening.models import ExclusionReason, StageSettings
from reviewapp.screening.selectors import record_eligible
from reviewapp.screening.services import decision_record, decisions_automation_exclude
from reviewapp.screening.stopping import (
    recall_estimates_get,
    recall_estimates_recount,
    recall_sample_due,
    recall_sample_due_recount,
    stopping_rule_declare,
)
from tests.conftest import membership_of
from tests.factories import ImportFactory, RecordFactory


@pytest.fixture(autouse=True)
def _eager_celery():
    from reviewapp.celery import app

    before = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = before


def _ranked_single(review):
    StageSettings.objects.filter(review=review).update(
        reviewers_required=1, queue_order=QueueOrder.RANKED, retrain_every=1000
    )


def _agree(review):
    for stage in ("ta", "ft"):
        assert recall_sample_due(review, stage) == recall_sample_due_recount(review, stage), stage
    kept = [
        (r.stage, r.estimate, r.screened, r.n_total, r.stopped)
        for r in recall_estimates_get(review)
    ]
    full = [
        (r.stage, r.estimate, r.screened, r.n_total, r.stopped)
        for r in recall_estimates_recount(review)
    ]
    assert repr(kept) == repr(full)  # repr: an estimate with no sample yet holds nan
    return kept


def test_kept_estimate_and_due_sample_equal_the_recount_through_random_screening(
    review, owner, reviewer
):
    rng = random.Random(20261207)
    _ranked_single(review)
    stopping_rule_declare(
        membership=membership_of(owner, review), stage="ft", target_recall=0.8, confidence=0.9
    )
    reason = ExclusionReason.objects.filter(review=review).first()
    imp = ImportFactory(review=review)
    records = RecordFactory.create_batch(240, review=review, source_import=imp)
    me, boss = membership_of(reviewer, review), membership_of(owner, review)
    links = []
    rng.shuffle(records)
    for step in range(8):
        for record in records[step * 25 : step * 25 + 25]:
            if not record_eligible(review, record.pk, "ta"):
                continue  # linked as a duplicate above
            value = "include" if rng.random() < 0.3 else "exclude"
            decision_record(membership=me, record=record, stage="ta", value=value)
            if value == "include" and rng.random() < 0.5:
                ft = "include" if rng.random() < 0.5 else "exclude"
                extra = {"reason_ids": [reason.pk]} if ft == "exclude" else {}
                decision_record(membership=me, record=record, stage="ft", value=ft, **extra)
        # Duplicates come and go: eligibility and so the sample order change under the cache.
        a, b = rng.sample(records, 2)
        with contextlib.suppress(ServiceError):  # already linked either way: no new link
            links.append(duplicate_mark(membership=boss, duplicate_id=a.pk, primary_id=b.pk))
        if links and rng.random() < 0.5:
            duplicate_undo(membership=boss, link_id=links.pop(rng.randrange(len(links))).pk)
        if step == 4:
            # Records found later (a living update) get higher ids: a new order is made.
            records += RecordFactory.create_batch(40, review=review, source_import=imp)
        shown = _agree(review)
        assert [stage for stage, *_ in shown] == ["ta", "ft"]
    # The due sample screened, as the ranked queue serves it: the estimate rests on a sample.
    for rid in recall_sample_due(review, "ta"):
        value = "include" if rng.random() < 0.3 else "exclude"
        decision_record(membership=me, record=review.records.get(pk=rid), stage="ta", value=value)
    (ta, _ft) = _agree(review)
    assert ta[1].sample_size > 0
    # A stop by rule at title/abstract: the records it excludes are not settled by the team.
    left = [r.pk for r in records[200:230] if record_eligible(review, r.pk, "ta")]
    decisions_automation_exclude(
        membership=boss,
        stage="ta",
        record_ids=left,
        details={"rule": {"id": 0}},
        token_for=lambda record_id: uuid.uuid5(uuid.NAMESPACE_URL, f"test:{record_id}"),
    )
    (ta, _ft) = _agree(review)
    assert ta[4] is True  # stopped


def test_the_estimate_reads_the_same_queries_at_any_review_size(review, owner, reviewer):
    _ranked_single(review)
    imp = ImportFactory(review=review)
    me = membership_of(reviewer, review)

    def queries_with(n):
        for record in RecordFactory.create_batch(n, review=review, source_import=imp):
            decision_record(membership=me, record=record, stage="ta", value="exclude")
        recall_estimates_get(review)  # the order made and cached
        with CaptureQueriesContext(connection) as captured:
            recall_estimates_get(review)
            recall_sample_due(review, "ta")
        return len(captured)

    assert queries_with(30) == queries_with(300)
