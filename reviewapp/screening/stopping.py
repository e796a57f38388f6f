"""Stopping screening early by a declared rule: the rule, the recall estimate, the stop itself.

The statistics are the pure functions of reviewapp.screening.ranking.stopping (Callaghan &
Müller-Hansen 2020, Syst Rev 9:273) and ranking.recall (the recall estimate from a random sample:
in a ranked queue one record in RECALL_SAMPLE_EVERY is drawn from a random order of all records
fixed in advance, so the estimate's interval holds whatever the ranking does). The team declares its rule before stopping; stopping records
every record nobody has screened as excluded by an automation tool (a Decision of kind
"automation" carrying the rule and the estimate), which fills PRISMA 2020's "records marked as
ineligible by automation tools".
"""

from __future__ import annotations

import math
import uuid
from array import array
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.db import transaction
from django.db.models import Min
from django.utils import timezone

from reviewapp.audit.constants import Action
from reviewapp.audit.services import Target, audit_fields, audit_record
from reviewapp.core.errors import ServiceError
from reviewapp.core.permissions import require
from reviewapp.reviews.constants import Capability
from reviewapp.reviews.models import Membership, Review
from reviewapp.screening.constants import (
    DecisionKind,
    DecisionValue,
    ScreenState,
    Stage,
    StoppingMethod,
)
from reviewapp.screening.models import Decision, RecordStageState, StageSettings, StoppingRule
from reviewapp.screening.ranking_service import ranking_latest
from reviewapp.screening.selectors import stage_eligible_ids

if TYPE_CHECKING:
    # The ranking package loads scikit-learn; the web process imports it only when needed.
    from reviewapp.screening.ranking.recall import RecallInterval
    from reviewapp.screening.ranking.stopping import StoppingTest

# Without a declared rule the page still shows an estimate, at these usual values.
DEFAULT_TARGET = 0.95
DEFAULT_CONFIDENCE = 0.95
# One record in this many served at title/abstract in a ranked queue is the next record of the
# recall sample: 10% more screening buys an interval that holds (BENCHMARKS.md, "Recall
# estimate calibration"); the ranked records are still 90% of the work.
RECALL_SAMPLE_EVERY = 10
_TOKENS = uuid.UUID("6f1c3e0a-53a7-4d53-9a49-2c1c6b1f7a10")


@dataclass(frozen=True)
class DeclaredSample:
    """A declared random sample of the records left, and what its screening shows so far.

    ``p_value``, ``remaining_high`` and ``recall_low`` (ranking.recall.sample_test and
    sample_remaining_bound) are those of the records settled so far; they are the rule's answer
    only once ``done``.
    """

    rule: StoppingRule
    size: int
    population: int
    settled: int
    hits: int
    found_before: int
    p_value: float
    remaining_high: int
    recall_low: float

    @property
    def pending(self) -> int:
        return self.size - self.settled

    @property
    def alpha(self) -> float:
        return 1 - self.rule.confidence

    @property
    def done(self) -> bool:
        return self.settled == self.size

    @property
    def holds(self) -> bool:
        return self.done and self.p_value < 1 - self.rule.confidence


@dataclass(frozen=True)
class RecallStatus:
    """Where screening of a stage stands against its stopping rule."""

    n_total: int
    screened: int  # records settled by the team (include or exclude), the sample of the test
    found: int
    unscreened: int  # records nobody has voted on: what stopping would exclude
    # From the random sample (ranking.recall.sample_recall); NaN point while the sample is empty.
    estimate: RecallInterval
    test: StoppingTest
    # Recall the stopping test vouches for at the rule's confidence (the test inverted).
    lower_bound: float
    rule: StoppingRule | None
    automated: int  # records already excluded by a stopping rule
    unmet: tuple[str, ...]
    stage: str = Stage.TITLE_ABSTRACT
    # The declared random sample when the rule in force is one (method "random_sample").
    sample: DeclaredSample | None = None

    @property
    def stopped(self) -> bool:
        return self.automated > 0

    @property
    def met(self) -> bool:
        return self.rule is not None and not self.unmet


