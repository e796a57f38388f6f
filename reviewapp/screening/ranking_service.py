"""Active-learning prioritisation in the app: settings, (re)training as a task, the ranked queue.

The model itself is the pure package reviewapp.screening.ranking (imported lazily here, so the web
process does not load scikit-learn until it trains). A training is a Ranking row: requested
(queued), claimed by one task (running) with a conditional update, then done or failed with the
error the prioritisation page shows. The queue reads the latest finished ranking; reviewers never
wait for a training, which runs in a Celery worker after every N new decisions or on request.
"""

from __future__ import annotations

import dataclasses
import logging
from collections import OrderedDict

from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, QuerySet
from django.utils import timezone

from reviewapp.audit.constants import Action
from reviewapp.audit.services import Target, audit_fields, audit_record
from reviewapp.core.errors import ServiceError
from reviewapp.core.jobs import JobLost, job_claim, job_enqueue, stale_running
from reviewapp.core.permissions import require
from reviewapp.literature.selectors import merged_values, records_unique
from reviewapp.reviews.constants import Capability
from reviewapp.reviews.models import Membership, Review
from reviewapp.screening.constants import (
    DecisionKind,
    QueueOrder,
    RankingStatus,
    ScreenState,
    Stage,
)
from reviewapp.screening.models import Decision, Ranking, RecordStageState, StageSettings
from reviewapp.screening.queue import FileOrder, strategy_register

logger = logging.getLogger(__name__)

# The same seed for every training, so a ranking can be reproduced from its stored settings.
SEED = 0
RETRAIN_EVERY_MAX = 1000


def presets_available() -> dict:
    """The model presets a review may choose, name -> Preset (with its source)."""
    from reviewapp.screening.ranking import PRESETS

    return PRESETS


def _decision_count(review_id: int, stage: str) -> int:
    return Decision.objects.filter(
        review_id=review_id, stage=stage, kind__in=[DecisionKind.VOTE, DecisionKind.ADJUDICATION]
    ).count()


def _stage_records(review: Review, stage: str) -> QuerySet:
    """The records a stage ranks (the queryset form of selectors.stage_eligible_ids)."""
    records = records_unique(review).order_by("id")
    if stage == Stage.FULL_TEXT:
        included = RecordStageState.objects.filter(
            record_id=OuterRef("pk"), stage=Stage.TITLE_ABSTRACT, state=ScreenState.INCLUDED
        )
        records = records.filter(Exists(included))
    return records


RANKING_AUDITED = ["queue_order", "ranking_preset", "retrain_every"]


@transaction.atomic
def ranking_settings_set(
    *,
    membership: Membership,
    stage: str,
    ranked: bool,
    preset: str,
    retrain_every: int,
) -> StageSettings:
    """Switch a stage's ranked order on or off and choose the model preset and N (owners and
    admins). Switching it on asks for a training at once; until the stage has an include and an
    exclude the queue keeps its plain (file) order.
    """
    require(membership, Capability.MANAGE_REVIEW)
    if stage not in Stage.values:
        raise ServiceError(f"'{stage}' is not a screening stage.", field="stage")
    if preset not in presets_available():
        raise ServiceError(
            f"'{preset}' is not a model preset; choose {', '.join(sorted(presets_available()))}.",
            field="preset",
        )
    if not 1 <= retrain_every <= RETRAIN_EVERY_MAX:
        raise ServiceError(
            f"Retrain after between 1 and {RETRAIN_EVERY_MAX} decisions.", field="retrain_every"
        )
    settings = StageSettings.objects.get(review=membership.review, stage=stage)
    before = audit_fields(settings, RANKING_AUDITED)
    was_ranked = settings.queue_order == QueueOrder.RANKED
    changed_model = settings.ranking_preset != preset
    if ranked:
        settings.queue_order = QueueOrder.RANKED
    elif was_ranked:
        settings.queue_order = QueueOrder.FILE_ORDER
    settings.ranking_preset = preset
    settings.retrain_every = retrain_every
    settings.save(update_fields=["queue_order", "ranking_preset", "retrain_every", "updated_at"])
    audit_record(
        review=membership.review,
        actor=membership,
        action=Action.STAGE_MODE_CHANGED,
        target=Target("stage", stage, settings.get_stage_display()),
        before=before,
        after=audit_fields(settings, RANKING_AUDITED),
    )
    if ranked and (not was_ranked or changed_model):
        ranking_enqueue(
            ranking_request(review=membership.review, stage=stage, requested_by=membership.user)
        )
    return settings


