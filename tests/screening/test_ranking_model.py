"""The ranking model's parts: features, balancer, classifier, query strategy and the Ranker."""

import numpy as np
import pytest

from reviewapp.screening.ranking import PRESETS, Ranker, preset_get, record_text, tfidf_features
from reviewapp.screening.ranking.balance import balanced_sample_weight
from reviewapp.screening.ranking.classifiers import classifier_make, classifier_scores
from reviewapp.screening.ranking.query import max_query

CATS = [
    "Cats purr when content: a study of domestic cats",
    "Feline behaviour: why cats purr and knead",
    "Dogs bark at strangers: canine alarm behaviour",
    "Training dogs to stop barking",
    "Purring in large cats such as cheetahs",
    "Canine obedience and barking dogs",
]
# Rows 0, 1 and 4 are about cats (the includes of this toy review).


def test_record_text_joins_title_and_abstract_and_treats_missing_as_empty():
    assert record_text("Title.", "Abstract") == "Title. Abstract"
    assert record_text(None, "Abstract") == " Abstract"
    assert record_text("Title", None) == "Title "


def test_tfidf_features_have_one_l2_normalised_row_per_record_and_bigrams():
    features = tfidf_features(CATS, preset_get("elas_u4").features)
    assert features.shape[0] == len(CATS)
    norms = np.sqrt(features.multiply(features).sum(axis=1)).A1
    np.testing.assert_allclose(norms, 1.0)
    unigram_only = tfidf_features(CATS, {"ngram_range": (1, 1)})
    assert features.shape[1] > unigram_only.shape[1]


def test_tfidf_features_of_blank_records_are_empty_not_an_error():
    features = tfidf_features(["", " "], preset_get("elas_u4").features)
    assert features.shape[0] == 2
    assert features.nnz == 0


def test_balanced_weights_match_asreview_formula():
    # ratio 1, one include and three excludes: include weight 1, exclude 1/(1*3) = 1/3; the sum
    # 2 is scaled to the sample count 4, so [2, 2/3, 2/3, 2/3].
    np.testing.assert_allclose(
        balanced_sample_weight(np.array([1, 0, 0, 0]), 1.0), [2, 2 / 3, 2 / 3, 2 / 3]
    )
    # ratio 9.8 puts an include 9.8 * 3 times above an exclude; weights still sum to 4.
    weights = balanced_sample_weight(np.array([1, 0, 0, 0]), 9.8)
    assert weights.sum() == pytest.approx(4)
    assert weights[0] / weights[1] == pytest.approx(9.8 * 3)


def test_balanced_weights_need_both_classes():
    with pytest.raises(ValueError, match="labels 0 and 1"):
        balanced_sample_weight(np.array([1, 1]), 1.0)


def test_max_query_serves_highest_score_first_and_keeps_given_order_on_ties():
    scores = np.array([0.1, 0.9, 0.5, 0.9, 0.0])
    assert max_query(scores, np.array([0, 1, 2, 3, 4])).tolist() == [1, 3, 2, 0, 4]
    assert max_query(scores, np.array([4, 3, 1])).tolist() == [3, 1, 4]


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_each_preset_ranks_the_unlabelled_cat_records_first(name):
    ranker = Ranker(name, seed=0).fit(CATS, [0, 2], [1, 0])
    assert ranker.scores_.shape == (len(CATS),)
    assert sorted(ranker.rank([1, 3, 4, 5])[:2].tolist()) == [1, 4]


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_presets_name_their_source(name):
    assert "ASReview" in PRESETS[name].source


def test_classifier_scores_are_deterministic_for_a_seed():
    features = tfidf_features(CATS, preset_get("elas_u4").features)
    y = np.array([1, 1, 0, 0, 1, 0])
    first = classifier_scores(
        classifier_make("svm", {"C": 0.11}, seed=3).fit(features, y), features
    )
    again = classifier_scores(
        classifier_make("svm", {"C": 0.11}, seed=3).fit(features, y), features
    )
    np.testing.assert_array_equal(first, again)


def test_ranker_keeps_plain_order_until_one_include_and_one_exclude():
    ranker = Ranker("elas_u4").fit(CATS, [2], [0])
    assert not ranker.is_trained
    assert ranker.rank([5, 0, 1]).tolist() == [5, 0, 1]
    ranker.fit(CATS, [0, 1], [1, 1])
    assert ranker.rank([2, 3, 4, 5]).tolist() == [2, 3, 4, 5]
    ranker.fit(CATS, [0, 1, 2], [1, 1, 0])
    assert ranker.is_trained


def test_ranker_fits_features_once_and_reuses_them_for_the_same_texts():
    ranker = Ranker("elas_u4").fit(CATS, [0, 2], [1, 0])
    features = ranker.features_
    ranker.fit(list(CATS), [0, 2, 4], [1, 0, 1])
    assert ranker.features_ is features
    ranker.fit([*CATS, "A new record about cats"], [0, 2], [1, 0])
    assert ranker.features_.shape[0] == len(CATS) + 1


def test_ranker_rejects_bad_labels_and_indices():
    ranker = Ranker("nb")
    with pytest.raises(ValueError, match="0 or 1"):
        ranker.fit(CATS, [0, 1], [1, 2])
    with pytest.raises(ValueError, match="must lie in"):
        ranker.fit(CATS, [0, 6], [1, 0])
    with pytest.raises(ValueError, match="differ in length"):
        ranker.fit(CATS, [0, 1], [1])


def test_unknown_preset_names_the_known_ones():
    with pytest.raises(ValueError, match="elas_u4"):
        Ranker("bert")