def _automated_ids(review: Review, stage: str) -> set[int]:
    return set(
        Decision.objects.filter(
            review=review, stage=stage, kind=DecisionKind.AUTOMATION
        ).values_list("record_id", flat=True)
    )


def screened_labels_in_order(review: Review, stage: str, eligible: set[int]) -> list[int]:
    """1 (included) or 0 (excluded) for each record the team has settled at a stage, in the order
    the records were first screened (their first vote), as the stopping test needs them.
    """
    return [label for _rid, label in _settled_in_order(review, stage, eligible)]


def _settled_in_order(review: Review, stage: str, eligible: set[int]) -> list[tuple[int, int]]:
    automated = _automated_ids(review, stage)
    settled = dict(
        RecordStageState.objects.filter(
            review=review, stage=stage, state__in=[ScreenState.INCLUDED, ScreenState.EXCLUDED]
        ).values_list("record_id", "state")
    )
    first_screened = (
        Decision.objects.filter(
            review=review, stage=stage, kind__in=[DecisionKind.VOTE, DecisionKind.ADJUDICATION]
        )
        .exclude(value=DecisionValue.RETRACT)
        .values("record_id")
        .annotate(first=Min("id"))
        .order_by("first")
        .values_list("record_id", flat=True)
    )
    return [
        (rid, 1 if settled[rid] == ScreenState.INCLUDED else 0)
        for rid in first_screened
        if rid in settled and rid in eligible and rid not in automated
    ]


def _settled_labels(review: Review, stage: str, eligible: set[int]) -> dict[int, int]:
    """_settled_in_order's records and labels without their order: the state rows alone, not
    the first vote of each record (the dashboard's estimate needs no order; on a
    100,000-record review that aggregate over every decision is most of the cost)."""
    automated = _automated_ids(review, stage)
    return {
        rid: 1 if state == ScreenState.INCLUDED else 0
        for rid, state in RecordStageState.objects.filter(
            review=review, stage=stage, state__in=[ScreenState.INCLUDED, ScreenState.EXCLUDED]
        ).values_list("record_id", "state")
        if rid in eligible and rid not in automated
    }


def _sample_salt(review: Review, stage: str) -> str:
    return f"recall-sample:{review.pk}:{stage}"


def recall_sample_due(review: Review, stage: str) -> list[int]:
    """Records of the recall sample that are due and that nobody has voted on, in sample order.

    After t records touched (voted on by anyone), the first (t + 1) // RECALL_SAMPLE_EVERY
    records of the sample order are due: the ranked queue serves them first. A due record the
    ranking already served is a free draw. The count due depends on no label, which keeps the
    sample a simple random sample (ranking.recall.sample_interleave is the simulated twin).

    Every ranked pick asks this, so it reads no row per record of the review: t comes from the
    kept counts and only the first records of the sample order are looked at
    (recall_sample_due_recount is the same from every row, for the tests).
    """
    from reviewapp.screening.counts import review_counts

    counts = review_counts(review)
    touched = sum(counts.states[stage].values())
    due = (touched + 1) // RECALL_SAMPLE_EVERY
    if not due:
        return []
    drawn = list(_sample_walk(review, stage, due, counts.records))
    return [rid for rid, state, _automated in drawn if state in (None, ScreenState.UNSCREENED)]


def recall_sample_due_recount(review: Review, stage: str) -> list[int]:
    """recall_sample_due from every eligible record and state row (slow on a big review)."""
    from reviewapp.screening.ranking.recall import sample_order

    eligible = stage_eligible_ids(review, stage)
    touched = set(
        RecordStageState.objects.filter(review=review, stage=stage)
        .exclude(state=ScreenState.UNSCREENED)
        .values_list("record_id", flat=True)
    )
    due = (len(touched.intersection(eligible)) + 1) // RECALL_SAMPLE_EVERY
    if not due:
        return []
    drawn = sample_order(eligible, _sample_salt(review, stage))[:due]
    return [rid for rid in drawn if rid not in touched]


# The review's records in the sample's random order, by review, stage, highest record id and
# the kept count of records: a record added has a higher id, or, committed late by a concurrent
# writer, changes the count; one deleted since is skipped by the walk. The order depends on the
# ids alone, so a key that survives a database restore still names the same order. Shared by
# the web processes through the cache.
_ORDER_LRU: dict[tuple[int, str, int, int], array] = {}
_ORDER_LRU_MAX = 8
_ORDER_CACHE_SECONDS = 24 * 3600


