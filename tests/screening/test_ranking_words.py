"""Records keep their words: tokenised once (after an import or at the first training that needs
them), reused by every retrain, refreshed when a record's text changes, and ranked exactly as
scikit-learn ranks the texts."""

import threading
from pathlib import Path

import numpy as np
import pytest
from django.db import connection

from reviewapp.literature.models import Record
from reviewapp.literature.services import import_create
from reviewapp.literature.tasks import import_run_task
from reviewapp.screening.constants import QueueOrder, RankingStatus, ScreenState
from reviewapp.screening.models import (
    Ranking,
    RankingWord,
    RecordStageState,
    RecordWords,
    StageSettings,
)
from reviewapp.screening.queue import queue_next
from reviewapp.screening.ranking import Ranker, labelled_csv_read, record_text
from reviewapp.screening.ranking import features as ranking_features
from reviewapp.screening.ranking_service import ranking_request, ranking_train
from reviewapp.screening.ranking_words import (
    record_words_fill,
    record_words_fill_after,
    stage_words,
)
from reviewapp.screening.state import state_rows_sync
from reviewapp.screening.stopping import recall_sample_due
from reviewapp.screening.tasks import ranking_train_task
from tests.conftest import membership_of
from tests.factories import ImportFactory, RecordFactory

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
ANTIHISTAMINES = FIXTURES / "labelled" / "Cohen_2006_Antihistamines.csv"


@pytest.fixture(autouse=True)
def _eager_celery(request):
    """Tasks run in-process even when REDIS_URL is set, except with the real worker."""
    from reviewapp.celery import app

    if "celery_worker" in request.fixturenames:
        yield
        return
    before = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = before


@pytest.fixture
def tokenised(monkeypatch):
    """Counts the texts tokenised (every tokenisation goes through ranking.features.word_tokens)."""
    calls = []
    real = ranking_features.word_tokens

    def counting(text):
        calls.append(text)
        return real(text)

    monkeypatch.setattr(ranking_features, "word_tokens", counting)
    return calls


def _cohen_review(review, n_includes=5, n_excludes=60):
    """The Cohen 2006 antihistamines review (310 real titles and abstracts) as records of
    `review`, with its first includes and excludes settled at title/abstract."""
    data = labelled_csv_read(ANTIHISTAMINES)
    imp = ImportFactory(review=review)
    records = Record.objects.bulk_create(
        Record(
            review=review,
            source_import=imp,
            source_position=i + 1,
            title=title,
            abstract=abstract,
        )
        for i, (title, abstract) in enumerate(_titles_abstracts())
    )
    state_rows_sync(review)
    y = np.asarray(data.labels)
    settled = {
        **{i: ScreenState.INCLUDED for i in np.flatnonzero(y == 1)[:n_includes]},
        **{i: ScreenState.EXCLUDED for i in np.flatnonzero(y == 0)[:n_excludes]},
    }
    for i, state in settled.items():
        RecordStageState.objects.filter(record=records[i], stage="ta").update(state=state)
    StageSettings.objects.filter(review=review, stage="ta").update(queue_order=QueueOrder.RANKED)
    return records


def _titles_abstracts():
    import csv

    with ANTIHISTAMINES.open(encoding="utf-8") as fh:
        return [(row["title"], row["abstract"]) for row in csv.DictReader(fh)]


def _train(review, preset="elas_u4"):
    StageSettings.objects.filter(review=review, stage="ta").update(ranking_preset=preset)
    ranking = ranking_train(ranking_id=ranking_request(review=review, stage="ta").pk)
    assert ranking.status == RankingStatus.DONE, ranking.error
    return ranking


def _order_from_texts(review, preset):
    """The order today's path gives: scikit-learn's TF-IDF on the texts, then the ranker."""
    rows = list(
        Record.objects.filter(review=review).order_by("id").values_list("id", "title", "abstract")
    )
    states = dict(
        RecordStageState.objects.filter(
            review=review, stage="ta", state__in=[ScreenState.INCLUDED, ScreenState.EXCLUDED]
        ).values_list("record_id", "state")
    )
    labelled = [i for i, (rid, _, _) in enumerate(rows) if rid in states]
    labels = [1 if states[rows[i][0]] == ScreenState.INCLUDED else 0 for i in labelled]
    unlabelled = [i for i in range(len(rows)) if i not in set(labelled)]
    ranker = Ranker(preset, seed=0).fit([record_text(t, a) for _, t, a in rows], labelled, labels)
    ids = [rid for rid, _, _ in rows]
    return [ids[i] for i in ranker.rank(unlabelled)] + [ids[i] for i in ranker.rank(labelled)]