def ranking_request(*, review: Review, stage: str, requested_by=None) -> Ranking:
    """Ask for a training of the stage's ranking model; returns the queued (or already queued or
    running) Ranking. Queue its task with ranking_enqueue. One at a time per stage: a database
    constraint keeps a second request from adding another.
    """
    if stage not in Stage.values:
        raise ServiceError(f"'{stage}' is not a screening stage.", field="stage")
    in_flight = Ranking.objects.filter(
        review=review, stage=stage, status__in=[RankingStatus.QUEUED, RankingStatus.RUNNING]
    ).first()
    if in_flight is not None:
        # A training whose worker died is failed here so a new one can be asked for now, rather
        # than after core.jobs_recover has requeued it.
        given_up = Ranking.objects.filter(stale_running(timezone.now()), pk=in_flight.pk).update(
            status=RankingStatus.FAILED,
            claim_token="",
            error="The worker training this ranking stopped before finishing.",
            finished_at=timezone.now(),
        )
        if not given_up:
            return in_flight
    settings = StageSettings.objects.get(review=review, stage=stage)
    try:
        with transaction.atomic():
            return Ranking.objects.create(
                review=review,
                stage=stage,
                requested_by=requested_by,
                preset=settings.ranking_preset,
                decisions_seen=_decision_count(review.pk, stage),
            )
    except IntegrityError:
        # Another request queued one between our check and our insert.
        return Ranking.objects.get(
            review=review, stage=stage, status__in=[RankingStatus.QUEUED, RankingStatus.RUNNING]
        )


def ranking_retrain_ask(*, membership: Membership, stage: str) -> Ranking:
    """Retrain now, on an owner's or admin's request (queued in the background)."""
    require(membership, Capability.MANAGE_REVIEW)
    ranking = ranking_request(review=membership.review, stage=stage, requested_by=membership.user)
    ranking_enqueue(ranking)
    return ranking


def ranking_enqueue(ranking: Ranking) -> None:
    """Send the training task once the current transaction commits (a no-op if it is not queued)."""
    if ranking.status != RankingStatus.QUEUED:
        return
    job_enqueue(ranking)


def ranking_train(*, ranking_id: int) -> Ranking:
    """Train the model of a queued Ranking on the stage's settled decisions and store the order.

    Labels are the settled states at the stage (included 1, excluded 0; records excluded by a
    stopping rule are not labels); texts are title and abstract (ranking.record_text). Claims the
    row first (core.jobs.job_claim), so a duplicated task does nothing while the training's worker
    is alive, and a redelivered one takes it back once that worker's heartbeat stopped. A failure
    is written to the row, not raised: the queue keeps the previous ranking.
    """
    claim = job_claim(Ranking, ranking_id)
    if claim is None:
        return Ranking.objects.get(pk=ranking_id)
    ranking = Ranking.objects.get(pk=ranking_id)
    try:
        with claim.heartbeat():
            claim.step()
            fields = _ranking_compute(ranking)
        claim.finish(status=RankingStatus.DONE, finished_at=timezone.now(), **fields)
    except JobLost:
        logger.warning("ranking %s was taken over by a later attempt", ranking_id)
    except Exception as exc:
        logger.exception("ranking %s failed", ranking_id)
        Ranking.objects.filter(pk=ranking_id, claim_token=claim.token).update(
            status=RankingStatus.FAILED,
            error=f"Training stopped on an internal error ({exc.__class__.__name__}: {exc}); "
            "the queue keeps the previous ranking.",
            finished_at=timezone.now(),
        )
    ranking.refresh_from_db()
    return ranking