def _records_in_sample_order(review: Review, stage: str, records: int) -> array:
    from django.core.cache import cache
    from django.db.models import Max

    from reviewapp.literature.models import Record
    from reviewapp.screening.ranking.recall import sample_order

    top = Record.objects.filter(review=review).aggregate(top=Max("id"))["top"] or 0
    key = (review.pk, stage, top, records)
    order = _ORDER_LRU.get(key)
    if order is None:
        cache_key = f"recall-order:{review.pk}:{stage}:{top}:{records}"
        stored = cache.get(cache_key)
        if stored is not None:
            order = array("q")
            order.frombytes(stored)
        else:
            ids = list(Record.objects.filter(review=review).values_list("id", flat=True))
            order = array("q", sample_order(ids, _sample_salt(review, stage)))
            cache.set(cache_key, order.tobytes(), _ORDER_CACHE_SECONDS)
        _ORDER_LRU[key] = order
        while len(_ORDER_LRU) > _ORDER_LRU_MAX:
            _ORDER_LRU.pop(next(iter(_ORDER_LRU)))
    return order


def _sample_walk(review: Review, stage: str, limit: int, records: int):
    """The first ``limit`` records of the stage's sample order (the eligible records in their
    random order, as ranking.recall.sample_order gives them) with their state (None without a
    row) and whether a stopping rule excluded them, read a chunk of the order at a time."""
    from reviewapp.literature.models import DuplicateLink, Record
    from reviewapp.screening.selectors import _ta_included

    order = _records_in_sample_order(review, stage, records)
    start, given = 0, 0
    # Enough ids for ``limit`` eligible ones when a few are duplicates; another chunk if not.
    size = limit + limit // 8 + 100
    while given < limit and start < len(order):
        chunk = order[start : start + size].tolist()
        start += size
        size = min(2 * size, 20000)
        eligible = set(
            Record.objects.filter(review=review, id__in=chunk).values_list("id", flat=True)
        )
        eligible -= set(
            DuplicateLink.objects.filter(
                duplicate_id__in=chunk, undone_at__isnull=True
            ).values_list("duplicate_id", flat=True)
        )
        if stage == Stage.FULL_TEXT:
            eligible &= set(
                _ta_included(review).filter(record_id__in=chunk).values_list("record_id", flat=True)
            )
        states = dict(
            RecordStageState.objects.filter(
                review=review, stage=stage, record_id__in=chunk
            ).values_list("record_id", "state")
        )
        automated = set(
            Decision.objects.filter(
                review=review, stage=stage, kind=DecisionKind.AUTOMATION, record_id__in=chunk
            ).values_list("record_id", flat=True)
        )
        for rid in chunk:
            if rid in eligible:
                yield rid, states.get(rid), rid in automated
                given += 1
                if given == limit:
                    return


@dataclass(frozen=True)
class StageRecall:
    """A stage's recall estimate as the dashboard shows it."""

    stage: str
    label: str
    estimate: RecallInterval
    screened: int
    n_total: int
    stopped: bool


def recall_estimates_get(review: Review, counts=None) -> list[StageRecall]:
    """The recall estimate with its interval for each stage that has one to show: a ranked
    queue (which serves the random sample) or a declared stopping rule. The estimate is
    recall_status's (ranking.recall.sample_recall), without the stopping test.

    The dashboard shows it, so it reads no row per record of the review: the totals come from
    the kept counts (``counts``, screening.counts.review_counts, when the caller has them) and
    the sample from the first records of its order (recall_estimates_recount is the same from
    every row, for the tests).
    """
    from reviewapp.screening.counts import review_counts
    from reviewapp.screening.ranking.recall import sample_recall

    stages = _recall_stages(review)
    if not stages:
        return []
    counts = counts or review_counts(review)
    out = []
    for stage, confidence in stages:
        n_total = counts.stage(stage).eligible
        states = counts.states[stage]
        found = states[(ScreenState.INCLUDED.value, False)]
        screened = found + states[(ScreenState.EXCLUDED.value, False)]
        size = hits = 0
        for _rid, state, automated in _sample_walk(
            review, stage, screened // RECALL_SAMPLE_EVERY, counts.records
        ):
            if automated or state not in (ScreenState.INCLUDED, ScreenState.EXCLUDED):
                break
            size += 1
            hits += state == ScreenState.INCLUDED
        out.append(
            StageRecall(
                stage=stage,
                label=Stage(stage).label,
                estimate=sample_recall(
                    n_total=n_total,
                    found=found,
                    screened=screened,
                    sample_size=size,
                    sample_includes=hits,
                    confidence=confidence,
                ),
                screened=screened,
                n_total=n_total,
                stopped=bool(sum(n for (_state, automated), n in states.items() if automated)),
            )
        )
    return out


