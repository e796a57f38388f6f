"""The ranker: features fitted once per review, classifier refitted on every new label set."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp
import sklearn

from reviewapp.screening.ranking.balance import balanced_sample_weight
from reviewapp.screening.ranking.classifiers import classifier_make, classifier_scores
from reviewapp.screening.ranking.features import tfidf_features
from reviewapp.screening.ranking.presets import DEFAULT_PRESET, Preset, preset_get
from reviewapp.screening.ranking.query import max_query

__all__ = ["Ranker"]


class Ranker:
    """Rank unlabelled records by predicted relevance (ASReview's active-learning cycle).

    ``Ranker(preset, seed=...).fit(texts, labelled_indices, labels)`` then
    ``rank(unlabelled_indices)``. ``texts`` holds one string per record of the review (see
    :func:`~reviewapp.screening.ranking.features.record_text`); indices are 0-based positions in
    it. The TF-IDF matrix is computed on the first ``fit`` and reused while later calls pass the
    same texts, so retraining after each decision only refits the classifier.

    Until the labels contain at least one include and one exclude there is nothing to learn
    from: ``scores_`` stays None and ``rank`` returns the records in the order given (the plain
    order of the review), the cold start of van de Schoot et al. 2021.
    """

    def __init__(self, preset: str | Preset = DEFAULT_PRESET, *, seed: int = 0) -> None:
        self.preset = preset_get(preset) if isinstance(preset, str) else preset
        if self.preset.query != "max":
            raise ValueError(f"unknown query strategy {self.preset.query!r}; known: max")
        self.seed = seed
        self.features_: sp.csr_matrix | None = None
        self.scores_: np.ndarray | None = None
        self.training_size_ = 0
        self._texts_key: tuple[int, int] | None = None

    def features_fit(self, texts: Sequence[str]) -> sp.csr_matrix:
        """Feature matrix of ``texts``, computed once and reused while the texts are the same."""
        key = (len(texts), hash(tuple(texts)))
        if self.features_ is None or key != self._texts_key:
            self.features_ = tfidf_features(texts, self.preset.features)
            self._texts_key = key
        return self.features_

    def fit(self, texts: Sequence[str], labelled_indices, labels) -> Ranker:
        """Train on the labelled records and score every record; returns self.

        ``labels`` are 1 (include) and 0 (exclude), parallel to ``labelled_indices``.
        """
        return self.fit_features(self.features_fit(texts), labelled_indices, labels)

    def fit_features(self, features: sp.csr_matrix, labelled_indices, labels) -> Ranker:
        """:meth:`fit` on a feature matrix already built for the review's records (one row per
        record, e.g. by :func:`~reviewapp.screening.ranking.features.tfidf_from_tokens` from
        words kept in the database); returns self."""
        if features is not self.features_:
            self.features_ = features
            self._texts_key = None  # no longer the matrix of the texts last given to fit
        idx = np.asarray(labelled_indices, dtype=np.intp).reshape(-1)
        y = np.asarray(labels, dtype=np.int64).reshape(-1)
        if idx.shape != y.shape:
            raise ValueError("labelled_indices and labels differ in length")
        if idx.size and (idx.min() < 0 or idx.max() >= features.shape[0]):
            raise ValueError(f"labelled indices must lie in 0..{features.shape[0] - 1}")
        if not np.isin(y, (0, 1)).all():
            raise ValueError("labels must be 0 or 1")
        self.training_size_ = int(idx.size)
        if not (y == 1).any() or not (y == 0).any():
            self.scores_ = None
            return self
        classifier = classifier_make(
            self.preset.classifier, self.preset.classifier_params, seed=self.seed
        )
        weights = (
            None
            if self.preset.balance_ratio is None
            else balanced_sample_weight(y, self.preset.balance_ratio)
        )
        # The matrix and labels were checked above; scikit-learn's own validation would repeat
        # that on every retrain, a large share of a retrain's time on small reviews.
        with sklearn.config_context(assume_finite=True, skip_parameter_validation=True):
            classifier.fit(features[idx], y, sample_weight=weights)
            self.scores_ = classifier_scores(classifier, features)
        return self

    @property
    def is_trained(self) -> bool:
        """Whether the last ``fit`` saw both an include and an exclude."""
        return self.scores_ is not None

    def rank(self, unlabelled_indices) -> np.ndarray:
        """``unlabelled_indices`` most-likely-relevant first (query "max"), as an index array."""
        candidates = np.asarray(unlabelled_indices, dtype=np.intp).reshape(-1)
        if self.scores_ is None:
            return candidates.copy()
        return max_query(self.scores_, candidates)
