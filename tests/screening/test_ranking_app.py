"""Ranked screening queues in the app: the switch, cold start, retraining, dual screening."""

import pytest
from django.urls import reverse

from reviewapp.screening.constants import QueueOrder, RankingStatus
from reviewapp.screening.models import Ranking, StageSettings
from reviewapp.screening.queue import lease_release, queue_next
from reviewapp.screening.ranking_service import ranking_request, ranking_train
from reviewapp.screening.services import decision_record, decision_undo
from reviewapp.screening.tasks import ranking_train_task
from tests.conftest import membership_of
from tests.factories import ImportFactory, RecordFactory

ON_TOPIC = "Natalizumab withdrawal and disease reactivation rebound in relapsing multiple sclerosis"
OFF_TOPIC = "Statin therapy and cholesterol in coronary heart disease outcomes"


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


def _settings(review, **fields):
    StageSettings.objects.filter(review=review, stage="ta").update(**fields)


@pytest.fixture
def topical(review):
    """Ten records in file order: off-topic ones first, on-topic ones last."""
    imp = ImportFactory(review=review)
    off = [RecordFactory(review=review, source_import=imp, title=OFF_TOPIC) for _ in range(6)]
    on = [RecordFactory(review=review, source_import=imp, title=ON_TOPIC) for _ in range(4)]
    return off, on


@pytest.fixture
def vote(review, django_capture_on_commit_callbacks):
    def vote(user, record, value):
        # Run the after-commit hook as production does (tests otherwise roll back without it).
        with django_capture_on_commit_callbacks(execute=True):
            decision_record(
                membership=membership_of(user, review), record=record, stage="ta", value=value
            )

    return vote


def test_an_owner_switches_the_queue_to_ranked_order_and_back(
    client, owner, review, records, django_capture_on_commit_callbacks
):
    client.force_login(owner)
    url = reverse("screening:prioritisation", args=[review.slug, "ta"])
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            url, {"action": "settings", "ranked": "on", "preset": "nb", "retrain_every": "5"}
        )
    assert response.status_code == 302
    settings = StageSettings.objects.get(review=review, stage="ta")
    assert (settings.queue_order, settings.ranking_preset, settings.retrain_every) == (
        QueueOrder.RANKED,
        "nb",
        5,
    )
    # Switching on trains at once (eagerly here); with no labels yet it keeps the plain order.
    ranking = Ranking.objects.get(review=review, stage="ta")
    assert (ranking.status, ranking.trained, ranking.preset) == (RankingStatus.DONE, False, "nb")
    client.post(url, {"action": "settings", "preset": "nb", "retrain_every": "5"})
    assert StageSettings.objects.get(review=review, stage="ta").queue_order == "file_order"


def test_the_ranked_queue_keeps_file_order_until_one_include_and_one_exclude_exist(
    review, reviewer, reviewer2, topical, vote
):
    off, on = topical
    _settings(review, queue_order=QueueOrder.RANKED, reviewers_required=1, retrain_every=1)
    vote(reviewer, on[0], "include")
    vote(reviewer, on[1], "include")
    assert queue_next(review, "ta", reviewer2, limit=3) == [r.pk for r in off[:3]]
    lease_release(review, "ta", reviewer2)

    vote(reviewer, off[0], "exclude")
    latest = Ranking.objects.filter(review=review, status="done").first()
    assert latest.trained and (latest.n_includes, latest.n_excludes) == (2, 1)
    # The on-topic records, last in the file, now come first.
    assert queue_next(review, "ta", reviewer2, limit=2) == [on[2].pk, on[3].pk]


def test_retraining_after_n_decisions_stores_the_ranking_with_its_settings_and_training_size(
    review, reviewer, topical, vote
):
    off, on = topical
    _settings(review, queue_order=QueueOrder.RANKED, reviewers_required=1, retrain_every=3)
    vote(reviewer, on[0], "include")  # the first decision asks for a (cold) ranking
    vote(reviewer, off[0], "exclude")  # include and exclude both exist: train at once
    assert Ranking.objects.count() == 2
    vote(reviewer, off[1], "exclude")
    vote(reviewer, off[2], "exclude")
    assert Ranking.objects.count() == 2  # two decisions since the last ranking, N is 3
    vote(reviewer, off[3], "exclude")
    assert Ranking.objects.count() == 3
    latest = Ranking.objects.first()
    assert latest.status == RankingStatus.DONE
    assert (latest.training_size, latest.n_includes, latest.n_excludes) == (5, 1, 4)
    assert latest.decisions_seen == 5 and latest.n_records == 10
    assert latest.model_settings["name"] == "elas_u4"
    assert latest.model_settings["classifier"] == "svm" and latest.model_settings["seed"] == 0
    assert "scikit_learn" in latest.model_settings
    assert sorted(latest.record_ids) == sorted(r.pk for r in off + on)


def test_an_undo_counts_towards_the_next_retraining_and_its_label_leaves_the_model(
    review, reviewer, topical, vote, django_capture_on_commit_callbacks
):
    off, on = topical
    _settings(review, queue_order=QueueOrder.RANKED, reviewers_required=1, retrain_every=2)
    vote(reviewer, on[0], "include")
    vote(reviewer, off[0], "exclude")  # include and exclude both exist: trained
    vote(reviewer, off[1], "exclude")
    assert Ranking.objects.count() == 2  # one decision since the last ranking, N is 2
    with django_capture_on_commit_callbacks(execute=True):
        decision_undo(membership=membership_of(reviewer, review), stage="ta")
    assert Ranking.objects.count() == 3
    latest = Ranking.objects.first()
    assert latest.status == RankingStatus.DONE
    assert (latest.training_size, latest.n_includes, latest.n_excludes) == (2, 1, 1)