def _recall_stages(review: Review) -> list[tuple[str, float]]:
    """The stages with an estimate to show and the confidence of each."""
    ranked = set(
        StageSettings.objects.filter(review=review, queue_order="ranked").values_list(
            "stage", flat=True
        )
    )
    rules = {
        rule.stage: rule
        for rule in StoppingRule.objects.filter(review=review)
        .order_by("id")
        .only("stage", "confidence")
    }
    return [
        (stage, rules[stage].confidence if stage in rules else DEFAULT_CONFIDENCE)
        for stage in Stage.values
        if stage in ranked or stage in rules
    ]


def recall_estimates_recount(review: Review) -> list[StageRecall]:
    """recall_estimates_get from every eligible record and state row (slow on a big
    review): what it must always equal, for the tests."""
    from reviewapp.screening.ranking.recall import sample_order, sample_prefix, sample_recall

    out = []
    for stage, confidence in _recall_stages(review):
        eligible = stage_eligible_ids(review, stage)
        settled = _settled_labels(review, stage, set(eligible))
        found = sum(settled.values())
        size, hits = sample_prefix(
            sample_order(eligible, _sample_salt(review, stage)),
            settled,
            len(settled) // RECALL_SAMPLE_EVERY,
        )
        estimate = sample_recall(
            n_total=len(eligible),
            found=found,
            screened=len(settled),
            sample_size=size,
            sample_includes=hits,
            confidence=confidence,
        )
        out.append(
            StageRecall(
                stage=stage,
                label=Stage(stage).label,
                estimate=estimate,
                screened=len(settled),
                n_total=len(eligible),
                stopped=bool(_automated_ids(review, stage)),
            )
        )
    return out


def stopping_rule_current(review: Review, stage: str) -> StoppingRule | None:
    """The rule in force: the latest one declared for the stage."""
    return StoppingRule.objects.filter(review=review, stage=stage).order_by("-id").first()


def _unscreened_ids(review: Review, stage: str, eligible: list[int]) -> list[int]:
    touched = set(
        RecordStageState.objects.filter(review=review, stage=stage)
        .exclude(state=ScreenState.UNSCREENED)
        .values_list("record_id", flat=True)
    )
    return [rid for rid in eligible if rid not in touched]


