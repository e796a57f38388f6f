"""Screening-performance metrics of an order, computed as asreview-insights 1.6 computes them.

Every function takes the labels (1 include, 0 exclude) in the order the records were screened,
*without the prior records* (asreview-insights' default ``priors=False``), so the model gets no
credit for the records it was given.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["recall_at", "rrf", "wss"]


def _labels(labels_in_order: ArrayLike) -> np.ndarray:
    y = np.asarray(labels_in_order, dtype=np.int64).reshape(-1)
    if y.size == 0 or not np.isin(y, (0, 1)).all():
        raise ValueError("need a non-empty sequence of 0/1 labels")
    if y.sum() == 0:
        raise ValueError("need at least one include after the priors")
    return y


def _at_or_before(x: np.ndarray, y: np.ndarray, intercept: float) -> float:
    # The value at the last x <= intercept: asreview-insights' _slice_metric, kept verbatim in
    # its float arithmetic so results agree to the last digit with ASReview's own reports.
    i = int(np.searchsorted(x, intercept, side="right"))
    return float(y[i - 1]) if i > 0 else 0.0


def wss(labels_in_order: ArrayLike, recall: float = 0.95) -> float:
    """Work Saved over Sampling at ``recall`` (Cohen et al. 2006, JAMIA 13:206-219).

    Cohen's WSS@R is the share of records a reviewer need not read to reach recall R, minus the
    share random order would save, 1 - R. asreview-insights (``_wss_values``) computes it as
    (position at which random order finds the k-th include - position at which this order
    finds it) / number of records, with k the largest include count with k / n_includes <= R,
    and random order's includes spread evenly (``round(linspace(0, n_inc, n))``). For example,
    with 10 records, includes at positions 1, 2 and 10 and R = 0.95, k = 2 (2/3 <= 0.95 < 3/3):
    this order finds the 2nd include at index 1, random order at index 5, so WSS = 0.4.

    Note that k rounds down (recall at most R), while Cohen's "recall of at least R" would
    round up: with 16 includes WSS@95 is taken at the 15th, not the 16th. We follow
    asreview-insights so our numbers compare with ASReview's published ones.
    """
    y = _labels(labels_in_order)
    n, n_inc = y.size, int(y.sum())
    found = np.cumsum(y)
    found_random = np.round(np.linspace(0, n_inc, n))
    k = np.arange(1, n_inc + 1)
    gained = np.searchsorted(found_random, k) - np.searchsorted(found, k)
    return _at_or_before(k / n_inc, gained / n, recall)


def recall_at(labels_in_order: ArrayLike, screened: float) -> float:
    """Recall after screening the share ``screened`` of the records (asreview-insights'
    ``recall`` metric): includes found among the first floor(screened * n) records / includes.
    """
    y = _labels(labels_in_order)
    n = y.size
    x = np.arange(1, n + 1) / n
    return _at_or_before(x, np.cumsum(y) / y.sum(), screened)


def rrf(labels_in_order: ArrayLike, screened: float = 0.10) -> float:
    """RRF@10, Relevant Records Found after screening 10% (van de Schoot et al. 2021, Nat Mach
    Intell 3:125-133), as a proportion of all includes: :func:`recall_at` at 0.10.
    """
    return recall_at(labels_in_order, screened)