def test_a_retried_training_task_claims_nothing_and_a_second_request_gets_the_queued_one(
    review, topical
):
    first = ranking_request(review=review, stage="ta")
    assert ranking_request(review=review, stage="ta") == first
    ranking_train_task.delay(first.pk)
    done = Ranking.objects.get(pk=first.pk)
    assert done.status == RankingStatus.DONE
    ranking_train(ranking_id=first.pk)  # a broker redelivery
    assert Ranking.objects.get(pk=first.pk).finished_at == done.finished_at
    assert Ranking.objects.count() == 1


def test_a_failed_training_is_written_to_its_row_and_the_queue_keeps_going(
    review, reviewer, topical
):
    _settings(review, queue_order=QueueOrder.RANKED)
    ranking = ranking_request(review=review, stage="ta")
    Ranking.objects.filter(pk=ranking.pk).update(preset="no-such-model")
    failed = ranking_train(ranking_id=ranking.pk)
    assert failed.status == RankingStatus.FAILED and "no-such-model" in failed.error
    assert len(queue_next(review, "ta", reviewer, limit=2)) == 2


def test_in_dual_screening_with_ranking_a_half_decided_record_comes_before_new_ranked_ones(
    review, owner, reviewer, reviewer2, topical, vote
):
    off, on = topical
    _settings(review, queue_order=QueueOrder.RANKED, retrain_every=1)
    for record, value in ((on[0], "include"), (off[0], "exclude")):
        vote(reviewer, record, value)
        vote(reviewer2, record, value)
    assert Ranking.objects.filter(trained=True).exists()
    # The owner votes on an off-topic record, ranked last; it waits for a second vote.
    vote(owner, off[5], "exclude")
    assert queue_next(review, "ta", reviewer, limit=3) == [off[5].pk, on[1].pk, on[2].pk]


def test_the_screening_page_says_when_the_ranking_was_last_updated(
    client, review, reviewer, topical, vote
):
    off, on = topical
    _settings(review, queue_order=QueueOrder.RANKED, reviewers_required=1, retrain_every=1)
    client.force_login(reviewer)
    page = client.get(reverse("screening:screen", args=[review.slug, "ta"])).content.decode()
    assert "file order until the team has included one and excluded one" in page
    vote(reviewer, on[0], "include")
    vote(reviewer, off[0], "exclude")
    page = client.get(reverse("screening:screen", args=[review.slug, "ta"])).content.decode()
    assert "ranking last updated" in page and "from 2 decisions" in page


def test_a_reviewer_cannot_change_prioritisation_or_ask_for_a_retrain(
    client, review, reviewer, records
):
    client.force_login(reviewer)
    url = reverse("screening:prioritisation", args=[review.slug, "ta"])
    assert client.get(url).status_code == 200
    for data in (
        {"action": "settings", "ranked": "on", "preset": "nb", "retrain_every": "5"},
        {"action": "retrain"},
    ):
        assert client.post(url, data).status_code == 403
    assert StageSettings.objects.get(review=review, stage="ta").queue_order == "file_order"
    assert not Ranking.objects.exists()


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_a_ranking_is_trained_in_a_real_worker_process(celery_worker, review, reviewer, topical):
    queue, _hostname = celery_worker
    off, on = topical
    _settings(review, reviewers_required=1)  # file order while voting: no task goes elsewhere
    for record, value in ((on[0], "include"), (off[0], "exclude")):
        decision_record(
            membership=membership_of(reviewer, review), record=record, stage="ta", value=value
        )
    _settings(review, queue_order=QueueOrder.RANKED)
    ranking = ranking_request(review=review, stage="ta")
    ranking_train_task.apply_async(args=[ranking.pk], queue=queue).get(timeout=120)
    ranking.refresh_from_db()
    assert ranking.status == RankingStatus.DONE, ranking.error
    assert ranking.trained and ranking.training_size == 2
    assert queue_next(review, "ta", reviewer, limit=2) == [on[1].pk, on[2].pk]
    # A redelivered task finds the row claimed and does nothing.
    ranking_train_task.apply_async(args=[ranking.pk], queue=queue).get(timeout=120)
    assert Ranking.objects.get(pk=ranking.pk).finished_at == ranking.finished_at


def test_a_merged_primary_is_ranked_on_its_clusters_merged_abstract(
    review, owner, reviewer, topical, vote
):
    from reviewapp.literature import merges
    from reviewapp.literature.models import DuplicateLink

    off, on = topical
    _settings(review, reviewers_required=1)
    plain = "Registry report, cohort"
    # The same title and no abstract: only the merge tells the primary apart from `alone`.
    alone = RecordFactory(review=review, title=plain, abstract="")
    primary = RecordFactory(review=review, title=plain, abstract="")
    duplicate = RecordFactory(review=review, title=plain, abstract=ON_TOPIC)
    DuplicateLink.objects.create(
        review=review, primary=primary, duplicate=duplicate, rule="title_year_author"
    )
    vote(reviewer, on[0], "include")
    vote(reviewer, off[0], "exclude")

    def order():
        ranking = ranking_train(ranking_id=ranking_request(review=review, stage="ta").pk)
        assert ranking.status == RankingStatus.DONE and ranking.trained, ranking.error
        assert duplicate.pk not in ranking.record_ids  # a duplicate is not screened
        return ranking.record_ids

    before = order()
    merges.cluster_merge(membership=membership_of(owner, review), primary_id=primary.pk)
    after = order()
    assert after.index(primary.pk) < after.index(alone.pk)
    assert after.index(primary.pk) < min(after.index(r.pk) for r in off[1:])
    assert before.index(primary.pk) > after.index(primary.pk)