def recall_status(review: Review, stage: str) -> RecallStatus:
    """Estimated recall so far with its interval, and the stopping test, for a stage.

    Every eligible record is the population (n_total), so records awaiting a second vote or in
    conflict count as unseen. Estimate: ranking.recall.sample_recall from the first
    screened // RECALL_SAMPLE_EVERY records of the stage's random sample order (fewer if one of
    them is not settled yet), an exact interval. Test: ranking.stopping.stopping_test
    (Callaghan & Müller-Hansen 2020) on the records settled in the order first screened, at the
    declared rule's target and confidence, or 95%/95% before one is declared.
    """
    from reviewapp.screening.ranking.recall import sample_order, sample_prefix, sample_recall
    from reviewapp.screening.ranking.stopping import recall_lower_bound, stopping_test

    eligible = stage_eligible_ids(review, stage)
    settled = _settled_in_order(review, stage, set(eligible))
    labels = [label for _rid, label in settled]
    rule = stopping_rule_current(review, stage)
    target = rule.target_recall if rule else DEFAULT_TARGET
    confidence = rule.confidence if rule else DEFAULT_CONFIDENCE
    n_total = len(eligible)
    test = stopping_test(labels, n_total, target=target, confidence=confidence)
    size, hits = sample_prefix(
        sample_order(eligible, _sample_salt(review, stage)),
        dict(settled),
        len(labels) // RECALL_SAMPLE_EVERY,
    )
    estimate = sample_recall(
        n_total=n_total,
        found=sum(labels),
        screened=len(labels),
        sample_size=size,
        sample_includes=hits,
        confidence=confidence,
    )
    declared = (
        _declared_sample(rule, dict(settled), sum(labels))
        if rule is not None and rule.method == StoppingMethod.RANDOM_SAMPLE
        else None
    )
    unmet = []
    if rule is None:
        unmet.append("no stopping rule has been declared")
    else:
        if len(labels) < rule.min_screened:
            unmet.append(
                f"{len(labels)} records screened, fewer than the {rule.min_screened} the rule "
                "asks for"
            )
        if declared is not None:
            if not declared.done:
                unmet.append(
                    f"{declared.pending} of the {declared.size} records of the declared random "
                    "sample are not settled yet"
                )
            elif not declared.holds:
                unmet.append(
                    f"the random sample held {declared.hits} included records, too many to "
                    f"reject 'recall below {rule.target_recall:.0%}': p = "
                    f"{declared.p_value:.3f}, not below {1 - rule.confidence:.2f}"
                )
        elif not test.stop:
            unmet.append(
                f"the test cannot yet reject 'recall below {rule.target_recall:.0%}': "
                f"p = {test.p_value:.3f}, not below {1 - rule.confidence:.2f}"
            )
    return RecallStatus(
        n_total=n_total,
        screened=len(labels),
        found=sum(labels),
        unscreened=len(_unscreened_ids(review, stage, eligible)),
        estimate=estimate,
        test=test,
        lower_bound=recall_lower_bound(labels, n_total, confidence=confidence),
        rule=rule,
        automated=len(_automated_ids(review, stage)),
        unmet=tuple(unmet),
        stage=stage,
        sample=declared,
    )


def _declared_sample(rule: StoppingRule, settled: dict[int, int], found: int) -> DeclaredSample:
    """Where a declared random sample stands: its records settled so far and their includes,
    with the test and bound of ranking.recall on them. Includes found outside the sample count
    as found before it (they do not depend on the sample's draw, which keeps the test exact).
    """
    from reviewapp.screening.ranking.recall import sample_remaining_bound, sample_test

    sample = [int(rid) for rid in rule.sample_ids]
    labels = [settled[rid] for rid in sample if rid in settled]
    hits = sum(labels)
    population = rule.sample_population or 0
    found_before = found - hits
    p = sample_test(
        unscreened=population,
        found_before=found_before,
        draws=len(labels),
        hits=hits,
        target=rule.target_recall,
        confidence=rule.confidence,
    )
    remaining = sample_remaining_bound(
        unscreened=population, draws=len(labels), hits=hits, confidence=rule.confidence
    )
    return DeclaredSample(
        rule=rule,
        size=len(sample),
        population=population,
        settled=len(labels),
        hits=hits,
        found_before=found_before,
        p_value=p,
        remaining_high=remaining,
        recall_low=found / (found + remaining) if found + remaining else 1.0,
    )


def declared_sample_pending(settings: StageSettings, limit: int) -> list[int]:
    """The first ``limit`` records of the stage's declared random sample that nobody has voted
    on, in the sample's order: what the queue serves before the stage's own order. Empty when
    no sample is declared (the settings say so without a query).
    """
    if settings.sample_rule_id is None:
        return []
    sample = (
        StoppingRule.objects.filter(pk=settings.sample_rule_id)
        .values_list("sample_ids", flat=True)
        .first()
    ) or []
    pending: list[int] = []
    # In chunks, in sample order: a sample can hold most of a 100,000-record review.
    for start in range(0, len(sample), 500):
        chunk = [int(rid) for rid in sample[start : start + 500]]
        open_ = set(
            RecordStageState.objects.filter(
                review_id=settings.review_id,
                stage=settings.stage,
                record_id__in=chunk,
                state=ScreenState.UNSCREENED,
            ).values_list("record_id", flat=True)
        )
        pending += [rid for rid in chunk if rid in open_]
        if len(pending) >= limit:
            break
    return pending[:limit]


