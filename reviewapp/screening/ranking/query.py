"""Query strategies: which unlabelled record to serve next."""

from __future__ import annotations

import numpy as np

__all__ = ["max_query"]


def max_query(scores: np.ndarray, candidates: np.ndarray) -> np.ndarray:
    """ASReview's "max" strategy: ``candidates`` ordered by descending score.

    Equal scores keep the candidates' given order (stable sort, as ASReview 3 does), so a
    ranking is reproducible and a tie never depends on the sort algorithm.
    """
    candidates = np.asarray(candidates, dtype=np.intp)
    return candidates[np.argsort(-scores[candidates], kind="stable")]