def _ranking_compute(ranking: Ranking) -> dict:
    import sklearn

    from reviewapp.screening.ranking import Ranker, preset_get

    preset = preset_get(ranking.preset)
    review, stage = ranking.review, ranking.stage
    ids, features, tokenised = _stage_features(
        _stage_records(review, stage), preset, merged=_merged_texts(review)
    )
    automated = set(
        Decision.objects.filter(
            review=review, stage=stage, kind=DecisionKind.AUTOMATION
        ).values_list("record_id", flat=True)
    )
    settled = {
        rid: state
        for rid, state in RecordStageState.objects.filter(
            review=review, stage=stage, state__in=[ScreenState.INCLUDED, ScreenState.EXCLUDED]
        ).values_list("record_id", "state")
        if rid not in automated
    }
    labelled, labels, unlabelled = [], [], []
    for i, rid in enumerate(ids):
        if rid in settled:
            labelled.append(i)
            labels.append(1 if settled[rid] == ScreenState.INCLUDED else 0)
        else:
            unlabelled.append(i)
    ranker = Ranker(preset, seed=SEED).fit_features(features, labelled, labels)
    order = []
    if ranker.is_trained:
        order = [ids[i] for i in ranker.rank(unlabelled)] + [ids[i] for i in ranker.rank(labelled)]
    n_includes = sum(labels)
    return {
        "model_settings": {
            **dataclasses.asdict(preset),
            "seed": SEED,
            "scikit_learn": sklearn.__version__,
        },
        "training_size": len(labelled),
        "n_includes": n_includes,
        "n_excludes": len(labels) - n_includes,
        "n_records": len(ids),
        "trained": ranker.is_trained,
        "records_tokenised": tokenised,
        "record_ids": order,
    }


# TF-IDF matrices of this worker process's latest trainings, keyed by the exact words they were
# built from (KeptWords.key) and the preset's feature settings: a retrain whose records and words
# are unchanged (no import or text change since) reuses the matrix instead of rebuilding it. Two
# entries: a 20,000-record review's matrix takes about 70 MB.
_FEATURES: OrderedDict[tuple, object] = OrderedDict()
_FEATURES_MAX = 2


def _merged_texts(review: Review) -> dict[int, str]:
    """The text each merged cluster's primary is ranked on: the cluster's merged title and
    abstract (ranking.record_text), as the reviewer reads the record (one query). Other records
    are ranked on their own, exactly as before (ASReview's title and abstract; keywords are not
    part of the ranked text for any record, merged or not)."""
    from reviewapp.screening.ranking import record_text

    return {
        pid: record_text(values.get("title"), values.get("abstract"))
        for pid, values in merged_values(review).items()
    }


def _stage_features(
    records: QuerySet, preset, *, merged: dict[int, str] | None = None
) -> tuple[list[int], object, int]:
    """(record ids, TF-IDF matrix, records tokenised now) of the records a stage ranks, ordered
    by id. The matrix is built from the words each record keeps (ranking_words), equal to the
    one scikit-learn fits on the texts; a preset whose settings need the texts gets that.
    ``merged``: record id -> text for merged primaries (``_merged_texts``), used instead of
    their own title and abstract.
    """
    from reviewapp.screening.ranking import record_text, tfidf_features
    from reviewapp.screening.ranking.features import tfidf_from_tokens, tokens_supported
    from reviewapp.screening.ranking_words import stage_words

    merged = merged or {}
    if tokens_supported(preset.features):
        kept = stage_words(records, merged)
        key = (kept.key, repr(sorted(preset.features.items())))
        if key not in _FEATURES:
            _FEATURES[key] = tfidf_from_tokens(kept.docs(), preset.features)
            while len(_FEATURES) > _FEATURES_MAX:
                _FEATURES.popitem(last=False)
        _FEATURES.move_to_end(key)
        return kept.record_ids, _FEATURES[key], kept.tokenised
    rows = list(records.order_by("id").values_list("id", "title", "abstract"))
    texts = [
        merged[rid] if rid in merged else record_text(title, abstract)
        for rid, title, abstract in rows
    ]
    return [rid for rid, _, _ in rows], tfidf_features(texts, preset.features), len(rows)


def ranking_after_decision(*, review_id: int, stage: str, queue_order: str | None = None) -> None:
    """Called after each decision: once it commits, queue a training if N new decisions have
    been made since the last one (or the first include-and-exclude pair just appeared). The
    check runs after the commit, outside the reviewer's transaction, and training in a worker.
    queue_order: the stage's order as the caller read it in this request; when it is not the
    ranked order there is nothing to check.
    """
    if queue_order is not None and queue_order != QueueOrder.RANKED:
        return
    transaction.on_commit(lambda: _retrain_if_due(review_id=review_id, stage=stage))