@transaction.atomic
def stopping_rule_declare(
    *,
    membership: Membership,
    stage: str,
    target_recall: float,
    confidence: float,
    min_screened: int = 0,
    method: str = StoppingMethod.HYPERGEOMETRIC,
    note: str = "",
) -> StoppingRule:
    """Declare (or re-declare) a stage's stopping rule before stopping (owners and admins).

    Rules are never edited: each declaration is a new row, with how many records had been
    screened when it was made, so a rule changed mid-screening shows as such.
    """
    require(membership, Capability.MANAGE_REVIEW)
    review = membership.review
    if stage not in Stage.values:
        raise ServiceError(f"'{stage}' is not a screening stage.", field="stage")
    if method not in StoppingMethod.values:
        raise ServiceError(f"'{method}' is not a stopping method.", field="method")
    if not 0.5 <= target_recall < 1:
        raise ServiceError("The target recall must lie between 50% and 100%.", field="target")
    if not 0.5 <= confidence < 1:
        raise ServiceError("The confidence must lie between 50% and 100%.", field="confidence")
    if min_screened < 0:
        raise ServiceError("The minimum to screen cannot be negative.", field="min_screened")
    if _automated_ids(review, stage):
        raise ServiceError("Screening of this stage has been stopped; the rule is final.")
    eligible = stage_eligible_ids(review, stage)
    labels = screened_labels_in_order(review, stage, set(eligible))
    sample: dict = {}
    if method == StoppingMethod.RANDOM_SAMPLE:
        sample = _sample_draw(review, stage, eligible, sum(labels), target_recall, confidence)
    rule = StoppingRule.objects.create(
        review=review,
        stage=stage,
        method=method,
        target_recall=target_recall,
        confidence=confidence,
        min_screened=min_screened,
        note=note.strip()[:2000],
        declared_by=membership.user,
        screened_when_declared=len(labels),
        **sample,
    )
    # The queue serves a declared sample first; any other rule ends an earlier sample's turn.
    StageSettings.objects.filter(review=review, stage=stage).update(
        sample_rule=rule if sample else None
    )
    audited = ["method", "target_recall", "confidence", "min_screened", "note"]
    if sample:
        audited += ["sample_population", "found_when_declared"]
    audit_record(
        review=review,
        actor=membership,
        action=Action.STOPPING_RULE_DECLARED,
        target=Target("stage", stage, Stage(stage).label),
        after={
            **audit_fields(rule, audited),
            **({"sample_size": len(rule.sample_ids)} if sample else {}),
        },
    )
    return rule


def _sample_draw(
    review: Review,
    stage: str,
    eligible: list[int],
    found: int,
    target: float,
    confidence: float,
) -> dict:
    """The declared sample's fields: its size from the hypergeometric bound
    (ranking.recall.sample_size_for_stop: no include in it rejects "recall below target"), and
    the records, drawn uniformly from those nobody has voted on with the operating system's
    randomness (unknown in advance to anyone screening)."""
    import secrets

    from reviewapp.screening.ranking.recall import sample_size_for_stop

    unscreened = _unscreened_ids(review, stage, eligible)
    if not unscreened:
        raise ServiceError("Every record has been screened: there is nothing left to sample.")
    size = sample_size_for_stop(
        unscreened=len(unscreened), found=found, target=target, confidence=confidence
    )
    return {
        "sample_population": len(unscreened),
        "found_when_declared": found,
        "sample_ids": secrets.SystemRandom().sample(unscreened, size),
    }


