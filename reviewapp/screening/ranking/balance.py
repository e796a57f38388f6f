"""Sample weights that let a classifier learn from a few includes among many excludes."""

from __future__ import annotations

import numpy as np

__all__ = ["balanced_sample_weight"]


def balanced_sample_weight(labels: np.ndarray, ratio: float) -> np.ndarray:
    """ASReview's "balanced" sample weight (asreview/models/balancers.py, ASReview LAB 2.x/3.x).

    Each include weighs 1 and each exclude ``n_includes / (ratio * n_excludes)``, so the
    excludes together weigh ``1/ratio`` of the includes; the weights are then scaled to sum to
    the number of samples so the classifier's regularisation strength keeps its meaning.
    ``ratio`` 1 is scikit-learn's class_weight="balanced" up to that scaling.
    """
    y = np.asarray(labels)
    n_pos = int(np.count_nonzero(y == 1))
    n_neg = int(np.count_nonzero(y == 0))
    if n_pos == 0 or n_neg == 0 or n_pos + n_neg != len(y):
        raise ValueError("balanced weights need labels 0 and 1, each at least once")
    weights = np.where(y == 1, 1.0, n_pos / (ratio * n_neg))
    return weights * (len(y) / weights.sum())