@pytest.mark.parametrize("preset", ["elas_u4", "nb"])
def test_a_training_from_kept_words_orders_records_exactly_as_from_the_texts(review, preset):
    _cohen_review(review)
    cold = _train(review, preset)
    warm = _train(review, preset)
    expected = _order_from_texts(review, preset)
    assert cold.trained and cold.record_ids == expected
    assert warm.record_ids == expected


def test_the_first_training_keeps_every_records_words_and_the_next_tokenises_none(
    review, tokenised
):
    records = _cohen_review(review)
    first = _train(review)
    assert first.records_tokenised == len(records) == len(tokenised)
    assert RecordWords.objects.filter(record__review=review).count() == len(records)
    tokenised.clear()
    second = _train(review, "nb")  # another preset reuses the same words
    assert second.records_tokenised == 0 and tokenised == []


def test_loading_kept_words_takes_one_query_and_their_strings_one_more(
    review, django_assert_num_queries
):
    _cohen_review(review)
    record_words_fill(review_id=review.pk)
    with django_assert_num_queries(1):
        kept = stage_words(Record.objects.filter(review=review))
    with django_assert_num_queries(1):
        docs = kept.docs()
    assert kept.tokenised == 0 and docs.n_docs == len(kept.record_ids) == 310


def test_a_retrain_on_unchanged_words_reuses_the_matrix_and_any_change_rebuilds_it(
    review, monkeypatch
):
    from reviewapp.screening import ranking_service

    records = _cohen_review(review)
    ranking_service._FEATURES.clear()
    built = []
    real = ranking_features.tfidf_from_tokens

    def counting(docs, params=None):
        built.append(docs.n_docs)
        return real(docs, params)

    monkeypatch.setattr(ranking_features, "tfidf_from_tokens", counting)
    first = _train(review)
    assert _train(review).record_ids == first.record_ids and built == [310]
    Record.objects.filter(pk=records[5].pk).update(title="Loratadine for chronic urticaria")
    assert _train(review).record_ids == _order_from_texts(review, "elas_u4")
    assert built == [310, 310]
    RecordFactory(review=review, title="Levocetirizine in perennial allergic rhinitis")
    state_rows_sync(review)
    assert _train(review).record_ids == _order_from_texts(review, "elas_u4")
    assert built == [310, 310, 311]


def test_records_added_after_a_training_are_tokenised_at_the_next_one(review, tokenised):
    _cohen_review(review)
    _train(review)
    late = RecordFactory.create_batch(
        3, review=review, abstract="Desloratadine in seasonal allergic rhinitis"
    )
    state_rows_sync(review)
    tokenised.clear()
    ranking = _train(review)
    assert ranking.records_tokenised == 3 == len(tokenised)
    assert set(ranking.record_ids) >= {r.pk for r in late}
    assert ranking.record_ids == _order_from_texts(review, "elas_u4")


def test_a_record_whose_text_changed_is_tokenised_again_and_ranked_on_its_new_text(
    review, tokenised
):
    records = _cohen_review(review)
    _train(review)
    changed = records[200]
    # Any change of title or abstract, whichever path makes it (here a plain UPDATE).
    new_abstract = "Fexofenadine relieves symptoms of seasonal allergic rhinitis in adults."
    Record.objects.filter(pk=changed.pk).update(abstract=new_abstract)
    tokenised.clear()
    ranking = _train(review)
    assert ranking.records_tokenised == 1
    assert tokenised == [record_text(changed.title, new_abstract)]
    assert ranking.record_ids == _order_from_texts(review, "elas_u4")
    assert _train(review).records_tokenised == 0