def screening_stop(*, membership: Membership, stage: str) -> int:
    """Stop screening a stage by its declared rule (owners and admins); returns how many records
    were excluded by automation.

    Refuses, with the numbers, unless a rule is declared and met. Every eligible record nobody
    has voted on gets an automation exclusion (services.decisions_automation_exclude) whose details
    carry the rule, the estimate with its interval, the p-value and the ranking in use. Records
    already voted on (waiting for a second vote, in conflict, maybe) are left for the team.
    """
    from reviewapp.screening.services import decisions_automation_exclude

    require(membership, Capability.MANAGE_REVIEW)
    review = membership.review
    if stage not in Stage.values:
        raise ServiceError(f"'{stage}' is not a screening stage.", field="stage")
    status = recall_status(review, stage)
    if status.rule is None:
        raise ServiceError("Declare a stopping rule before stopping screening.")
    if status.unmet:
        raise ServiceError(
            "The stopping rule is not met: "
            + "; ".join(status.unmet)
            + f". {status.screened} screened of {status.n_total}, {status.found} included; "
            f"{recall_sentence(status.estimate)}."
        )
    rule, e, test = status.rule, status.estimate, status.test
    ranking = ranking_latest(review, stage)
    details: dict[str, object] = {
        "rule": {
            "id": rule.pk,
            "method": rule.method,
            "target_recall": rule.target_recall,
            "confidence": rule.confidence,
            "min_screened": rule.min_screened,
            "declared_at": rule.declared_at.isoformat(),
            "declared_by": rule.declared_by.get_username(),
        },
        # JSON (PostgreSQL jsonb) has no NaN: no estimate is None.
        "estimate": e.recall if e.has_estimate else None,
        "interval": [e.recall_low, e.recall_high],
        "sample": {"size": e.sample_size, "includes": e.sample_includes},
        "recall_lower_bound": status.lower_bound,
        "remaining_includes": None if math.isnan(e.remaining) else e.remaining,
        "p_value": test.p_value,
        "screened": status.screened,
        "found": status.found,
        "n_total": status.n_total,
        "ranking_id": ranking.pk if ranking else None,
        "stopped_at": timezone.now().isoformat(),
    }
    if status.sample is not None:
        d = status.sample
        details["declared_sample"] = {
            "size": d.size,
            "population": d.population,
            "includes": d.hits,
            "found_before": d.found_before,
            "p_value": d.p_value,
            "remaining_high": d.remaining_high,
            "recall_low": d.recall_low,
        }
    ids = _unscreened_ids(review, stage, stage_eligible_ids(review, stage))
    StageSettings.objects.filter(review=review, stage=stage).update(sample_rule=None)
    return decisions_automation_exclude(
        membership=membership,
        stage=stage,
        record_ids=ids,
        details=details,
        # One token per rule and record: stopping twice (a retried request) excludes each once.
        token_for=lambda record_id: uuid.uuid5(_TOKENS, f"{rule.pk}:{record_id}"),
    )


def recall_sentence(estimate: RecallInterval, digits: int = 0) -> str:
    """'estimated recall 80% (95% interval 61% to 97%) from a random sample of 40 records' or,
    while the sample is empty, the interval that is certain without one."""
    e, f = estimate, f".{digits}%"
    level = f"{e.confidence:.0%}"
    if not e.has_estimate:
        return (
            f"no recall estimate yet (no record of the random sample screened); recall lies "
            f"between {e.recall_low:{f}} and 100%"
        )
    return (
        f"estimated recall {e.recall:{f}} ({level} interval {e.recall_low:{f}} to "
        f"{e.recall_high:{f}}) from a random sample of {e.sample_size} records, "
        f"{e.sample_includes} included"
    )


def stop_details(review: Review, stage: str) -> dict | None:
    """The rule and estimate recorded when the stage was stopped, or None if it was not."""
    return (
        Decision.objects.filter(review=review, stage=stage, kind=DecisionKind.AUTOMATION)
        .order_by("id")
        .values_list("details", flat=True)
        .first()
    )


