"""Text features for ranking: TF-IDF over title and abstract.

The vectoriser is fitted once on every record of the review (labelled or not), as ASReview does:
the vocabulary and idf weights then do not move between retrains, so a retrain only refits the
classifier on rows of a matrix computed once.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer

__all__ = ["record_text", "record_texts", "tfidf_features"]


def record_text(title: str | None, abstract: str | None) -> str:
    """The text a record is ranked on: title and abstract joined by a space.

    Missing parts count as empty, as in ASReview's ``TextMerger`` (title and abstract columns,
    separator " ").
    """
    return f"{title or ''} {abstract or ''}"


def record_texts(titles: Iterable[str | None], abstracts: Iterable[str | None]) -> list[str]:
    """:func:`record_text` for parallel sequences of titles and abstracts."""
    return [record_text(t, a) for t, a in zip(titles, abstracts, strict=True)]


def tfidf_features(texts: Sequence[str], params: dict[str, Any] | None = None) -> sp.csr_matrix:
    """Fit scikit-learn's TF-IDF (Salton & Buckley 1988 weighting) on ``texts``; one row each.

    ``params`` are ``TfidfVectorizer`` keyword arguments (a preset's ``features``). With
    ``max_df`` below 1 and very few records every term can be pruned; then the vectoriser is
    refitted without the pruning so a tiny review still gets features instead of an error.
    """
    params = dict(params or {})
    if not texts:
        return sp.csr_matrix((0, 0))
    try:
        return TfidfVectorizer(**params).fit_transform(texts).tocsr()
    except ValueError:
        # Empty vocabulary: all records blank, or max_df/min_df pruned everything on a handful
        # of records. An all-zero matrix keeps the ranker working (it then keeps plain order).
        params.pop("max_df", None)
        params.pop("min_df", None)
        try:
            return TfidfVectorizer(**params).fit_transform(texts).tocsr()
        except ValueError:
            return sp.csr_matrix((len(texts), 1))