def test_a_change_of_title_or_abstract_drops_the_words_at_once_and_nothing_else_does(review):
    changed, untouched = RecordFactory.create_batch(2, review=review, abstract="Cetirizine")
    record_words_fill(review_id=review.pk)
    kept = RecordWords.objects.filter(record__review=review)
    Record.objects.filter(review=review).update(year=2020, journal="J Allergy")
    Record.objects.filter(pk=changed.pk).update(abstract="Cetirizine")  # the same text
    assert kept.count() == 2
    Record.objects.filter(pk=changed.pk).update(abstract="Levocetirizine")
    assert list(kept.values_list("record_id", flat=True)) == [untouched.pk]
    changed.refresh_from_db()
    changed.title = "Another title"
    changed.save()
    assert record_words_fill(review_id=review.pk) == 1
    untouched.title = "A new title"
    untouched.save()  # through the ORM as well
    assert list(kept.values_list("record_id", flat=True)) == [changed.pk]


def test_the_fill_after_an_import_keeps_the_words_of_the_imported_records(review, owner):
    baseline = FIXTURES / "ris" / "_baseline.ris"
    with baseline.open("rb") as fileobj:
        imp = import_create(
            membership=membership_of(owner, review), fileobj=fileobj, file_name=baseline.name
        )
    import_run_task.delay(imp.pk)
    imp.refresh_from_db()
    record_words_fill_after(imp)
    records = Record.objects.filter(review=review)
    assert records.count() > 0
    assert RecordWords.objects.filter(record__review=review).count() == records.count()
    assert record_words_fill(review_id=review.pk) == 0


def test_words_are_one_dictionary_shared_by_reviews_and_records_only_point_into_it(
    review, other_review
):
    for r in (review, other_review):
        RecordFactory(review=r, title="Cetirizine versus loratadine", abstract="Cetirizine")
    assert record_words_fill(review_id=review.pk) == 1
    assert record_words_fill(review_id=other_review.pk) == 1
    assert RankingWord.objects.filter(word="cetirizine").count() == 1
    words = dict(RankingWord.objects.values_list("id", "word"))
    for kept in RecordWords.objects.all():
        ids = np.frombuffer(bytes(kept.ids), dtype="<u4")
        assert [words[i] for i in ids] == ["cetirizine", "versus", "loratadine", "cetirizine"]


@pytest.fixture
def other_review(owner):
    from reviewapp.reviews.services import review_create

    return review_create(title="Another review", slug="another-review", owner=owner)


@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="needs PostgreSQL (DATABASE_URL): SQLite serialises writers, so nothing runs at once",
)
@pytest.mark.django_db(transaction=True)
def test_two_fills_of_the_same_records_at_once_both_finish_with_one_id_per_word(review):
    _cohen_review(review)
    errors = []

    def fill():
        try:
            record_words_fill(review_id=review.pk)
        except Exception as exc:  # reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=fill) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    assert RecordWords.objects.count() == 310
    keys = list(RankingWord.objects.values_list("key", flat=True))
    assert len(keys) == len(set(map(bytes, keys)))
    assert record_words_fill(review_id=review.pk) == 0


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_the_worker_keeps_the_words_at_the_first_training_and_reuses_them_at_the_next(
    celery_worker, review, reviewer
):
    queue, _hostname = celery_worker
    records = _cohen_review(review)

    def train_in_worker():
        ranking = ranking_request(review=review, stage="ta")
        ranking_train_task.apply_async(args=[ranking.pk], queue=queue).get(timeout=120)
        ranking.refresh_from_db()
        assert ranking.status == RankingStatus.DONE, ranking.error
        return ranking

    first = train_in_worker()
    assert first.records_tokenised == len(records)
    assert RecordWords.objects.filter(record__review=review).count() == len(records)
    second = train_in_worker()
    assert second.records_tokenised == 0
    assert second.record_ids == first.record_ids == _order_from_texts(review, "elas_u4")
    # The recall sample's due records come first (one in ten screened), then the ranking.
    due = recall_sample_due(review, "ta")
    ranked = [rid for rid in first.record_ids if rid not in due]
    assert queue_next(review, "ta", reviewer, limit=3) == (due + ranked)[:3]
    assert Ranking.objects.filter(review=review, status=RankingStatus.DONE).count() == 2