def methods_text(review: Review, stage: str) -> str:
    """A paragraph for the methods section: the model, the stopping rule, the numbers, the date."""
    from reviewapp.screening.ranking import PRESETS

    settings = StageSettings.objects.get(review=review, stage=stage)
    ranking = ranking_latest(review, stage)
    status = recall_status(review, stage)
    stopped = stop_details(review, stage)
    lines = [f"# Screening prioritisation and stopping: {review.title}", ""]
    stage_name = Stage(stage).label.lower()
    if ranking is not None or settings.queue_order == "ranked":
        preset = PRESETS.get(ranking.preset if ranking else settings.ranking_preset)
        lines.append(
            f"Records were screened at the {stage_name} stage in an order set by an active-learning "
            f"model (reviewapp preset '{preset.name if preset else settings.ranking_preset}'"
            + (f"; {preset.source}" if preset else "")
            + f"), retrained after every {settings.retrain_every} new decisions."
        )
        if ranking is not None:
            lines.append(
                f"The last ranking was computed on {ranking.finished_at:%Y-%m-%d} from "
                f"{ranking.training_size} screened records ({ranking.n_includes} included, "
                f"{ranking.n_excludes} excluded) of {ranking.n_records}."
            )
    else:
        lines.append(f"Records were screened at the {stage_name} stage without prioritisation.")
    rule = status.rule
    if rule is not None:
        lines.append(
            f"Before stopping, the team declared its stopping rule on {rule.declared_at:%Y-%m-%d} "
            f"(after {rule.screened_when_declared} records had been screened): "
            f"{rule.get_method_display()}, stopping once the hypothesis that recall is below "
            f"{rule.target_recall:.0%} could be rejected at {rule.confidence:.0%} confidence"
            + (
                f", and not before {rule.min_screened} records were screened"
                if rule.min_screened
                else ""
            )
            + "."
        )
    d = status.sample
    if d is not None:
        rule = d.rule
        lines.append(
            f"The team declared a random sample of {d.size} of the {d.population} records nobody "
            f"had screened ({d.found_before} relevant records found outside it), the size at "
            f"which a sample holding no relevant record rejects 'recall below "
            f"{rule.target_recall:.0%}' at {rule.confidence:.0%} confidence by the "
            "hypergeometric test; the sample was drawn before any of it was screened and was "
            "screened first."
            + (
                f" It held {d.hits} relevant records (p = {d.p_value:.4f}); with "
                f"{rule.confidence:.0%} confidence at most {d.remaining_high} relevant records "
                f"remained unscreened, a recall of at least {d.recall_low:.1%}."
                if d.done
                else f" {d.settled} of its {d.size} records had been screened by "
                f"{timezone.now():%Y-%m-%d}."
            )
        )
    if stopped:
        low, high = stopped["interval"]
        estimate = stopped["estimate"]
        sample = stopped.get("sample")
        lines.append(
            f"Screening stopped on {stopped['stopped_at'][:10]} after {stopped['screened']} of "
            f"{stopped['n_total']} records had been screened, finding {stopped['found']} "
            f"relevant records (p = {stopped['p_value']:.4f}). The estimated recall was "
            + ("not available" if estimate is None else f"{estimate:.1%}")
            + f" ({stopped['rule']['confidence']:.0%} interval {low:.1%} to {high:.1%}"
            + (
                f", from a random sample of {sample['size']} records, {sample['includes']} included"
                if sample
                else ""
            )
            + "); the stopping test vouched for a recall of at least "
            f"{stopped.get('recall_lower_bound', 0):.1%}. The {status.automated} records not "
            "screened were "
            "marked as ineligible by an automation tool (PRISMA 2020)."
        )
    else:
        e = status.estimate
        lines.append(
            f"Screening has not been stopped by rule. As of {timezone.now():%Y-%m-%d}, "
            f"{status.screened} of {status.n_total} records were screened and {status.found} "
            f"included; {recall_sentence(e, 1)}; recall at least "
            f"{status.lower_bound:.1%} at {e.confidence:.0%} confidence by the stopping test, "
            f"p = {status.test.p_value:.4f}."
        )
    lines += [
        "",
        "Recall was estimated from a random sample of the records (the ranked queue serves one "
        f"record in {RECALL_SAMPLE_EVERY} from a random order of all records fixed in advance), "
        "with an exact hypergeometric interval; the stopping test is the "
        "hypergeometric test of Callaghan & Müller-Hansen 2020 (Systematic Reviews 9:273); the "
        "ranking model follows ASReview (van de Schoot et al. 2021, Nature Machine Intelligence "
        "3:125-133).",
        "",
    ]
    return "\n".join(lines)