def _retrain_if_due(*, review_id: int, stage: str) -> Ranking | None:
    settings = (
        StageSettings.objects.filter(review_id=review_id, stage=stage)
        .select_related("review")
        .first()
    )
    if settings is None or settings.queue_order != QueueOrder.RANKED:
        return None
    latest = Ranking.objects.filter(review_id=review_id, stage=stage).order_by("-id").first()
    if latest is not None and latest.status in (RankingStatus.QUEUED, RankingStatus.RUNNING):
        return None
    due = latest is None or (
        _decision_count(review_id, stage) - latest.decisions_seen >= settings.retrain_every
    )
    if not due and latest is not None and not latest.trained:
        # The first include-and-exclude pair makes a model possible: train without waiting.
        states = RecordStageState.objects.filter(review_id=review_id, stage=stage)
        due = (
            states.filter(state=ScreenState.INCLUDED).exists()
            and states.filter(state=ScreenState.EXCLUDED).exists()
        )
    if not due:
        return None
    ranking = ranking_request(review=settings.review, stage=stage)
    ranking_enqueue(ranking)
    return ranking


def ranking_latest(review: Review, stage: str) -> Ranking | None:
    """The latest finished ranking of a stage (without its record order), or None."""
    return (
        Ranking.objects.filter(review=review, stage=stage, status=RankingStatus.DONE)
        .defer("record_ids")
        .order_by("-id")
        .first()
    )


# Finished rankings never change, so their order is kept in memory, keyed by id and finish time
# (the time too, because a rolled-back transaction can hand an id out again on SQLite).
_ORDERS: OrderedDict[tuple, list[int]] = OrderedDict()
_ORDERS_MAX = 8


def _order_of(review_id: int, stage: str) -> list[int]:
    latest = (
        Ranking.objects.filter(review_id=review_id, stage=stage, status=RankingStatus.DONE)
        .order_by("-id")
        .values_list("pk", "finished_at", "trained")
        .first()
    )
    if latest is None or not latest[2]:
        return []
    key = latest[:2]
    if key not in _ORDERS:
        _ORDERS[key] = Ranking.objects.values_list("record_ids", flat=True).get(pk=latest[0])
        while len(_ORDERS) > _ORDERS_MAX:
            _ORDERS.popitem(last=False)
    _ORDERS.move_to_end(key)
    return _ORDERS[key]


class RankedOrder:
    """Records by the latest ranking's scores, most likely relevant first.

    Records the ranking does not know (imported or made eligible after it) come after the ranked
    ones, in file order. Without a trained ranking (no include and exclude yet) it is file order.
    Records waiting for a second vote are put before any of these by the queue itself. At either
    stage, records of the recall sample that are due (stopping.recall_sample_due: one in
    ten) come first, so the recall estimate rests on a true random sample.
    """

    def pick(
        self,
        candidates: QuerySet[RecordStageState],
        *,
        review: Review,
        stage: str,
        user,
        limit: int,
    ) -> list[int]:
        from reviewapp.screening.stopping import recall_sample_due

        due = recall_sample_due(review, stage)
        free = set(candidates.filter(record_id__in=due).values_list("record_id", flat=True))
        picked = [rid for rid in due if rid in free][:limit]
        if len(picked) >= limit:
            return picked
        candidates = candidates.exclude(record_id__in=picked)
        order = _order_of(review.pk, stage)
        if not order:
            return picked + FileOrder().pick(
                candidates, review=review, stage=stage, user=user, limit=limit - len(picked)
            )
        start, size = 0, max(4 * limit, 200)
        while start < len(order) and len(picked) < limit:
            chunk = order[start : start + size]
            found = set(candidates.filter(record_id__in=chunk).values_list("record_id", flat=True))
            picked += [rid for rid in chunk if rid in found][: limit - len(picked)]
            start, size = start + size, min(4 * size, 5000)
        if len(picked) < limit:
            # Every ranked candidate is in `picked` now; the rest are unknown to the ranking.
            picked += list(
                candidates.exclude(record_id__in=picked)
                .order_by("record_id")
                .values_list("record_id", flat=True)[: limit - len(picked)]
            )
        return picked


def register() -> None:
    strategy_register(QueueOrder.RANKED, RankedOrder())
