"""TF-IDF from kept words equals scikit-learn's TF-IDF from the texts, bit for bit.

The reference is always ``TfidfVectorizer(**params).fit_transform(texts)`` (through
``tfidf_features``, today's path): equal index arrays, equal float64 values and equal entry order
within rows mean every later step (the SVM's liblinear, Naive Bayes) computes the same numbers, so
the ranking, and ASReview parity with it, cannot move.
"""

from pathlib import Path

import numpy as np
import pytest

from reviewapp.screening.ranking import PRESETS, Ranker, labelled_csv_read, tfidf_features
from reviewapp.screening.ranking.features import (
    _sort_with_positions,
    tfidf_from_tokens,
    tokens_from_texts,
    tokens_supported,
    word_tokens,
)

LABELLED = Path(__file__).resolve().parents[1] / "fixtures" / "labelled"
DATASETS = sorted(LABELLED.glob("*.csv"))


def _assert_same_matrix(ours, reference):
    assert type(ours) is type(reference)
    assert ours.shape == reference.shape
    for name in ("indptr", "indices", "data"):
        a, b = getattr(ours, name), getattr(reference, name)
        assert a.dtype == b.dtype, name
        np.testing.assert_array_equal(a, b, err_msg=name, strict=True)


def _texts(path):
    return labelled_csv_read(path).texts


@pytest.fixture(scope="module")
def cohen():
    return {path.stem: labelled_csv_read(path) for path in DATASETS}


def test_the_labelled_fixtures_are_there():
    assert [p.stem for p in DATASETS] == ["Cohen_2006_Antihistamines", "Cohen_2006_NSAIDS"]


@pytest.mark.parametrize("preset", sorted(PRESETS))
@pytest.mark.parametrize("path", DATASETS, ids=lambda p: p.stem)
def test_features_from_words_equal_scikit_learns_on_the_labelled_reviews(preset, path):
    texts = _texts(path)
    params = PRESETS[preset].features
    _assert_same_matrix(
        tfidf_from_tokens(tokens_from_texts(texts), params), tfidf_features(texts, params)
    )


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_features_from_words_equal_scikit_learns_on_both_reviews_in_one(preset, cohen):
    texts = [t for data in cohen.values() for t in data.texts]
    params = PRESETS[preset].features
    _assert_same_matrix(
        tfidf_from_tokens(tokens_from_texts(texts), params), tfidf_features(texts, params)
    )


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"ngram_range": (1, 2), "max_df": 0.5},  # prunes common words: columns dropped
        {"ngram_range": (1, 2), "min_df": 2, "max_df": 0.95},
        {"ngram_range": (1, 2), "min_df": 0.01, "max_df": 40},
        {"ngram_range": (2, 2), "sublinear_tf": True},
        {"ngram_range": (1, 2), "stop_words": "english"},
        {"stop_words": ["the", "of", "and", "patients"], "max_df": 0.8},
        {"norm": "l1", "use_idf": False},
        {"norm": None, "smooth_idf": False, "sublinear_tf": True},
    ],
    ids=repr,
)
def test_features_from_words_equal_scikit_learns_for_other_settings(params, cohen):
    texts = cohen["Cohen_2006_NSAIDS"].texts
    assert tokens_supported(params)
    _assert_same_matrix(
        tfidf_from_tokens(tokens_from_texts(texts), params), tfidf_features(texts, params)
    )


TRICKY = [
    # Prefixes and bigrams that sort between words ("ab" < "ab cd" < "ab_" < "abc"), digits,
    # underscores, accents, non-Latin scripts, case folding that changes length, empty records.
    "ab cd ab_ abc ab ab cd ab",
    "abc ab_ ab cd 42 4242 x y",
    "",
    "Über élan ÜBER Élan naïve café CAFÉ",
    "İstanbul ΣΊΣΥΦΟΣ σίσυφος 東京 東京大学 東京",
    "   ...   ",
    "ab ab ab ab",
]


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_features_from_words_equal_scikit_learns_on_awkward_text(preset):
    params = PRESETS[preset].features
    _assert_same_matrix(
        tfidf_from_tokens(tokens_from_texts(TRICKY), params), tfidf_features(TRICKY, params)
    )


@pytest.mark.parametrize(
    ("texts", "params"),
    [
        (["One single record about cats and dogs"], PRESETS["elas_u4"].features),  # max_df < min_df
        (["same words here", "same words here"], {"max_df": 0.5}),  # every term pruned
        (["", "  "], PRESETS["elas_u4"].features),  # no words at all
        (["the and of", "it is"], PRESETS["nb"].features),  # stop words only
        ([], PRESETS["elas_u4"].features),
    ],
)
def test_the_fallbacks_for_tiny_or_empty_reviews_are_the_same(texts, params):
    _assert_same_matrix(
        tfidf_from_tokens(tokens_from_texts(texts), params), tfidf_features(texts, params)
    )


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_a_ranker_on_features_from_words_scores_exactly_as_on_the_texts(preset, cohen):
    data = cohen["Cohen_2006_Antihistamines"]
    y = np.asarray(data.labels)
    labelled = np.concatenate([np.flatnonzero(y == 1)[:5], np.flatnonzero(y == 0)[:60]])
    unlabelled = np.setdiff1d(np.arange(len(y)), labelled)
    today = Ranker(preset, seed=0).fit(data.texts, labelled, y[labelled])
    kept = Ranker(preset, seed=0).fit_features(
        tfidf_from_tokens(tokens_from_texts(data.texts), PRESETS[preset].features),
        labelled,
        y[labelled],
    )
    np.testing.assert_array_equal(kept.scores_, today.scores_, strict=True)
    assert kept.rank(unlabelled).tolist() == today.rank(unlabelled).tolist()


def test_word_tokens_are_the_words_scikit_learn_sees():
    from sklearn.feature_extraction.text import CountVectorizer

    analyse = CountVectorizer().build_analyzer()
    for text in TRICKY + _texts(DATASETS[0])[:50]:
        assert word_tokens(text) == analyse(text)


def test_settings_the_words_cannot_reproduce_are_refused():
    assert not tokens_supported({"max_features": 100})
    assert not tokens_supported({"ngram_range": (1, 3)})
    assert not tokens_supported({"analyzer": "char"})
    with pytest.raises(TypeError, match="need the texts"):
        tfidf_from_tokens(tokens_from_texts(["a text"]), {"token_pattern": r"\w+"})


def test_wide_keys_sort_by_the_stable_argsort_as_packed_ones_do():
    rng = np.random.default_rng(0)
    for high in (50, 2**62):  # packed with positions, then too wide to pack
        keys = rng.integers(0, high, 5000, dtype=np.int64)
        positions, sorted_keys = _sort_with_positions(keys)
        expected = np.argsort(keys, kind="stable")
        np.testing.assert_array_equal(positions, expected)
        np.testing.assert_array_equal(sorted_keys, keys[expected])
