"""Classifiers that score records by how likely they are to be included."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.naive_bayes import MultinomialNB
from sklearn.svm import LinearSVC

__all__ = ["CLASSIFIERS", "classifier_make", "classifier_scores"]

CLASSIFIERS = ("svm", "nb")


def classifier_make(name: str, params: dict[str, Any] | None = None, *, seed: int = 0):
    """A fresh scikit-learn classifier: ``"svm"`` LinearSVC or ``"nb"`` MultinomialNB.

    Both are the classifiers of ASReview LAB's "ultra" models (van de Schoot et al. 2021). The
    seed fixes liblinear's coordinate order, the only randomness either has.
    """
    params = dict(params or {})
    if name == "svm":
        return LinearSVC(random_state=seed, **params)
    if name == "nb":
        return MultinomialNB(**params)
    raise ValueError(f"unknown classifier {name!r}; known: {', '.join(CLASSIFIERS)}")


def classifier_scores(classifier, features) -> np.ndarray:
    """Relevance scores, higher meaning more likely included; only their order matters.

    The SVM's signed distance to the hyperplane (``decision_function``, computed directly:
    scikit-learn's input checks cost more than the product on a few hundred records, and the
    ranker scores after every label), or Naive Bayes' probability of class 1.
    """
    if isinstance(classifier, LinearSVC):
        return np.asarray(features @ classifier.coef_.ravel()).ravel() + classifier.intercept_[0]
    return classifier.predict_proba(features)[:, 1]
